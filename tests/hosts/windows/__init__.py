"""A Windows host reachable over WS-Management, for tests.

    from tests.hosts.windows import WindowsHost, WinRMServer, windows_installer
    host = WindowsHost(tmp_path / "win1")
    server = WinRMServer(host, "127.0.4.1").start()
    ...
    server.stop()

See host.py (the machine), wsman.py (the listener), cmdshell.py / programs.py (cmd.exe, sc.exe, ...),
ps/ (the PowerShell subset) and README.md for the supported surface and the sources of every rule.
"""
from .central import CentralService, TrivialCentral, simulator_available, simulator_factory
from .host import WindowsHost, windows_installer
from .wsman import WinRMServer

__all__ = ["WindowsHost", "WinRMServer", "windows_installer", "CentralService", "TrivialCentral",
           "simulator_factory", "simulator_available"]
