"""The one error every action raises when it refuses: it names the check that failed."""

from __future__ import annotations


class Refused(Exception):
    """An action was refused. ``check`` names the rule that failed (stable, for scripts and the
    API); the message says it in words an administrator can act on; ``field`` points a form at
    the input concerned."""

    def __init__(self, check: str, message: str, *, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.check = check
        self.message = message
        self.field = field
        self.status = status

    def __str__(self) -> str:
        return self.message
