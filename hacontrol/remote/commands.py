"""The commands that control Central on each platform, in one place.

Defaults come from the vendor's documentation; a member may override any of them (its
``commands`` setting). No command ever carries text a user typed into a form.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

WINDOWS_SERVICE = "Men and Mice Central"


@dataclass(frozen=True)
class PlatformCommands:
    """Command lines for one platform; ``running_marker`` tells a running service's status."""

    stop: str
    start: str
    restart: str
    status: str
    version: str
    clock: str
    free_space: str
    install: str
    # {path} is the member's preferences path, quoted here; never a value typed into a form field
    # other than that admin-only path, which is validated to hold no line break.
    read_file: str
    running_marker: str = ""

    @classmethod
    def for_platform(cls, platform: str, overrides: dict | None = None) -> PlatformCommands:
        """The defaults for ``platform`` with ``overrides`` (unknown names refused)."""
        base = WINDOWS if platform == "windows" else LINUX
        overrides = {k: v for k, v in (overrides or {}).items() if v}
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown command names: {', '.join(sorted(unknown))}")
        return replace(base, **overrides)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "running_marker"]

    def is_running(self, exit_code: int, output: str) -> bool:
        """Read the status command's answer: exit 0 on Linux, 'RUNNING' in sc's output on Windows."""
        if self.running_marker:
            return self.running_marker in output
        return exit_code == 0


LINUX = PlatformCommands(
    stop="systemctl stop mmcentral",
    start="systemctl start mmcentral",
    restart="systemctl restart mmcentral",
    status="systemctl is-active mmcentral",
    version="mmcentrald -v",
    clock="date +%s.%N",
    free_space="df -Pk /var/mmsuite /tmp",
    # {installer} is a quoted path hacontrol chose itself on the host, never user input.
    install='dir=$(mktemp -d) && tar -xzf {installer} -C "$dir" && cd "$dir"/* && ./install --unattended',
    read_file="cat -- {path}",
)
WINDOWS = PlatformCommands(
    stop="mmcentral -stop",
    start="mmcentral -start",
    restart="mmcentral -stop && mmcentral -start",
    status=f'sc query "{WINDOWS_SERVICE}"',
    version="mmcentral -v",
    clock='powershell -NoProfile -Command "[DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()"',
    free_space="fsutil volume diskfree C:",
    install='"{installer}" /S',
    read_file='type "{path}"',
    running_marker="RUNNING",
)


def parse_clock(output: str) -> float:
    """Seconds since the epoch from the clock command (Linux prints seconds, Windows ms)."""
    value = float(output.strip())
    return value / 1000 if value > 1e11 else value


def free_kilobytes(output: str) -> int | None:
    """The smallest free space in the free-space command's output, in KiB (``df -Pk`` lines,
    or fsutil's 'Total free bytes')."""
    import re

    windows = re.search(r"Total free bytes\s*:\s*([\d,.]+)", output)
    if windows:
        return int(re.sub(r"[^\d]", "", windows.group(1))) // 1024
    sizes = [int(fields[3]) for line in output.splitlines()[1:] if len(fields := line.split()) >= 6 and fields[3].isdigit()]
    return min(sizes) if sizes else None
