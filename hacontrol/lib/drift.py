"""Configuration drift: the settings every member of a cluster must share, compared.

Members share one Central database (central_ha: the vendor's procedure copies the primary's
preferences.cfg to each new member for that reason), the heartbeat timing (ha_tweaks_central),
the preferences format and Central's version (the update procedure ends with every member on the
same version). A member that drifted from the others breaks HA silently; this says which setting
and which members, so an administrator can act. Secret values are compared by digest only: the
answer is "equal" or "different", never a value.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hacontrol.lib.masking import Line, mask_lines

NAME_KEY = "clustermembername"


@dataclass(frozen=True)
class Setting:
    """A setting members must share. ``database`` ones make ``ha check`` fail when they drift."""

    key: str
    label: str
    database: bool = False
    secret: bool = False
    unset: str = "(not set)"


SETTINGS = (
    Setting("database_type", "Database/DatabaseType", database=True, unset="sqlite (Central's default)"),
    Setting("DatabaseServer", "DatabaseServer", database=True),
    Setting("DatabaseUsername", "DatabaseUsername", database=True),
    # Central stores the password hashed once it has started: the same password written on two hosts
    # separately may read differently, so a difference is a warning, not a failed check.
    Setting("DatabasePassword", "DatabasePassword", secret=True),
    Setting("HeartbeatInterval", "HeartbeatInterval", unset="(Central's default, 10)"),
    Setting("HeartbeatMaxAllowedDowntime", "HeartbeatMaxAllowedDowntime", unset="(Central's default, 30)"),
    Setting("format", "preferences format"),
    Setting("version", "Central version", unset="(unknown)"),
)


@dataclass
class Difference:
    """One setting that differs: its members grouped by value (in the order given)."""

    setting: Setting
    groups: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def database(self) -> bool:
        return self.setting.database

    def describe(self) -> str:
        """'DatabaseServer: central1, central2 = db@mmsuite; central3 = db2@mmsuite'."""
        if self.setting.secret:
            parts = [", ".join(names) + (f" {value}" if value else "") for value, names in self.groups]
            return f"{self.setting.label} differs (values not shown): " + " | ".join(parts)
        return f"{self.setting.label}: " + "; ".join(f"{', '.join(names)} = {value}" for value, names in self.groups)

    def as_dict(self) -> dict:
        groups = [{"members": names, **({"set": not value} if self.setting.secret else {"value": value})}
                  for value, names in self.groups]
        return {"setting": self.setting.label, "database": self.database, "secret": self.setting.secret,
                "groups": groups}


def compare(members: Mapping[str, Mapping[str, str | None]], settings: Iterable[Setting] = SETTINGS) -> list[Difference]:
    """The settings whose values differ between ``members`` (name -> {setting key: value});
    a member that lacks a key entirely (never looked at) is left out of that setting. Secret
    settings hold digests; the groups of a secret carry no value to show, only "(not set)"."""
    found = []
    for setting in settings:
        groups: dict[str, list[str]] = {}
        for name, values in members.items():
            if setting.key not in values:
                continue
            value = values[setting.key]
            shown = str(value) if value not in (None, "") else setting.unset
            groups.setdefault(shown, []).append(name)
        if len(groups) > 1:
            found.append(Difference(setting, [(value if not setting.secret or value == setting.unset else "", names)
                                              for value, names in groups.items()]))
    return found


@dataclass(frozen=True)
class DiffLine:
    """One line of a comparison: ' ' same, '-' only the reference's, '+' only this member's,
    '~' a secret whose masked lines read the same but whose values differ."""

    kind: str
    text: str


def preferences_diff(ours: str, reference: str, *, differing_secrets: Iterable[str] = ()) -> list[DiffLine]:
    """This member's masked preferences against the reference member's, line by line, the
    ``ClusterMemberName`` line aside (it must differ). ``differing_secrets`` names the secret
    keys whose values differ, which masked lines alone cannot tell."""
    differing = {key.lower() for key in differing_secrets}
    mine, theirs = _comparable(ours), _comparable(reference)
    mine_text = [line.text.rstrip("\r\n") for line in mine]
    theirs_text = [line.text.rstrip("\r\n") for line in theirs]
    out = []
    matcher = difflib.SequenceMatcher(a=theirs_text, b=mine_text, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            for line in mine[b_start:b_end]:
                text = line.text.rstrip("\r\n")
                if line.secret and line.key and line.key.lower() in differing:
                    out.append(DiffLine("~", f"{text}    (differs from the reference's; values not shown)"))
                else:
                    out.append(DiffLine(" ", text))
            continue
        out += [DiffLine("-", text) for text in theirs_text[a_start:a_end]]
        out += [DiffLine("+", text) for text in mine_text[b_start:b_end]]
    return out


def _comparable(masked: str) -> list[Line]:
    return [line for line in mask_lines(masked)
            if not (line.key and line.key.lower() == NAME_KEY) and line.text.strip()]


__all__ = ["SETTINGS", "DiffLine", "Difference", "Setting", "compare", "preferences_diff"]
