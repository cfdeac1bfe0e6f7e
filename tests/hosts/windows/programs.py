"""Native programs of the emulated host: sc.exe, cmd.exe, powershell.exe, hostname.exe, where.exe,
whoami.exe, fsutil.exe, Central's mmcentral.exe and the Central installer.

sc.exe sources:
* https://learn.microsoft.com/windows-server/administration/windows-commands/sc-query (and sc-queryex,
  sc-qc, sc-start, sc-stop, sc-getkeyname, sc-getdisplayname; the 2008 R2 pages dd228922, dd228921,
  cc742055, cc742082): ``<servicename>`` "Specifies the service name returned by the getkeyname
  operation"; the remarks list the fields shown (SERVICE_NAME, TYPE, STATE, WIN32_EXIT_CODE,
  SERVICE_EXIT_CODE, CHECKPOINT, WAIT_HINT; queryex adds PID and FLAGS; qc shows TYPE, START_TYPE,
  ERROR_CONTROL, BINARY_PATH_NAME, LOAD_ORDER_GROUP, TAG, DISPLAY_NAME, DEPENDENCIES, SERVICE_START_NAME).
  getkeyname: "ServiceDisplayName is not case-sensitive".
* Numeric codes: MS-SCMR 2.2.49 SERVICE_STATUS_PROCESS (SERVICE_WIN32_OWN_PROCESS 0x10, SERVICE_STOPPED 1,
  START_PENDING 2, STOP_PENDING 3, RUNNING 4) and 2.2.15 QUERY_SERVICE_CONFIG (SERVICE_AUTO_START 2,
  SERVICE_DEMAND_START 3, SERVICE_DISABLED 4; SERVICE_ERROR_NORMAL 1).
* Failures print "[SC] <Function> FAILED <code>:" then the FormatMessage text of the Win32 error, and sc.exe
  exits with that code (System Error Codes pages for the texts).
# ASSUMPTION: column widths, blank lines and trailing spaces of sc.exe's layout are not reproduced on
# learn.microsoft.com; they follow the layout sc.exe prints on Windows Server 2019.
"""
from __future__ import annotations

from . import paths as wp
from .cmdshell import run_batch, run_line, run_slash_c
from .host import WIN32_MESSAGES, read_program
from .proc import ExecContext, split_args


def launch(ctx: ExecContext, path: str, tail: str, argv0: str | None = None) -> int:
    """Start the program at ``path`` (a Windows path) with the command-line tail ``tail``; wait for it."""
    host = ctx.host
    low = path.lower()
    if low.endswith(".bat") or low.endswith(".cmd"):
        return run_batch(ctx, path, tail)
    info = read_program(host.fs.real(path))
    if info is None or info[0] not in PROGRAMS:
        # ASSUMPTION: a file that is not one of this host's programs cannot run (what Windows prints for an
        # image it cannot load: ERROR_EXE_MACHINE_TYPE_MISMATCH 216).
        ctx.err(f"This version of {path} is not compatible with the version of Windows you're running. "
                "Check your computer's system information and then contact the software publisher.\r\n")
        return 216
    name, props = info
    cmdline = f'"{path}"{tail}' if " " in path else f"{path}{tail}"
    pi = host.spawn(wp.leaf(path), path, cmdline, ctx.pid)
    sub = ctx.child(pid=pi.pid)
    try:
        rc = PROGRAMS[name](sub, path, tail, props)
    finally:
        host.exit_process(pi.pid)
    return int(rc) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------- sc.exe
TYPE_CODES = {"Own Process": (0x10, "WIN32_OWN_PROCESS"), "Share Process": (0x20, "WIN32_SHARE_PROCESS")}
STATE_CODES = {"Stopped": (1, "STOPPED"), "Start Pending": (2, "START_PENDING"),
               "Stop Pending": (3, "STOP_PENDING"), "Running": (4, "RUNNING")}
START_CODES = {"Boot": (0, "BOOT_START"), "System": (1, "SYSTEM_START"), "Auto": (2, "AUTO_START"),
               "Manual": (3, "DEMAND_START"), "Disabled": (4, "DISABLED")}


def _sc_fail(ctx: ExecContext, func: str, code: int) -> int:
    ctx.out(f"[SC] {func} FAILED {code}:\r\n\r\n{WIN32_MESSAGES.get(code, 'Unknown error.')}\r\n\r\n")
    return code


