"""Central's preferences.cfg, read the way the vendor documents it (our own parser, not the product's).

Sources (vendor documentation repository menandmice/micetro_docs, branch `latest`):
- config_files.rst: "/var/mmsuite/mmcentral/preferences.cfg" is the "Micetro Central configuration file".
- central_ha.rst, ha_tweaks_central.rst, central_postgresql.rst, central_mssql.rst: the tags
  `<ClusterMemberName value="..."/>`, `<HeartbeatInterval value="10" />`, `<database value="postgresql"/>`,
  `<DatabaseServer value="..." />` ... — one XML-like tag per line, no root element, tag case varies
  (`<database .../>` in central_postgresql.rst, `<Database .../>` in central_mssql.rst), sometimes a space before `/>`.

The INI format "from 11.2" is not in the vendor's pages: the documentation stops at 11.1.1 (release_notes.rst) and no
page mentions an INI preferences file or `DatabaseType`. It comes from the team's domain.md; see the ASSUMPTIONs below.
"""
from __future__ import annotations

import binascii
import re

from ._util import version_tuple

# ---------------------------------------------------------------------------------------------------------------
# Defaults and allowed ranges
# ---------------------------------------------------------------------------------------------------------------

# ha_tweaks_central.rst: "By default the Central instances update the heartbeat timestamp in the database every 10
# seconds ... This can be tweaked between values of **5** and **15**."
HEARTBEAT_INTERVAL_DEFAULT = 10
HEARTBEAT_INTERVAL_RANGE = (5, 15)
# ha_tweaks_central.rst: "The default maximum downtime is set for 30 seconds." ... "Values between **20** and **120**
# are allowed, setting the maximum downtime to 20-120 seconds."
MAX_DOWNTIME_DEFAULT = 30
MAX_DOWNTIME_RANGE = (20, 120)

# central_ha.rst (note): "To run Micetro in High Availability mode, you must be using the MSSQL or PostgreSQL database
# backend for Micetro. High Availability mode is not available for other database types."
HA_DATABASE_TYPES = ("mssql", "postgresql")
# architecture.rst: "By default, Micetro Central will use an embedded *SQLite* database."
DEFAULT_DATABASE_TYPE = "sqlite"

# central_postgresql.rst: `<databasepassword value="plaintext:PASSWORD" />`; central_mssql.rst: "If the
# ``DatabasePassword`` value is prefixed by ``plaintext:``, Micetro Central will replace it with a password hash during
# startup."
PLAINTEXT_PREFIX = "plaintext:"

# ASSUMPTION: the vendor documents the preferences file only in the XML-like format (every page up to 11.1.1). The INI
# format and the rename of `Database` to `DatabaseType` "from 11.2" come from domain.md alone; the release notes are
# silent. We choose: a Central older than 11.2 reads only the XML-like format (an INI file gives it nothing, so it runs
# on its defaults: SQLite, no ClusterMemberName); a Central of 11.2 or newer reads INI and still reads the XML-like
# format of older installs, because the vendor's HA update procedure (micetro-central-ha.rst, "Updating Central in
# High Availability setup") upgrades in place with no step that converts the file. The format is decided per file by
# its first significant line (`<` -> XML-like, else INI).
INI_FROM_VERSION = (11, 2)


def reads_ini(version: str) -> bool:
    return version_tuple(version)[:2] >= INI_FROM_VERSION


# ---------------------------------------------------------------------------------------------------------------
# Parsed form
# ---------------------------------------------------------------------------------------------------------------


class Entry:
    """One key/value read from the file. (Plain classes, not dataclasses: the daemon stays small.)"""

    __slots__ = ("key", "value", "start", "end")

    def __init__(self, key: str, value: str, start: int, end: int):
        self.key = key  # as written (for INI: section name + key, see parse_ini)
        self.value = value  # unescaped / unquoted value
        self.start = start  # span of the raw value text in the decoded file text (what a rewrite replaces)
        self.end = end

    def __repr__(self) -> str:
        return f"Entry({self.key!r}, {self.value!r}, {self.start}, {self.end})"


class Preferences:
    def __init__(self, fmt: str, entries: list[Entry] | None = None):
        self.fmt = fmt  # "xml", "ini" or "empty": the format this Central read the file as
        self.entries = entries if entries is not None else []

    def get(self, key: str) -> str | None:
        """The value of `key` (case-insensitive); the last occurrence wins."""
        # ASSUMPTION: with a key given twice, the last one wins (the file is read top to bottom and a later value
        # overwrites an earlier one). The vendor does not say; domain.md says "last repeat wins" for INI.
        want = key.lower()
        found = None
        for e in self.entries:
            if e.key.lower() == want:
                found = e.value
        return found

    def all(self, key: str) -> list[Entry]:
        want = key.lower()
        return [e for e in self.entries if e.key.lower() == want]


