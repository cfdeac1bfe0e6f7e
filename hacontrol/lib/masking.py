"""Hide the secrets of a ``preferences.cfg`` before hacontrol shows or logs it.

Central's file holds its database password (``DatabasePassword``, hashed once Central has started,
``plaintext:...`` before) and may hold others. Every value whose key names a password, a secret or
a key (``Password``, ``DatabasePassword``, ``LicenseKey``, ``ApiSecret``, ...) becomes ``********``,
in both formats, in comments too (an old password commented out is still a password); so do a
password inside a URL (``postgres://user:pw@host/db``) and ``password=...`` inside any value. The
masking errs on the side of hiding: an unusual key that merely contains "key" is masked as well.

Masked text masks again to itself, so a stored masked copy can be read back for its keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hacontrol.lib.prefs import ini_unquote, xml_unescape

MASK = "********"
# "any key whose name says password/secret/key" (issue 13), with their usual spellings.
SECRET_WORDS = r"pass(?:word|wd|phrase)?|pwd|secret|key|token|credential"
SECRET_NAME = re.compile(SECRET_WORDS, re.IGNORECASE)
TAG = re.compile(r"<\s*(?P<name>[A-Za-z_][\w.:-]*)(?P<attributes>(?:\s+[\w.:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?\s*>")
TAG_OPENING = re.compile(r"<\s*(?P<name>[A-Za-z_][\w.:-]*)")
ATTRIBUTE = re.compile(r"(?P<name>[\w.:-]+)(?P<equals>\s*=\s*)(?P<quote>[\"'])(?P<value>.*?)(?P=quote)")
INI_SETTING = re.compile(r"^(?P<lead>\s*(?:[;#]+\s*)?)(?P<key>[A-Za-z_][\w.-]*)(?P<equals>\s*=)(?P<value>.*)$")
INI_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*$")
# user:password@ in a URL (a multi-node PostgreSQL URL among them).
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"'<>]*:)(?P<secret>[^\s@/\"'<>]+)(?=@)")
# Password=..., ApiKey: ... inside a value or a stray line (a libpq connection string, a URL's query).
INLINE_SECRET = re.compile(rf"(?P<head>\b[\w.-]*(?:{SECRET_WORDS})[\w.-]*\s*[:=]\s*)(?P<secret>'[^']*'|\"[^\"]*\"|[^\s;&'\"<>]+)",
                           re.IGNORECASE)
LINE_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


@dataclass(frozen=True)
class Line:
    """One line of a masked file: its masked text (with its line ending), the setting it holds
    (INI keys carry their section, as ``Preferences.get`` names them) and whether that is a secret."""

    text: str
    key: str | None = None
    secret: bool = False


def is_secret_name(name: str) -> bool:
    """Whether a setting's name says it holds a password, a secret or a key."""
    return bool(SECRET_NAME.search(name))


def mask_value(value: str) -> str:
    """A value that is not secret by its name, with any password inside it masked."""
    value = URL_PASSWORD.sub(lambda m: m["head"] + MASK, value)
    return INLINE_SECRET.sub(lambda m: m["head"] + MASK, value)


def _mask_tag(match: re.Match[str]) -> str:
    secret_tag = is_secret_name(match["name"])

    def attribute(found: re.Match[str]) -> str:
        hidden = secret_tag if found["name"].lower() == "value" else is_secret_name(found["name"])
        value = MASK if hidden else mask_value(found["value"])
        return f"{found['name']}{found['equals']}{found['quote']}{value}{found['quote']}"

    offset = match.start()
    start, end = match.start("attributes") - offset, match.end("attributes") - offset
    whole = match.group(0)
    return whole[:start] + ATTRIBUTE.sub(attribute, match["attributes"]) + whole[end:]


def _mask_tag_line(body: str) -> tuple[str, str | None, bool]:
    """Mask every tag on a line, and the text between them. A tag too malformed to read whose
    name is secret hides the rest of the line. Returns the line and, when it holds one tag, its
    key and whether that is secret."""
    tags = list(TAG.finditer(body))
    spans = [tag.span() for tag in tags]
    for opening in TAG_OPENING.finditer(body):
        inside = any(start <= opening.start() < end for start, end in spans)
        if not inside and is_secret_name(opening["name"]):
            body = body[: opening.end()] + " " + MASK
            tags = [tag for tag in tags if tag.end() <= opening.start()]
            break
    out, last = [], 0
    for tag in tags:
        out += [mask_value(body[last : tag.start()]), _mask_tag(tag)]
        last = tag.end()
    out.append(body[last:] if MASK in body[last:] else mask_value(body[last:]))
    commented = body.lstrip().startswith("<!--")
    if len(tags) == 1 and not commented and TAG_OPENING.search(body[tags[0].end():]) is None:
        return "".join(out), tags[0]["name"], is_secret_name(tags[0]["name"])
    return "".join(out), None, False


def mask_lines(data: bytes | str) -> list[Line]:
    """The file, line by line, with every secret masked (see the module's docstring)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    section = ""
    lines = []
    for raw in LINE_SPLIT.split(text):
        if not raw:
            continue
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        if TAG_OPENING.search(body):
            masked, key, secret = _mask_tag_line(body)
            lines.append(Line(masked + ending, key, secret))
            continue
        header = INI_SECTION.match(body)
        if header:
            section = header["name"].strip()
            lines.append(Line(raw))
            continue
        setting = INI_SETTING.match(body)
        if setting:
            key = f"{section}.{setting['key']}" if section else setting["key"]
            secret = is_secret_name(key)
            value = setting["value"]
            if secret:
                value = value[: len(value) - len(value.lstrip())] + MASK
            else:
                value = mask_value(value)
            commented = bool(setting["lead"].strip())
            lines.append(Line(f"{setting['lead']}{setting['key']}{setting['equals']}{value}{ending}",
                              None if commented else key, secret and not commented))
            continue
        lines.append(Line(mask_value(body) + ending))
    return lines


def mask_preferences(data: bytes | str) -> str:
    """The whole file as text, every secret masked: what may be shown or logged."""
    return "".join(line.text for line in mask_lines(data))


def secret_settings(data: bytes | str) -> dict[str, str]:
    """The secret settings of a file and their clear values (the last repeat wins; keys as
    :func:`mask_lines` names them), to tell equal from different without showing them."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    found: dict[str, str] = {}
    for raw, line in zip(_raw_lines(text), mask_lines(text), strict=True):
        if line.secret and line.key:
            found[line.key] = _clear_value(raw.rstrip("\r\n"))
    return found


def _raw_lines(text: str) -> list[str]:
    return [raw for raw in LINE_SPLIT.split(text) if raw]


def _clear_value(body: str) -> str:
    tag = TAG.search(body)
    if tag:
        return xml_unescape(next((a["value"] for a in ATTRIBUTE.finditer(tag["attributes"])
                                  if a["name"].lower() == "value"), ""))
    setting = INI_SETTING.match(body)
    return ini_unquote(setting["value"].strip()) if setting else ""
