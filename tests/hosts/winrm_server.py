"""A WS-Management endpoint that stands in for a Windows Central host.

It speaks the SOAP that pywinrm sends over HTTP with Basic auth (Create a shell, Command,
Receive, Signal, Delete) so the client's real wire code runs, and it emulates the few commands
hacontrol uses on Windows: ``mmcentral -stop|-start|-v``, ``sc query``, the clock, and the
PowerShell scripts of hacontrol's file transfer, on a folder that plays the C: drive.
No real Windows host is involved.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
PREFERENCES = r"C:\ProgramData\Men and Mice\Central\preferences.cfg"


@dataclass
class WindowsHost:
    """The emulated host's state: its C: drive folder, service state and version."""

    root: Path
    username: str = "Administrator"
    password: str = "Secret-pass-1"
    running: bool = True
    version: str = "11.0.3"
    fail_start: bool = False
    log: list[str] = field(default_factory=list)

    def path(self, windows_path: str) -> Path:
        drive, _, rest = windows_path.partition(":\\")
        return self.root / drive.upper() / Path(*rest.split("\\"))

    @property
    def preferences(self) -> Path:
        return self.path(PREFERENCES)

    def execute(self, command: str) -> tuple[int, str, str]:
        """Run one emulated command line: (exit code, stdout, stderr); `a && b` as cmd does."""
        if " && " in command:
            out = err = ""
            for part in command.split(" && "):
                code, more_out, more_err = self.execute(part)
                out, err = out + more_out, err + more_err
                if code:
                    return code, out, err
            return 0, out, err
        line = command.strip()
        if line == "mmcentral -stop":
            self.running = False
            self.log.append("stop")
            return 0, "Men and Mice Central stopped.\r\n", ""
        if line == "mmcentral -start":
            if self.fail_start:
                self.log.append("start-failed")
                return 1, "", "The Men and Mice Central service could not be started.\r\n"
            self.running = True
            self.log.append("start")
            return 0, "Men and Mice Central started.\r\n", ""
        if line == "mmcentral -v":
            return 0, f"Men&Mice Central version {self.version}\r\n", ""
        if line.startswith('sc query "Men and Mice Central"'):
            state = "4  RUNNING" if self.running else "1  STOPPED"
            return 0, f"SERVICE_NAME: mmcentral\r\n        STATE              : {state}\r\n", ""
        if line.startswith('type "'):
            try:
                return 0, self.path(line[6:-1]).read_text(), ""
            except FileNotFoundError:
                return 1, "", "The system cannot find the file specified.\r\n"
        if line.startswith("fsutil volume diskfree"):
            return 0, "Total free bytes        : 53,687,091,200 ( 50.0 GB)\r\n", ""
        installer = re.fullmatch(r'"(C:\\[^"]+\.exe)" /S', line)
        if installer:
            version = re.search(rb"VERSION=([\d.]+)", self.path(installer.group(1)).read_bytes())
            self.version, self.running = version.group(1).decode(), True
            self.log.append(f"install-{self.version}")
            return 0, f"Installed Men&Mice Central {self.version}\r\n", ""
        if "ToUnixTimeMilliseconds" in line:
            return 0, f"{int(time.time() * 1000)}\r\n", ""
        encoded = re.search(r"-EncodedCommand (\S+)", line)
        if encoded:
            return self.powershell(base64.b64decode(encoded.group(1)).decode("utf-16-le"))
        word = line.split()[0] if line else ""
        return 1, "", f"'{word}' is not recognized as an internal or external command,\r\n"

    def powershell(self, script: str) -> tuple[int, str, str]:
        """The three script shapes hacontrol's WinRM transport sends for files."""
        literal = r"'((?:[^']|'')*)'"

        def unquote(text: str) -> str:
            return text.replace("''", "'")

        try:
            if match := re.search(rf"ReadAllBytes\({literal}\)", script):
                return 0, base64.b64encode(self.path(unquote(match[1])).read_bytes()).decode() + "\r\n", ""
            if match := re.search(rf"FromBase64String\('([^']*)'\).*Open\({literal}, '(Create|Append)'\)", script, re.S):
                target = self.path(unquote(match[2]))
                with target.open("wb" if match[3] == "Create" else "ab") as handle:
                    handle.write(base64.b64decode(match[1]))
                return 0, "", ""
            if match := re.search(rf"Copy-Item -LiteralPath {literal} -Destination {literal}.*Move-Item -LiteralPath {literal} -Destination {literal}", script, re.S):
                source, backup, temporary, target = (self.path(unquote(m)) for m in match.groups())
                out = ""
                if source.exists():
                    backup.write_bytes(source.read_bytes())
                    out = "backup\r\n"
                temporary.replace(target)
                return 0, out, ""
        except FileNotFoundError as error:
            return 1, "", f"Could not find file '{error.filename}'.\r\n"
        except PermissionError as error:
            return 1, "", f"Access to the path '{error.filename}' is denied.\r\n"
        return 1, "", "The term is not recognized as the name of a cmdlet (emulator)\r\n"


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}">'
        f"<s:Header><a:Action>{action}Response</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{relates_to}</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