# XML-like tags. central_postgresql.rst shows lowercase tags (`<database value="postgresql"/>`), central_mssql.rst
# mixed case with a space before `/>` (`<Database value="MSSQL" />`): tag names are matched case-insensitively and
# whitespace is allowed around `=` and before `/>`.
# ASSUMPTION: tags are found anywhere in the text (one per line is the documented layout, several on a line are read
# too); attribute values are delimited by straight quotes " or '. The typographic quotes printed in
# ha_tweaks_central.rst (`<HeartbeatInterval value=“10” />`) are a typesetting artefact; such a line is not read (the
# setting keeps its default).
_TAG = re.compile(r"<\s*([A-Za-z_][\w.\-]*)((?:\s+[\w.:\-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/\s*>")
_ATTR = re.compile(r"([\w.:\-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# domain.md: "Values are XML-attribute escaped (`&amp;`, `&quot;`, `&lt;`)". We decode the five XML entities and
# numeric character references, nothing else (no HTML entities).
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def xml_unescape(raw: str) -> str:
    def sub(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _NAMED[ref]

    return _ENTITY.sub(sub, raw)


def parse_xml(text: str) -> list[Entry]:
    entries = []
    for m in _TAG.finditer(text):
        attrs_start = m.start(2)
        for a in _ATTR.finditer(m.group(2)):
            if a.group(1).lower() != "value":
                continue
            grp = 2 if a.group(2) is not None else 3
            start = attrs_start + a.start(grp)
            end = attrs_start + a.end(grp)
            entries.append(Entry(m.group(1), xml_unescape(text[start:end]), start, end))
    return entries


def parse_ini(text: str) -> list[Entry]:
    """INI as described by domain.md (the vendor's pages have no INI format).

    `Key=value`; keys case-insensitive; optional `[Section]` headers whose keys take the section name as prefix
    (domain.md: "optional `[Section]`s whose keys take the section name as prefix"), so `[Database]` + `Type=x` is
    `DatabaseType`; whole-line comments start with `;` or `#`; values may be quoted with " or ' (domain.md: "values
    with spaces, `;` or `#` quoted").
    ASSUMPTION: an unquoted value ends at the first `;` or `#` (an inline comment) and is stripped of surrounding
    blanks; a quoted value is taken literally between its quotes (no escape sequences); an unterminated quote runs to
    the end of the line; a line without `=` is ignored.
    """
    entries = []
    section = ""
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start = pos
        pos += len(line)
        body = line.rstrip("\r\n")
        if line_start == 0 and body.startswith("\ufeff"):
            body = body[1:]
            line_start += 1
        stripped = body.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("["):
            close = stripped.find("]")
            if close > 0:
                section = stripped[1:close].strip()
            continue
        eq = body.find("=")
        if eq < 0:
            continue
        key = body[:eq].strip()
        if not key:
            continue
        i = eq + 1
        while i < len(body) and body[i] in " \t":
            i += 1
        if i < len(body) and body[i] in "\"'":
            q = body[i]
            close = body.find(q, i + 1)
            vstart, vend = i + 1, (close if close >= 0 else len(body))
        else:
            vend = len(body)
            for c in ";#":
                k = body.find(c, i)
                if k >= 0:
                    vend = min(vend, k)
            vstart = i
            while vend > vstart and body[vend - 1] in " \t":
                vend -= 1
        entries.append(Entry(section + key, body[vstart:vend], line_start + vstart, line_start + vend))
    return entries


def detect_format(text: str) -> str:
    for line in text.splitlines():
        s = line.strip().lstrip("\ufeff")
        if not s:
            continue
        if s.startswith("<"):
            return "xml"
        if s[0] in ";#":
            continue
        return "ini"
    return "empty"


def decode(data: bytes) -> str:
    # surrogateescape: any byte survives a decode/encode round trip, so a rewrite keeps every other byte.
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def read(data: bytes, version: str) -> Preferences:
    """What a Central of `version` reads from a preferences file holding `data`."""
    text = decode(data)
    detected = detect_format(text)
    if not reads_ini(version):
        # Before 11.2 only the XML-like format exists (every vendor page up to 11.1.1): INI lines are not tags and are
        # ignored.
        return Preferences("xml" if detected != "empty" else "empty", parse_xml(text))
    if detected == "ini":
        return Preferences("ini", parse_ini(text))
    return Preferences(detected, parse_xml(text))


# ---------------------------------------------------------------------------------------------------------------
# Effective settings
# ---------------------------------------------------------------------------------------------------------------


class Settings:
    def __init__(self, *, database_type: str, database_server: str | None, database_username: str | None,
                 database_password: str | None, cluster_member_name: str | None, heartbeat_interval: int,
                 max_downtime: int, fmt: str, notes: list[str]):
        self.database_type = database_type  # "sqlite", "mssql", "postgresql", or whatever else was written (lower)
        self.database_server = database_server
        self.database_username = database_username
        self.database_password = database_password  # raw value from the file (plaintext:..., a hash, or a literal)
        self.cluster_member_name = cluster_member_name
        self.heartbeat_interval = heartbeat_interval
        self.max_downtime = max_downtime
        self.fmt = fmt
        self.notes = notes

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


def _bounded_int(prefs: Preferences, key: str, default: int, bounds: tuple[int, int], notes: list[str]) -> int:
    raw = prefs.get(key)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        # ASSUMPTION: a value that is not a whole number is ignored and the default used (undocumented).
        notes.append(f"{key} value {raw!r} is not a number; using the default {default}")
        return default
    lo, hi = bounds
    if not lo <= value <= hi:
        # ASSUMPTION: the documents give the allowed range but not what Central does outside it; we clamp to the
        # nearest allowed value (a value outside the range can never take effect).
        clamped = min(max(value, lo), hi)
        notes.append(f"{key} {value} is outside the allowed {lo}-{hi}; using {clamped}")
        return clamped
    return value


def settings(prefs: Preferences) -> Settings:
    notes: list[str] = []
    # domain.md: from 11.2 (INI) "`Database` is renamed `DatabaseType`". ASSUMPTION: the INI format is read with the
    # new name only and the XML-like format with the old name only (a file mixing them is a mistake a real Central
    # would not forgive either).
    type_key = "DatabaseType" if prefs.fmt == "ini" else "Database"
    raw_type = prefs.get(type_key)
    if raw_type is None or not raw_type.strip():
        db_type = DEFAULT_DATABASE_TYPE
    else:
        db_type = raw_type.strip().lower()
    name = prefs.get("ClusterMemberName")
    # ASSUMPTION: an empty ClusterMemberName is the same as none (the vendor's step 1 adds the tag to name the
    # instance; an empty name identifies nothing). The name is otherwise used exactly as written: the vendor
    # recommends case-sensitive database collations (central_mssql.rst), so names compare case-sensitively.
    if name is not None and name == "":
        name = None
    return Settings(
        database_type=db_type,
        database_server=prefs.get("DatabaseServer"),
        database_username=prefs.get("DatabaseUsername"),
        database_password=prefs.get("DatabasePassword"),
        cluster_member_name=name,
        heartbeat_interval=_bounded_int(prefs, "HeartbeatInterval", HEARTBEAT_INTERVAL_DEFAULT,
                                        HEARTBEAT_INTERVAL_RANGE, notes),
        max_downtime=_bounded_int(prefs, "HeartbeatMaxAllowedDowntime", MAX_DOWNTIME_DEFAULT, MAX_DOWNTIME_RANGE,
                                  notes),
        fmt=prefs.fmt,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------------------------
# Password hashing (the one rewrite Central does)
# ---------------------------------------------------------------------------------------------------------------

# ASSUMPTION: the vendor calls the stored form a "hashed format" (central_postgresql.rst) and says Central will
# "encrypt" the password (central_mssql.rst), and its HA procedure copies a started Central's preferences.cfg to the
# next member (central_ha.rst step 11), so the stored form must still let any Central log in to the database: it is
# reversible and host-independent. Its real format is not documented; the simulator writes `$mmsim$` + base64url of
# the password XOR a fixed key. It holds only characters that need no escaping or quoting in either file format.
HASH_PREFIX = "$mmsim$"
_KEY = b"micetro-central-simulator"


def hash_password(plain: str) -> str:
    data = plain.encode("utf-8")
    mixed = bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(data))
    return HASH_PREFIX + _b64url(mixed)


def _b64url(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii").translate(_TO_URL).rstrip("=")


_TO_URL = str.maketrans("+/", "-_")
_FROM_URL = str.maketrans("-_", "+/")


def password_from_value(value: str | None) -> str | None:
    """The password a Central presents to the database for a DatabasePassword value."""
    if value is None:
        return None
    if value.startswith(PLAINTEXT_PREFIX):
        return value[len(PLAINTEXT_PREFIX):]
    if value.startswith(HASH_PREFIX):
        body = value[len(HASH_PREFIX):]
        try:
            mixed = binascii.a2b_base64((body + "=" * (-len(body) % 4)).translate(_FROM_URL))
            return bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(mixed)).decode("utf-8")
        except (ValueError, binascii.Error):
            return value
    # ASSUMPTION: any other value is taken as already stored by Central in its own format; the simulator treats it
    # as the password itself.
    return value


def hash_plaintext_passwords(data: bytes, prefs: Preferences) -> bytes | None:
    """The file with every `plaintext:` DatabasePassword value replaced by its hash, or None when there is none.

    central_postgresql.rst: "After Central starts and processes the configuration file, it will automatically convert
    the plaintext password into a hashed format". Only the value changes: every other byte (line endings, order,
    comments, unknown keys, the quotes around the value) stays as it was.
    ASSUMPTION: every DatabasePassword entry that Central read and that starts with `plaintext:` is hashed (with a
    key given twice, both are protected; only the last one is used to log in).
    """
    text = decode(data)
    targets = [e for e in prefs.all("DatabasePassword") if e.value.startswith(PLAINTEXT_PREFIX)]
    if not targets:
        return None
    out = []
    last = 0
    for e in sorted(targets, key=lambda e: e.start):
        out.append(text[last:e.start])
        out.append(hash_password(e.value[len(PLAINTEXT_PREFIX):]))
        last = e.end
    out.append(text[last:])
    return encode("".join(out))
