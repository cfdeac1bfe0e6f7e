"""WS-Management listener (HTTP/HTTPS) serving the Windows Remote Shell operations pywinrm uses.

Protocol sources ([MS-WSMV], https://learn.microsoft.com/openspecs/windows_protocols/ms-wsmv/):
* 3.1.4.5.2 Remote Shells (wst:Create of resource URI .../windows/shell/cmd, options WINRS_NOPROFILE and
  WINRS_CODEPAGE) and the example 4.7.1 (ResourceCreated with the ShellId selector, rsp:Shell body).
* 3.1.4.11 Command (CommandResponse/CommandId; WINRS_SKIP_CMD_SHELL FALSE runs the line through cmd.exe,
  WINRS_CONSOLEMODE_STDIN); the command runs asynchronously.
* 3.1.4.13 Send (rsp:Stream Name="stdin" CommandId=".." End="true" closes stdin).
* 3.1.4.14 Receive: ReceiveResponse streams (base64, 3.1.4.1.31.1 I/O Streams) and rsp:CommandState
  .../CommandState/Running or .../Done with rsp:ExitCode; "If no output is available before the
  wsman:OperationTimeout expires, the server MUST return a WSManFault with the Code attribute equal to
  2150858793" (ERROR_WSMAN_OPERATION_TIMEDOUT; pywinrm protocol.py raises WinRMOperationTimeoutError on it).
* 3.1.4.12 Signal and 2.2.5.6 SignalCodeEnumeration (.../signal/terminate, .../signal/ctrl_c).
* 3.1.4.1.6 OperationTimeout: capped by MaxTimeoutms (2.2.4.10, default 60000).
* 2.2.4.10 ConfigType: MaxEnvelopeSizekb "SHOULD be 500 ... also used to limit the size of client request
  packets"; Windows answers an oversized request with HTTP 413 (the Windows client maps that status to
  ERROR_WSMAN_HTTP_REQUEST_TOO_LARGE_STATUS 0x80338111 "...the request size exceeded the configured
  MaxEnvelopeSize quota"; ansible.windows#620 shows pywinrm getting "Code 413").
* Every response carries a:RelatesTo = the request's a:MessageID (WS-Addressing; pywinrm asserts it in
  close_shell / cleanup_command).
* Authentication: HTTP Basic (RFC 7617) with WWW-Authenticate: Basic realm="WSMAN" on 401.
  AllowUnencrypted (2.2.4.43 ServiceType "AllowUnencrypted"): when false, Basic credentials over plain HTTP
  are refused.  # ASSUMPTION: refused with HTTP 401 (pywinrm reports InvalidCredentialsError), as seen in
  pywinrm issues about Basic with AllowUnencrypted=false.
"""
from __future__ import annotations

import base64
import re
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from . import cmdshell
from .proc import Env, ExecContext, InputPipe, ProcessKilled, StreamBuffer, split_program

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
A_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
A_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
A_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
A_RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
A_SEND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"
A_SIGNAL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
SIG_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
SIG_CTRL_C = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"
SIG_CTRL_BREAK = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break"
STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
ENV_OPEN = ('<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
            'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
            'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
            'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">')
STATUS_CONTROL_C_EXIT = 0xC000013A  # NTSTATUS of a console process ended by CTRL+C

ERROR_WSMAN_OPERATION_TIMEDOUT = 2150858793
ERROR_WSMAN_INVALID_SELECTORS = 2150858813
ERROR_WSMAN_COMMAND_TERMINATED = 2150859212


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_duration(text: Optional[str]) -> Optional[float]:
    """xs:duration such as PT20S / PT60.000S / P0DT0H1M0S."""
    if not text:
        return None
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", text.strip())
    if not m:
        return None
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


class WSManFault(Exception):
    def __init__(self, code: int, subcode: str, reason: str, status: int = 500, value: str = "s:Receiver"):
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.status = status
        self.value = value


