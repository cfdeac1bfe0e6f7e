"""Central's versions: which ones may share a cluster, and which preferences format each reads."""

from __future__ import annotations

import re

# domain.md / the vendor's release notes: up to 11.1 preferences.cfg is XML-like tags; from 11.2 INI.
INI_FROM = (11, 2)


def parse(version: str) -> tuple[int, ...]:
    """'11.1.0' -> (11, 1, 0); () when there is no version."""
    found = re.match(r"\s*(\d+(?:\.\d+)*)", version or "")
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def versions_problem(name_a: str, version_a: str, name_b: str, version_b: str) -> str | None:
    """Why two members cannot share a cluster (their major.minor differ), or None."""
    a, b = parse(version_a), parse(version_b)
    if not a or not b:
        unknown = name_a if not a else name_b
        return f"the Central version on {unknown} is unknown: members must run the same version"
    if a[:2] != b[:2]:
        return (f"{name_a} runs Central {version_a} and {name_b} runs {version_b}: members must run the same "
                "version (upgrade one of them first)")
    return None


def reads_formats(version: str) -> tuple[str, ...]:
    """The preferences formats a Central version reads: only 'tags' up to 11.1; from 11.2 'ini', and still
    'tags', since the vendor's HA update procedure upgrades in place with no step converting the file."""
    return ("ini", "tags") if parse(version)[:2] >= INI_FROM else ("tags",)


def format_problem(file_format: str, version: str, name: str) -> str | None:
    """Why a preferences file of ``file_format`` cannot go to a Central of ``version``, or None."""
    if parse(version) and file_format not in reads_formats(version):
        return (f"the preferences.cfg to copy is in INI format (from 11.2), but {name} runs Central {version}, "
                "which reads only XML-like tags (up to 11.1)")
    return None
