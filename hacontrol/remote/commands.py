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
    # {installer} is a path hacontrol chose itself on the host, never user input.
    install="cd /tmp && tar -xzf {installer} && cd \"$(tar -tzf {installer} | head -1 | cut -d/ -f1)\" && ./install --unattended",
)
WINDOWS = PlatformCommands(
    stop="mmcentral -stop",
    start="mmcentral -start",
    restart="mmcentral -stop && mmcentral -start",
    status=f'sc query "{WINDOWS_SERVICE}"',
    version="mmcentral -v",
    clock='powershell -NoProfile -Command "[DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()"',
    free_space="fsutil volume diskfree C:",
    install="{installer} /S",
    running_marker="RUNNING",
)


def parse_clock(output: str) -> float:
    """Seconds since the epoch from the clock command (Linux prints seconds, Windows ms)."""
    value = float(output.strip())
    return value / 1000 if value > 1e11 else value