class CommandRun:
    def __init__(self, shell: "Shell", command_id: str, line: str, skip_cmd: bool):
        self.shell = shell
        self.id = command_id
        self.line = line
        self.cv = threading.Condition()
        self.stdout = StreamBuffer(self._notify)
        self.stderr = StreamBuffer(self._notify)
        self.stdin = InputPipe()
        self.kill_event = threading.Event()
        self.stdin.kill_event = self.kill_event
        self.done = False
        self.exit_code: Optional[int] = None
        self.terminated = False
        self.skip_cmd = skip_cmd
        self.thread = threading.Thread(target=self._run, name=f"winrm-cmd-{command_id[:8]}", daemon=True)

    def _notify(self):
        with self.cv:
            self.cv.notify_all()

    def _run(self):
        host = self.shell.server.host
        pi = host.spawn("cmd.exe", r"C:\Windows\system32\cmd.exe", r"C:\Windows\system32\cmd.exe /c " + self.line,
                        self.shell.pid)
        ctx = ExecContext(host, self.shell.env.copy(), self.shell.cwd, self.stdin, self.stdout, self.stderr,
                          self.shell.codepage, self.kill_event, pi.pid, self.shell.server.username)
        code = 1
        try:
            if self.skip_cmd:
                prog, tail = split_program(self.line)
                path, why = cmdshell.find_executable(ctx, prog)
                if path is None:
                    # CreateProcess failure: ERROR_FILE_NOT_FOUND
                    raise WSManFault(2, "w:InternalError", "The system cannot find the file specified. ")
                from .programs import launch
                code = launch(ctx, path, tail)
            else:
                code = cmdshell.run_slash_c(ctx, self.line)
        except ProcessKilled:
            code = STATUS_CONTROL_C_EXIT
        except WSManFault:
            code = 2
        except Exception:  # an emulator bug must not look like a hang
            import traceback
            self.stderr.write(("[windows-host-emulator internal error] " + traceback.format_exc()).encode())
            code = 1
        finally:
            host.exit_process(pi.pid)
            with self.cv:
                self.exit_code = int(code) & 0xFFFFFFFF
                self.done = True
                self.cv.notify_all()

    def kill(self):
        self.kill_event.set()
        self.stdin.close()
        self._notify()


class Shell:
    def __init__(self, server: "WinRMServer", shell_id: str, env: Env, cwd: str, codepage: int):
        self.server = server
        self.id = shell_id
        self.env = env
        self.cwd = cwd
        self.codepage = codepage
        self.commands: dict[str, CommandRun] = {}
        self.pid = server.host.spawn("winrshost.exe", r"C:\Windows\system32\winrshost.exe",
                                     r"C:\Windows\system32\winrshost.exe -Embedding", 1396).pid
        self.created = time.time()


