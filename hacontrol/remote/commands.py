"""The commands that control Central on each platform, in one place.

Defaults come from the vendor's documentation (central_ha, install_central): on Linux
``systemctl stop|start|restart mmcentral``, ``mmcentrald -v``, the installer's ``./install`` run in
its folder; on Windows ``mmcentral.exe -stop`` / ``-start`` run by the full path of the executable
that Central's service runs (``{exe}``, found on the host). A member may override any of them (its
``commands`` setting); that is an administrator's decision, audited with the old and new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class PlatformCommands:
    """Command lines for one platform.

    ``status`` exits 0 while Central runs; ``started`` prints when it started (systemd's
    ``@SECONDS``); ``install`` runs inside the installer's extracted folder on Linux and names
    ``{installer}`` on Windows; ``{exe}`` is Central's executable as its service runs it.
    """

    stop: str
    start: str
    restart: str
    status: str
    started: str
    version: str
    clock: str
    install: str

    @classmethod
    def for_platform(cls, platform: str, overrides: dict | None = None) -> PlatformCommands:
        """The defaults for ``platform`` with ``overrides`` applied (see :meth:`check_overrides`)."""
        base = WINDOWS if platform == "windows" else LINUX
        return replace(base, **{k: v for k, v in (overrides or {}).items() if v})

    @classmethod
    def names(cls, platform: str = "linux") -> list[str]:
        return [f.name for f in fields(cls) if platform != "windows" or f.name in WINDOWS_OVERRIDABLE]

    @classmethod
    def check_overrides(cls, platform: str, overrides: object) -> None:
        """Refuse overrides that are not one-line command texts for known names."""
        if overrides in (None, ""):
            return
        if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
            raise ValueError('give a JSON object of command lines, e.g. {"status": "systemctl is-active mmcentral"}')
        known = cls.names(platform)
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown command names: {', '.join(unknown)}; known: {', '.join(known)}")
        if any(re.search(r"[\r\n\x00]", value) for value in overrides.values()):
            raise ValueError("a command is one line")

    def is_running(self, exit_code: int) -> bool:
        """Read the status command's answer: exit 0 (systemctl is-active, LSB) means running."""
        return exit_code == 0


LINUX = PlatformCommands(
    stop="systemctl stop mmcentral",
    start="systemctl start mmcentral",
    restart="systemctl restart mmcentral",
    status="systemctl is-active mmcentral",
    started="systemctl show mmcentral --property=ActiveEnterTimestamp --value --timestamp=unix",
    # install_central: "mmcentrald, usually in /usr/sbin or /usr/local/sbin", which a non-root
    # login's PATH lacks.
    version="PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin mmcentrald -v",
    clock="date +%s.%N",
    # install_central: "tar -xzvf micetro-central-VERSION.linux.x64.tgz; cd micetro-central-VERSION.linux.x64;
    # ./install". Run in that folder with stdin closed, so a question can never hold it up.
    install="./install </dev/null",
)
WINDOWS = PlatformCommands(
    # central_ha (Windows): "mmcentral.exe -stop" / "mmcentral.exe -start" (the vendor's text prints
    # an en-dash; the flag is a hyphen), run by full path: a WinRM session's PATH does not hold it.
    stop='"{exe}" -stop',
    start='"{exe}" -start',
    restart="",  # the vendor's two commands: stop, then start (only once the stop worked)
    status="",
    started="",
    version='"{exe}" -v',
    clock="",
    install='"{installer}" /S',
)
WINDOWS_OVERRIDABLE = ("stop", "start", "restart", "version", "install")

VERSION = re.compile(r"\d+(?:\.\d+)+")


def parse_version(output: str) -> str:
    """The first dotted version number in a program's output ('' when there is none)."""
    found = VERSION.search(output)
    return found.group(0) if found else ""


def parse_clock(output: str) -> float:
    """Seconds since the epoch from the clock command (Linux prints seconds, Windows ms)."""
    value = float(output.strip())
    return value / 1000 if value > 1e11 else value


def parse_systemd_timestamp(output: str) -> float | None:
    """systemd's ``--timestamp=unix`` value ('@1732631000'); None when the unit never started."""
    text = output.strip()
    if text.startswith("@"):
        try:
            value = float(text[1:])
        except ValueError:
            return None
        return value or None
    return None


def free_kilobytes(output: str) -> int | None:
    """The smallest free space in ``df -Pk`` output, in KiB."""
    sizes = [int(columns[3]) for line in output.splitlines()[1:]
             if len(columns := line.split()) >= 6 and columns[3].isdigit()]
    return min(sizes) if sizes else None
