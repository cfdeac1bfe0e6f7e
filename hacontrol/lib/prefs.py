"""Read and edit Micetro Central's ``preferences.cfg`` without disturbing anything else in it.

Central has written two formats. Up to 11.1 it is one XML-like tag per line, no root element::

    <Database value="postgresql"/>
    <ClusterMemberName value="central1"/>

From 11.2 it is INI (``Key=value``, optional ``[Section]`` prefixes, ``;``/``#`` comments, values
with spaces quoted) and ``Database`` is renamed ``DatabaseType``. Keys match case-insensitively and
the last repeat wins. An edit touches only the lines of its key: every other byte (line endings,
order, comments, unknown lines, encoding) stays as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

HA_DATABASES = {"mssql", "postgresql"}
MAX_SIZE = 1024 * 1024


class PreferencesError(ValueError):
    """The file cannot be read or edited as asked; the message says why."""


class Format(Enum):
    TAGS = "tags"
    INI = "ini"


TAG_LINE = re.compile(r'^(?P<indent>\s*)<(?P<key>[A-Za-z_][\w.-]*)\s+value\s*=\s*"(?P<value>[^"]*)"\s*/>')
INI_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<value>.*?)\s*$")
INI_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*$")
LINE_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")

XML_ESCAPES = [("&", "&amp;"), ('"', "&quot;"), ("<", "&lt;"), (">", "&gt;")]
XML_UNESCAPE = re.compile(r"&(amp|quot|lt|gt|apos|#\d+|#x[0-9a-fA-F]+);")
XML_NAMED = {"amp": "&", "quot": '"', "lt": "<", "gt": ">", "apos": "'"}


def xml_escape(value: str) -> str:
    """Escape ``value`` for a double-quoted XML attribute."""
    for raw, escaped in XML_ESCAPES:
        value = value.replace(raw, escaped)
    return value


def xml_unescape(value: str) -> str:
    """Undo :func:`xml_escape` (and numeric character references)."""

    def replace(match: re.Match[str]) -> str:
        entity = match.group(1)
        if entity.startswith("#x"):
            return chr(int(entity[2:], 16))
        if entity.startswith("#"):
            return chr(int(entity[1:]))
        return XML_NAMED[entity]

    return XML_UNESCAPE.sub(replace, value)


def ini_quote(value: str) -> str:
    """Quote an INI value when it holds spaces, comment marks or quotes."""
    if value == "" or re.search(r'[\s;#"]', value) or value != value.strip():
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def ini_unquote(value: str) -> str:
    """Read an INI value: a quoted string, or a bare one ending at a comment mark."""
    if value.startswith('"'):
        match = re.match(r'"((?:[^"\\]|\\.)*)"', value)
        if match:
            return re.sub(r"\\(.)", r"\1", match.group(1))
    return re.split(r"\s[;#]", value, maxsplit=1)[0].strip()


@dataclass
class Preferences:
    """One preferences.cfg, split in lines that are kept verbatim unless a key is edited."""

    lines: list[str]
    format: Format
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    _sections: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def parse(cls, data: bytes) -> Preferences:
        """Parse the bytes of a file; refuse what is not a preferences file at all."""
        if len(data) > MAX_SIZE:
            raise PreferencesError(f"preferences.cfg is {len(data)} bytes, over the {MAX_SIZE} limit")
        if b"\x00" in data:
            raise PreferencesError("preferences.cfg holds NUL bytes: it is binary, not a preferences file")
        bom = data.startswith(b"\xef\xbb\xbf")
        body = data[3:] if bom else data
        try:
            text = body.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            text = body.decode("latin-1")
            encoding = "latin-1"
        lines = LINE_SPLIT.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        newline = "\r\n" if "\r\n" in text else "\n"
        has_tags = any(TAG_LINE.match(line) for line in lines)
        has_ini = any(INI_LINE.match(line) or INI_SECTION.match(line) for line in lines)
        fmt = Format.INI if has_ini and not has_tags else Format.TAGS
        return cls(lines=lines, format=fmt, encoding=encoding, bom=bom, newline=newline)

    def to_bytes(self) -> bytes:
        """Serialise in the format and encoding the file was read in."""
        data = "".join(self.lines).encode(self.encoding)
        return (b"\xef\xbb\xbf" if self.bom else b"") + data

    def _entries(self) -> list[tuple[int, str, str]]:
        """Every (line index, full key, raw value) in file order; INI keys carry their section."""
        entries = []
        section = ""
        for index, line in enumerate(self.lines):
            if self.format is Format.TAGS:
                match = TAG_LINE.match(line)
                if match:
                    entries.append((index, match["key"], xml_unescape(match["value"])))
                continue
            stripped = line.lstrip()
            if stripped.startswith((";", "#")):
                continue
            header = INI_SECTION.match(line)
            if header:
                section = header["name"].strip()
                continue
            match = INI_LINE.match(line.rstrip("\r\n"))
            if match:
                key = f"{section}.{match['key']}" if section else match["key"]
                entries.append((index, key, ini_unquote(match["value"])))
        return entries

    def get(self, key: str) -> str | None:
        """The value of ``key`` (case-insensitive, last repeat wins), or None."""
        found = None
        for _, name, value in self._entries():
            if name.lower() == key.lower():
                found = value
        return found

    def _format_line(self, key: str, value: str, indent: str = "") -> str:
        if self.format is Format.TAGS:
            return f'{indent}<{key} value="{xml_escape(value)}"/>'
        return f"{indent}{key}={ini_quote(value)}"

    def set(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``: the last existing line is rewritten in place (keeping its
        spelling of the key), other repeats dropped; a missing key is appended at the end."""
        if any(char in value for char in "\r\n\x00"):
            raise PreferencesError(f"a value for {key} cannot hold line breaks or NUL characters")
        matches = [(i, name) for i, name, _ in self._entries() if name.lower() == key.lower()]
        if matches:
            index, name = matches[-1]
            line = self.lines[index]
            ending = line[len(line.rstrip("\r\n")) :]
            indent = line[: len(line) - len(line.lstrip())]
            bare_name = name.rsplit(".", 1)[-1] if self.format is Format.INI else name
            self.lines[index] = self._format_line(bare_name, value, indent) + ending
            for other, _ in matches[:-1]:
                self.lines[other] = ""
            self.lines = [line for line in self.lines if line != ""]
            return
        if self.lines and not self.lines[-1].endswith(("\n", "\r")):
            self.lines[-1] += self.newline
        # A top-level INI key must come before the first [Section], or it would join it.
        position = len(self.lines)
        if self.format is Format.INI:
            position = next((i for i, line in enumerate(self.lines) if INI_SECTION.match(line)), position)
        self.lines.insert(position, self._format_line(key, value) + self.newline)

    def remove(self, key: str) -> bool:
        """Remove every line of ``key``; True when there was one."""
        drop = {i for i, name, _ in self._entries() if name.lower() == key.lower()}
        self.lines = [line for i, line in enumerate(self.lines) if i not in drop]
        return bool(drop)

    @property
    def database_type(self) -> str:
        """The database backend Central uses; SQLite when the file names none."""
        return (self.get("DatabaseType") or self.get("Database") or "sqlite").strip()

    @property
    def allows_ha(self) -> bool:
        """High availability needs a shared MSSQL or PostgreSQL database."""
        return self.database_type.lower() in HA_DATABASES

    def require_ha(self) -> None:
        """Refuse HA edits on a file whose database cannot be shared."""
        if not self.allows_ha:
            raise PreferencesError(
                f"this Central uses the {self.database_type!r} database; high availability needs "
                "MSSQL or PostgreSQL (set Database/DatabaseType in preferences.cfg first)"
            )