def _status_block(svc, state: str | None = None, ex: bool = False, wait_hint: int = 0) -> str:
    state = state or svc.state
    tcode, tname = TYPE_CODES.get(svc.service_type, (0x10, "WIN32_OWN_PROCESS"))
    scode, sname = STATE_CODES.get(state, (1, "STOPPED"))
    lines = ["", f"SERVICE_NAME: {svc.name} ",
             f"        TYPE               : {tcode:x}  {tname}  ",
             f"        STATE              : {scode}  {sname} "]
    if state == "Running":
        lines.append("                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)")
    elif state == "Start Pending":
        lines.append("                                (NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)")
    elif state == "Stop Pending":
        lines.append("                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)")
    ec = svc.exit_code if state == "Stopped" else 0
    lines += [f"        WIN32_EXIT_CODE    : {ec}  (0x{ec:x})",
              "        SERVICE_EXIT_CODE  : 0  (0x0)",
              "        CHECKPOINT         : 0x0",
              f"        WAIT_HINT          : 0x{wait_hint:x}"]
    if ex:
        pid = svc.pid if state != "Stopped" else 0
        lines += [f"        PID                : {pid}", "        FLAGS              : "]
    return "\r\n".join(lines) + "\r\n"


def prog_sc(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    host = ctx.host
    args = split_args(tail)
    if args and args[0].startswith("\\\\"):
        server = args.pop(0)[2:]
        if server not in (".", "localhost") and server.upper() != host.hostname:
            return _rpc_unavailable(ctx)
    if not args or args[0] in ("/?", "-?"):
        ctx.out(SC_USAGE)
        return 0 if args else 1
    op = args[0].lower()
    rest = args[1:]
    if op in ("query", "queryex"):
        names = [a for a in rest if "=" not in a]
        opts = [a for a in rest if a.endswith("=")]
        if not names or opts:
            return _sc_enum(ctx, op == "queryex", rest)
        svc = host.find_service(names[0])  # a key name; display names are not looked up
        if svc is None:
            return _sc_fail(ctx, "EnumQueryServicesStatus:OpenService", 1060)
        if host.faulted("access_denied"):
            return _sc_fail(ctx, "EnumQueryServicesStatus:OpenService", 5)
        ctx.out(_status_block(svc, ex=(op == "queryex")) + "\r\n")
        return 0
    if op == "qc":
        if not rest:
            ctx.out(SC_USAGE)
            return 1
        svc = host.find_service(rest[0])
        if svc is None:
            return _sc_fail(ctx, "OpenService", 1060)
        tcode, tname = TYPE_CODES.get(svc.service_type, (0x10, "WIN32_OWN_PROCESS"))
        scode, sname = START_CODES.get(svc.start_mode, (3, "DEMAND_START"))
        ctx.out("[SC] QueryServiceConfig SUCCESS\r\n\r\n"
                f"SERVICE_NAME: {svc.name}\r\n"
                f"        TYPE               : {tcode:x}  {tname} \r\n"
                f"        START_TYPE         : {scode}   {sname}\r\n"
                "        ERROR_CONTROL      : 1   NORMAL\r\n"
                f"        BINARY_PATH_NAME   : {svc.path_name}\r\n"
                "        LOAD_ORDER_GROUP   : \r\n"
                "        TAG                : 0\r\n"
                f"        DISPLAY_NAME       : {svc.display_name}\r\n"
                "        DEPENDENCIES       : \r\n"
                f"        SERVICE_START_NAME : {svc.start_name}\r\n")
        return 0
    if op == "start":
        if not rest:
            ctx.out(SC_USAGE)
            return 1
        svc = host.find_service(rest[0])
        if svc is None:
            return _sc_fail(ctx, "OpenService", 1060)
        if host.faulted("access_denied"):
            return _sc_fail(ctx, "OpenService", 5)
        err = host.service_start(svc.name)
        if err:
            return _sc_fail(ctx, "StartService", err)
        # sc.exe returns once StartService has been accepted and prints the then START_PENDING status.
        ctx.out(_status_block(svc, state="Start Pending", ex=True, wait_hint=0x7D0))
        return 0
    if op == "stop":
        if not rest:
            ctx.out(SC_USAGE)
            return 1
        svc = host.find_service(rest[0])
        if svc is None:
            return _sc_fail(ctx, "OpenService", 1060)
        if host.faulted("access_denied"):
            return _sc_fail(ctx, "OpenService", 5)
        if svc.state != "Running":
            return _sc_fail(ctx, "ControlService", 1062)
        err = host.service_stop(svc.name)
        if err:
            return _sc_fail(ctx, "ControlService", err)
        ctx.out(_status_block(svc, state="Stop Pending"))
        return 0
    if op == "getkeyname":
        if not rest:
            ctx.out(SC_USAGE)
            return 1
        svc = host.find_service_by_display(rest[0])
        if svc is None:
            return _sc_fail(ctx, "GetServiceKeyName", 1060)
        ctx.out(f"[SC] GetServiceKeyName SUCCESS\r\nName = {svc.name}\r\n")
        return 0
    if op == "getdisplayname":
        if not rest:
            ctx.out(SC_USAGE)
            return 1
        svc = host.find_service(rest[0])
        if svc is None:
            return _sc_fail(ctx, "GetServiceDisplayName", 1060)
        ctx.out(f"[SC] GetServiceDisplayName SUCCESS\r\nName = {svc.display_name}\r\n")
        return 0
    ctx.out(SC_USAGE)
    # ASSUMPTION: an unknown sc.exe operation prints the usage and exits 1.
    return 1


def _rpc_unavailable(ctx: ExecContext) -> int:
    ctx.out("[SC] OpenSCManager FAILED 1722:\r\n\r\nThe RPC server is unavailable.\r\n\r\n")
    return 1722


def _sc_enum(ctx: ExecContext, ex: bool, opts: list[str]) -> int:
    state = "active"
    for i, a in enumerate(opts):
        if a.lower() == "state=" and i + 1 < len(opts):
            state = opts[i + 1].lower()
    for svc in sorted(list(ctx.host.services.values()), key=lambda s: s.name.lower()):
        running = svc.state != "Stopped"
        if (state == "active" and not running) or (state == "inactive" and running):
            continue
        block = _status_block(svc, ex=ex)
        block = block.replace(f"SERVICE_NAME: {svc.name} \r\n",
                              f"SERVICE_NAME: {svc.name}\r\nDISPLAY_NAME: {svc.display_name}\r\n", 1)
        ctx.out(block)
    return 0


SC_USAGE = ("DESCRIPTION:\r\n        SC is a command line program used for communicating with the\r\n"
            "        Service Control Manager and services.\r\nUSAGE:\r\n"
            "        sc <server> [command] [service name] <option1> <option2>...\r\n")


# ------------------------------------------------------------------------------------------------- others
def prog_hostname(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    # https://learn.microsoft.com/windows-server/administration/windows-commands/hostname
    if split_args(tail):
        ctx.err("sethostname: Use the Network Control Panel Applet to set hostname.\r\n")
        return 1
    ctx.out(ctx.host.hostname + "\r\n")
    return 0


def prog_whoami(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    ctx.out(f"{ctx.host.hostname.lower()}\\{ctx.user.lower()}\r\n")
    return 0


def prog_where(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    """where.exe: "By default, the search is done in the current directory and in the paths specified by the
    PATH environment variable" (https://learn.microsoft.com/windows-server/administration/windows-commands/where).
    Not found: "INFO: Could not find files for the given pattern(s)." on stderr, exit code 1."""
    import fnmatch
    args = split_args(tail)
    quiet = any(a.lower() == "/q" for a in args)
    pats = [a for a in args if not a.startswith("/")]
    if not pats:
        ctx.err("ERROR: A search pattern must be specified.\r\nType \"WHERE /?\" for usage.\r\n")
        return 2
    fs = ctx.host.fs
    exts = [e.lower() for e in (ctx.env.get("PATHEXT") or "").split(";") if e]
    dirs = [ctx.cwd] + [d for d in (ctx.env.get("PATH") or "").split(";") if d]
    found = []
    for pat in pats:
        for d in dirs:
            try:
                real = fs.real(fs.full(d.strip('"'), ctx.cwd))
                names = sorted(p.name for p in real.iterdir() if p.is_file())
            except (OSError, wp.WinPathError):
                continue
            for n in names:
                ok = fnmatch.fnmatch(n.lower(), pat.lower()) or (
                    "." not in pat and any(fnmatch.fnmatch(n.lower(), pat.lower() + e) for e in exts))
                if ok:
                    p = wp.join(fs.display(fs.full(d.strip('"'), ctx.cwd)), n)
                    if p not in found:
                        found.append(p)
    if not found:
        if not quiet:
            ctx.err("INFO: Could not find files for the given pattern(s).\r\n")
        return 1
    if not quiet:
        for p in found:
            ctx.out(p + "\r\n")
    return 0


def prog_fsutil(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    """fsutil volume diskfree <volume>
    (https://learn.microsoft.com/windows-server/administration/windows-commands/fsutil-volume).
    # ASSUMPTION: the Windows Server 2019 (1809) output layout "Total # of free bytes        : N"."""
    args = split_args(tail)
    if len(args) >= 3 and args[0].lower() == "volume" and args[1].lower() == "diskfree":
        vol = args[2].rstrip("\\").rstrip(":").upper()
        if not ctx.host.fs.has_drive(vol):
            ctx.out("Error:  The system cannot find the path specified.\r\n")
            return 3
        free, total = ctx.host.fs.free_bytes(vol)
        ctx.out(f"Total # of free bytes        : {free}\r\nTotal # of bytes             : {total}\r\n"
                f"Total # of avail free bytes  : {free}\r\n")
        return 0
    ctx.out("---- Commands Supported ----\r\n\r\nvolume            Volume management\r\n")
    return 1


def prog_cmd(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    """cmd.exe [/s] [/c|/k] string (cmd page: /s "strip the first and last quotes around <string>")."""
    s = tail
    strip_s = False
    i = 0
    while True:
        while i < len(s) and s[i] in " \t":
            i += 1
        if i < len(s) and s[i] == "/":
            j = i + 1
            while j < len(s) and s[j] not in " \t/\"":
                j += 1
            sw = s[i + 1: j].lower()
            i = j
            if sw in ("c", "k", "r"):
                rest = s[i:]
                if strip_s:
                    t = rest.lstrip()
                    if t.startswith('"'):
                        last = t.rfind('"')
                        rest = t[1:last] + t[last + 1:]
                    from .cmdshell import _Exit
                    try:
                        return run_line(ctx, rest)
                    except _Exit as e:
                        return e.code
                return run_slash_c(ctx, rest)
            if sw == "s":
                strip_s = True
            continue
        break
    # ASSUMPTION: an interactive cmd.exe reads command lines from stdin and runs them (no banner/prompt).
    rc = 0
    while True:
        line = ctx.stdin.read_line()
        if line is None:
            return rc
        text = line.decode(ctx.codec, "replace").strip()
        if text.lower() == "exit":
            return rc
        if text:
            rc = run_slash_c(ctx, text)


def prog_powershell(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    from .ps.host import powershell_main
    return powershell_main(ctx, tail)


def prog_mmcentral(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    """Central's executable.  Options from the vendor's running_micetro.rst ("mmcentral –i/–u/–start/–stop/
    –v/–h"; the page prints an en dash, so both '-' and '–' are accepted) and central_ha.rst
    ("mmcentral.exe –stop" / "mmcentral.exe –start" restart Central from the command line).
    # ASSUMPTION (undocumented): -start/-stop print nothing and exit 0 on success; on failure they print
    # "<product>: <Win32 message>" on stderr and exit with the Win32 error code; -v prints
    # "<product> version <version>"; switches are case-insensitive."""
    host = ctx.host
    args = split_args(tail)
    product = props.get("product") or host.display_name
    version = props.get("version", "")
    if not args:
        ctx.out(_mm_usage(product))
        return 1
    sw = args[0].lstrip("-\u2013/").lower()
    if sw in ("v", "version"):
        ctx.out(f"{product} version {version}\r\n")
        return 0
    if sw in ("h", "?", "help"):
        ctx.out(_mm_usage(product))
        return 0
    svc = host.central_service
    if sw in ("start", "stop"):
        if svc is None:
            ctx.err(f"{product}: {WIN32_MESSAGES[1060]}\r\n")
            return 1060
        err = host.service_start(svc.name) if sw == "start" else host.service_stop(svc.name)
        if err:
            ctx.err(f"{product}: {WIN32_MESSAGES.get(err, 'Unknown error.')}\r\n")
            return err
        return 0
    if sw == "i":
        if svc is None:
            host._register_central_service()
        return 0
    if sw == "u":
        if svc is not None:
            if svc.state == "Running":
                host.service_stop(svc.name)
            host.services.pop(svc.name.casefold(), None)
        return 0
    ctx.out(_mm_usage(product))
    return 1


def _mm_usage(product: str) -> str:
    return (f"{product}\r\nUsage: mmcentral [-i | -u | -start | -stop | -v | -h]\r\n"
            "  -i      Installs the service\r\n  -u      Uninstalls the service\r\n"
            "  -start  Starts the service\r\n  -stop   Stops the service\r\n"
            "  -v      Displays version information\r\n  -h      Displays this help\r\n")


def prog_installer(ctx: ExecContext, path: str, tail: str, props: dict) -> int:
    """The Central installer stand-in.
    # ASSUMPTION: NSIS conventions (the vendor does not document its switches): "/S" (case-sensitive) runs
    # silently, "/D=<dir>" (last, unquoted) sets the target folder; without /S the wizard waits for input."""
    silent = False
    target = None
    t = tail.strip()
    if "/D=" in t:
        t, target = t.split("/D=", 1)
        target = target.strip()
    for a in split_args(t):
        if a == "/S":
            silent = True
    return ctx.host.run_installer(ctx, props.get("version", "0"), silent, target)


PROGRAMS = {
    "sc": prog_sc,
    "cmd": prog_cmd,
    "powershell": prog_powershell,
    "hostname": prog_hostname,
    "whoami": prog_whoami,
    "where": prog_where,
    "fsutil": prog_fsutil,
    "mmcentral": prog_mmcentral,
    "micetro-central-installer": prog_installer,
}