class WinRMServer:
    """A WinRM listener for one WindowsHost."""

    def __init__(self, host, address: str, port: int = 0, *, username: str = "Administrator",
                 password: str = "Passw0rd!", https: bool = False, allow_unencrypted: bool = True,
                 max_envelope_kb: int = 500, max_timeout_ms: int = 60000):
        self.host = host
        self.address = address
        self._port = port
        self.username = username
        self.password = password
        self.https = https
        self.allow_unencrypted = allow_unencrypted
        self.max_envelope_kb = max_envelope_kb
        self.max_timeout_ms = max_timeout_ms
        self.commands: list[str] = []
        self.requests: list[str] = []   # actions received, for diagnostics
        self.shells: dict[str, Shell] = {}
        self.lock = threading.RLock()
        self.hang = False
        self.stop_event = threading.Event()
        self.httpd: Optional[ThreadingHTTPServer] = None
        self.thread: Optional[threading.Thread] = None
        self.cert = None
        host.user_dirs(username)
        if https:
            from .certs import Certificate
            self.cert = Certificate(host.hostname, address)

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self.httpd.server_address[1] if self.httpd else self._port

    @property
    def certificate_sha256(self) -> Optional[str]:
        """Lowercase hex SHA-256 of the listener certificate (DER), None for HTTP."""
        return self.cert.sha256 if self.cert else None

    @property
    def certificate_pem(self) -> Optional[bytes]:
        return self.cert.pem if self.cert else None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.address}:{self.port}/wsman"

    def start(self) -> "WinRMServer":
        server = self

        class Handler(WSManHandler):
            winrm = server

        class HTTPServer(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 64

        self.httpd = HTTPServer((self.address, self._port), Handler)
        if self.https:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.cert.cert_file), str(self.cert.key_file))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"winrm-{self.address}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        with self.lock:
            for sh in list(self.shells.values()):
                for c in sh.commands.values():
                    c.kill()
            self.shells.clear()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ operations
    def handle(self, root, headers, client_ip: str) -> str:
        hdr = root.find("s:Header", NS)
        action = (hdr.findtext("a:Action", "", NS) or "").strip()
        msg_id = (hdr.findtext("a:MessageID", "", NS) or "").strip()
        self.requests.append(action.rsplit("/", 1)[-1])
        timeout = parse_duration(hdr.findtext("w:OperationTimeout", None, NS))
        cap = self.max_timeout_ms / 1000.0
        timeout = cap if timeout is None or timeout > cap else timeout
        max_env = hdr.findtext("w:MaxEnvelopeSize", None, NS)
        try:
            max_env = min(int(max_env), self.max_envelope_kb * 1024) if max_env else self.max_envelope_kb * 1024
        except ValueError:
            max_env = self.max_envelope_kb * 1024
        options = {o.get("Name", ""): (o.text or "").strip() for o in hdr.findall("w:OptionSet/w:Option", NS)}
        shell_id = None
        for sel in hdr.findall("w:SelectorSet/w:Selector", NS):
            if (sel.get("Name") or "").lower() == "shellid":
                shell_id = (sel.text or "").strip()
        body = root.find("s:Body", NS)
        resource = (hdr.findtext("w:ResourceURI", "", NS) or "").strip()
        if action == A_CREATE:
            return self.op_create(msg_id, body, options, client_ip, resource)
        shell = self.shells.get(shell_id or "")
        if shell is None:
            raise WSManFault(ERROR_WSMAN_INVALID_SELECTORS, "w:InvalidSelectors",
                             "The WS-Management service cannot process the request because the request contained "
                             "invalid selectors for the resource. ", value="s:Sender")
        if action == A_COMMAND:
            return self.op_command(msg_id, shell, body, options)
        if action == A_RECEIVE:
            return self.op_receive(msg_id, shell, body, timeout, max_env)
        if action == A_SEND:
            return self.op_send(msg_id, shell, body)
        if action == A_SIGNAL:
            return self.op_signal(msg_id, shell, body)
        if action == A_DELETE:
            return self.op_delete(msg_id, shell)
        raise WSManFault(2150858754, "w:ActionNotSupported", "The action is not supported by the service. ",
                         value="s:Sender")

    def _envelope(self, action: str, relates: str, body: str, extra_header: str = "") -> str:
        return (ENV_OPEN + "<s:Header>"
                f"<a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
                "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
                f"<a:RelatesTo>{_esc(relates)}</a:RelatesTo>{extra_header}</s:Header>"
                f"<s:Body>{body}</s:Body></s:Envelope>")

    def op_create(self, msg_id, body, options, client_ip, resource):
        if resource and resource != SHELL_URI:
            raise WSManFault(2150858885, "w:DestinationUnreachable", "The WS-Management service cannot process the "
                             "request. The resource URI is not supported by this emulated host. ", value="s:Sender")
        shell_el = body.find("rsp:Shell", NS) if body is not None else None
        env = Env(self.host.system_env(self.username))
        cwd = f"C:\\Users\\{self.username}"
        if shell_el is not None:
            for v in shell_el.findall("rsp:Environment/rsp:Variable", NS):
                env[v.get("Name")] = v.text or ""
            wd = shell_el.findtext("rsp:WorkingDirectory", None, NS)
            if wd:
                try:
                    full = self.host.fs.full(wd.strip())
                except Exception:
                    full = None
                if not full or not self.host.fs.is_dir(full):
                    raise WSManFault(267, "w:InternalError", "The directory name is invalid. ")
                cwd = self.host.fs.display(full)
        try:
            codepage = int(options.get("WINRS_CODEPAGE") or 437)
        except ValueError:
            codepage = 437
        sid = str(uuid.uuid4()).upper()
        with self.lock:
            self.shells[sid] = Shell(self, sid, env, cwd, codepage)
        addr = f"{'https' if self.https else 'http'}://{self.address}:{self.port}/wsman"
        b = (f"<x:ResourceCreated><a:Address>{addr}</a:Address><a:ReferenceParameters>"
             f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI><w:SelectorSet>"
             f'<w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
             f"</x:ResourceCreated>"
             f"<rsp:Shell><rsp:ShellId>{sid}</rsp:ShellId><rsp:ResourceUri>{SHELL_URI}</rsp:ResourceUri>"
             f"<rsp:Owner>{_esc(self.host.hostname)}\\{_esc(self.username)}</rsp:Owner>"
             f"<rsp:ClientIP>{_esc(client_ip)}</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
             "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
             "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
             "</rsp:Shell>")
        return self._envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", msg_id, b)

    def op_command(self, msg_id, shell: Shell, body, options):
        cl = body.find("rsp:CommandLine", NS) if body is not None else None
        if cl is None:
            raise WSManFault(2150858817, "w:SchemaValidationError", "The SOAP XML in the message does not match the "
                             "corresponding XML schema definition. ", value="s:Sender")
        command = cl.findtext("rsp:Command", "", NS) or ""
        arguments = [a.text or "" for a in cl.findall("rsp:Arguments", NS)]
        line = command.strip() + "".join(" " + a for a in arguments)
        self.commands.append(line)
        skip = options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        cid = str(uuid.uuid4()).upper()
        run = CommandRun(shell, cid, line, skip)
        with self.lock:
            shell.commands[cid] = run
        run.thread.start()
        b = f"<rsp:CommandResponse><rsp:CommandId>{cid}</rsp:CommandId></rsp:CommandResponse>"
        return self._envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse", msg_id, b)

    def _find_command(self, shell: Shell, cid: Optional[str]) -> CommandRun:
        run = shell.commands.get((cid or "").upper()) or shell.commands.get(cid or "")
        if run is None:
            raise WSManFault(ERROR_WSMAN_INVALID_SELECTORS, "w:InvalidSelectors",
                             "The WS-Management service cannot process the request because the request contained "
                             "invalid selectors for the resource. ", value="s:Sender")
        if run.terminated:
            raise WSManFault(ERROR_WSMAN_COMMAND_TERMINATED, "w:InternalError",
                             "The request for the Windows Remote Shell with ShellId "
                             f"{shell.id} failed because the command has been terminated. ")
        return run

    def op_receive(self, msg_id, shell: Shell, body, timeout: float, max_env: int):
        ds = body.find("rsp:Receive/rsp:DesiredStream", NS) if body is not None else None
        cid = ds.get("CommandId") if ds is not None else None
        run = self._find_command(shell, cid)
        deadline = time.monotonic() + timeout
        with run.cv:
            while not (len(run.stdout) or len(run.stderr) or run.done):
                left = deadline - time.monotonic()
                if left <= 0 or self.stop_event.is_set():
                    raise WSManFault(ERROR_WSMAN_OPERATION_TIMEDOUT, "w:TimedOut",
                                     "The WS-Management service cannot complete the operation within the time "
                                     "specified in OperationTimeout.  ")
                run.cv.wait(min(left, 0.5))
            done = run.done
        # Keep the response below the client's MaxEnvelopeSize: base64 grows data by 4/3.
        budget = max(4096, (max_env - 4096) * 3 // 4)
        out = run.stdout.take(budget)
        err = run.stderr.take(max(0, budget - len(out)))
        finished = done and not len(run.stdout) and not len(run.stderr)
        parts = []
        cidx = run.id
        if out or not finished:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cidx}">{base64.b64encode(out).decode()}</rsp:Stream>'
                         if out else f'<rsp:Stream Name="stdout" CommandId="{cidx}"></rsp:Stream>')
        if err:
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cidx}">{base64.b64encode(err).decode()}</rsp:Stream>')
        if finished:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cidx}" End="true"></rsp:Stream>'
                         f'<rsp:Stream Name="stderr" CommandId="{cidx}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:CommandState CommandId="{cidx}" State="{STATE_DONE}">'
                         f"<rsp:ExitCode>{run.exit_code}</rsp:ExitCode></rsp:CommandState>")
        else:
            parts.append(f'<rsp:CommandState CommandId="{cidx}" State="{STATE_RUNNING}"/>')
        b = '<rsp:ReceiveResponse SequenceID="0">' + "".join(parts) + "</rsp:ReceiveResponse>"
        return self._envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", msg_id, b)

    def op_send(self, msg_id, shell: Shell, body):
        streams = body.findall("rsp:Send/rsp:Stream", NS) if body is not None else []
        for st in streams:
            run = self._find_command(shell, st.get("CommandId"))
            data = base64.b64decode(st.text) if st.text else b""
            end = (st.get("End") or "").lower() == "true"
            if (st.get("Name") or "stdin") == "stdin":
                run.stdin.feed(data, end)
        b = "<rsp:SendResponse/>"
        return self._envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse", msg_id, b)

    def op_signal(self, msg_id, shell: Shell, body):
        sig = body.find("rsp:Signal", NS) if body is not None else None
        cid = sig.get("CommandId") if sig is not None else None
        code = (sig.findtext("rsp:Code", "", NS) if sig is not None else "").strip()
        run = shell.commands.get((cid or "").upper())
        if run is not None:
            if code in (SIG_TERMINATE, SIG_CTRL_C, SIG_CTRL_BREAK):
                if not run.done:
                    run.kill()
                if code == SIG_TERMINATE:
                    with self.lock:
                        run.terminated = True
                        shell.commands.pop(run.id, None)
        b = "<rsp:SignalResponse/>"
        return self._envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse", msg_id, b)

    def op_delete(self, msg_id, shell: Shell):
        with self.lock:
            self.shells.pop(shell.id, None)
        for run in list(shell.commands.values()):
            run.kill()
        self.host.exit_process(shell.pid)
        return self._envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", msg_id, "")

    def fault_xml(self, fault: WSManFault, relates: str) -> str:
        b = (f"<s:Fault><s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
             f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">{_esc(fault.reason)}</s:Text></s:Reason>"
             "<s:Detail><f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" "
             f"Code=\"{fault.code}\" Machine=\"{_esc(self.address)}\"><f:Message>{_esc(fault.reason)}</f:Message>"
             "</f:WSManFault></s:Detail></s:Fault>")
        return self._envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates, b)