class WSManHandler(BaseHTTPRequestHandler):
    # Without this every answer waits ~170 ms on a delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: WinRMServer

    def log_message(self, *args) -> None:  # noqa: ARG002 - keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        host = self.server.host
        expected = base64.b64encode(f"{host.username}:{host.password}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        root = ET.fromstring(payload)
        action = root.findtext("s:Header/a:Action", namespaces=NS) or ""
        message_id = root.findtext("s:Header/a:MessageID", namespaces=NS) or ""
        verb = action.rsplit("/", 1)[-1]
        body = getattr(self, f"on_{verb.lower()}", lambda _root: "")(root)
        answer = envelope(action, message_id, body)
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def on_create(self, _root: ET.Element) -> str:
        shell_id = str(uuid.uuid4()).upper()
        self.server.shells[shell_id] = {}
        return (
            '<x:ResourceCreated xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">'
            f"<w:SelectorSet><w:Selector Name=\"ShellId\">{shell_id}</w:Selector></w:SelectorSet>"
            "</x:ResourceCreated>"
        )

    def on_command(self, root: ET.Element) -> str:
        shell_id = root.findtext(".//w:Selector[@Name='ShellId']", namespaces=NS)
        command = root.findtext(".//rsp:Command", namespaces=NS) or ""
        arguments = root.findtext(".//rsp:Arguments", namespaces=NS)
        line = f"{command} {arguments}" if arguments else command
        command_id = str(uuid.uuid4()).upper()
        with self.server.lock:
            self.server.commands.append(line)
            self.server.shells.setdefault(shell_id, {})[command_id] = self.server.host.execute(line)
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def on_receive(self, root: ET.Element) -> str:
        shell_id = root.findtext(".//w:Selector[@Name='ShellId']", namespaces=NS)
        stream = root.find(".//rsp:DesiredStream", NS)
        command_id = stream.get("CommandId") if stream is not None else ""
        code, out, err = self.server.shells.get(shell_id, {}).get(command_id, (1, "", "no such command"))
        b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
        return (
            "<rsp:ReceiveResponse>"
            f'<rsp:Stream Name="stdout" CommandId="{command_id}">{b64(out)}</rsp:Stream>'
            f'<rsp:Stream Name="stderr" CommandId="{command_id}">{b64(err)}</rsp:Stream>'
            f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/CommandState/Done">'
            f"<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>"
        )

    def on_signal(self, _root: ET.Element) -> str:
        return "<rsp:SignalResponse/>"

    def on_delete(self, root: ET.Element) -> str:
        self.server.shells.pop(root.findtext(".//w:Selector[@Name='ShellId']", namespaces=NS), None)
        return ""


class WinRMServer(ThreadingHTTPServer):
    """The endpoint on ``address:port``; start() serves it from a thread, stop() ends it."""

    daemon_threads = True

    def __init__(self, host: WindowsHost, address: str = "127.0.0.1", port: int = 0):
        super().__init__((address, port), WSManHandler)
        self.host = host
        self.shells: dict[str, dict] = {}
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> WinRMServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