class WSManHandler(BaseHTTPRequestHandler):
    winrm: WinRMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # else every response waits on delayed ACKs
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def handle(self):
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()
        except (ssl.SSLError, ConnectionError, OSError):
            pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _hang(self):
        srv = self.winrm
        while not srv.stop_event.wait(0.2):
            if not (srv.hang or srv.host.faulted("hang")):
                break
        self.close_connection = True

    def do_POST(self):
        srv = self.winrm
        if srv.hang or srv.host.faulted("hang"):
            # A host that stopped answering: the connection is accepted but no response ever comes.
            self._hang()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.rstrip("/").lower() != "/wsman":
            if length:
                self.rfile.read(length)
            self._send(404)
            return
        auth = self.headers.get("Authorization") or ""
        www = {"WWW-Authenticate": ['Basic realm="WSMAN"', "Negotiate"]}
        if not auth.lower().startswith("basic "):
            if length:
                self.rfile.read(length)
            self._send(401, headers=www)
            return
        try:
            user, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except Exception:
            user, pw = "", None
        ok_user = user.split("\\")[-1].lower() == srv.username.lower() and pw == srv.password
        if not ok_user or (not srv.https and not srv.allow_unencrypted):
            if length:
                self.rfile.read(length)
            self._send(401, headers=www)
            return
        if length > srv.max_envelope_kb * 1024:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            self._send(413)
            return
        data = self.rfile.read(length)
        relates = ""
        try:
            root = ET.fromstring(data)
            relates = (root.findtext("s:Header/a:MessageID", "", NS) or "").strip()
            reply = srv.handle(root, self.headers, self.client_address[0])
            self._send(200, reply.encode("utf-8"))
        except WSManFault as f:
            self._send(f.status, srv.fault_xml(f, relates).encode("utf-8"))
        except ET.ParseError:
            f = WSManFault(2150858817, "w:SchemaValidationError", "The SOAP XML in the message does not match the "
                           "corresponding XML schema definition. ", value="s:Sender")
            self._send(400, srv.fault_xml(f, relates).encode("utf-8"))
