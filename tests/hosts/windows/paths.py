"""Windows path semantics over a real folder that plays the drives.

Rules encoded here:
* Paths are case-insensitive but case-preserving (NTFS as Windows uses it):
  https://learn.microsoft.com/windows/win32/fileio/naming-a-file ("Do not assume case sensitivity ...
  the names OSCAR, Oscar, and oscar are the same").
* ``\\`` is the separator and ``/`` is accepted as one; ``.`` and ``..`` are resolved; a path is fully
  qualified when it starts with a drive letter followed by ``:\\`` (same page, "Fully qualified vs. relative
  paths").  ``\\dir`` is relative to the root of the current drive, ``C:dir`` to the current directory of
  that drive (we keep one current directory, so ``C:dir`` resolves against it when on C:, otherwise C:\\).
* Each drive letter ``X`` is the real folder ``<root>/X``.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path


class WinPathError(Exception):
    """A path that cannot be resolved (bad drive, illegal form)."""

    def __init__(self, message: str, kind: str = "drive", drive: str = ""):
        super().__init__(message)
        self.kind = kind
        self.drive = drive


def split_drive(p: str) -> tuple[str, str]:
    if len(p) >= 2 and p[1] == ":" and p[0].isalpha():
        return p[0].upper() + ":", p[2:]
    return "", p


def is_rooted(p: str) -> bool:
    """System.IO.Path.IsPathRooted semantics: drive, or leading separator."""
    p = p.replace("/", "\\")
    return p.startswith("\\") or (len(p) >= 2 and p[1] == ":" and p[0].isalpha())


def is_fully_qualified(p: str) -> bool:
    p = p.replace("/", "\\")
    return len(p) >= 3 and p[1] == ":" and p[0].isalpha() and p[2] == "\\"


def normalize(p: str, cwd: str = "C:\\") -> str:
    """Return the fully qualified, normalized form of ``p`` (``GetFullPath`` semantics)."""
    p = p.replace("/", "\\")
    drive, rest = split_drive(p)
    cdrive, crest = split_drive(cwd)
    if drive:
        if rest.startswith("\\"):
            base = drive + "\\"
            tail = rest
        else:  # C:relative -> relative to cwd when same drive
            base = cwd if drive == cdrive else drive + "\\"
            tail = rest
    elif p.startswith("\\\\"):
        raise WinPathError("UNC paths are not supported by this host", kind="unc")
    elif p.startswith("\\"):
        base = cdrive + "\\"
        tail = p
    else:
        base = cwd
        tail = p
    bdrive, brest = split_drive(base)
    parts = [c for c in brest.split("\\") if c]
    for comp in tail.split("\\"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        # Windows strips trailing dots and spaces from path components
        # (naming-a-file: "Do not end a file or directory name with a space or a period").
        stripped = comp.rstrip(" .")
        parts.append(stripped if stripped else comp)
    return bdrive + "\\" + "\\".join(parts)


def parent(p: str) -> str:
    """Parent of a normalized path ('' for a drive root)."""
    drive, rest = split_drive(p)
    parts = [c for c in rest.split("\\") if c]
    if not parts:
        return ""
    return drive + "\\" + "\\".join(parts[:-1])


def leaf(p: str) -> str:
    drive, rest = split_drive(p)
    parts = [c for c in rest.split("\\") if c]
    return parts[-1] if parts else drive + "\\"


def join(a: str, b: str) -> str:
    if not a:
        return b
    if a.endswith("\\") or a.endswith("/"):
        return a + b.lstrip("\\/")
    return a + "\\" + b.lstrip("\\/")


def same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


class WinFS:
    """Maps Windows paths onto ``root/<DriveLetter>/...`` with case-insensitive lookup."""

    def __init__(self, root: Path, drives: tuple[str, ...] = ("C",)):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.drives: set[str] = set()
        self.lock = threading.RLock()
        for d in drives:
            self.add_drive(d)

    def add_drive(self, letter: str) -> None:
        letter = letter.rstrip(":").upper()
        (self.root / letter).mkdir(parents=True, exist_ok=True)
        self.drives.add(letter)

    def has_drive(self, letter: str) -> bool:
        return letter.rstrip(":").upper() in self.drives

    def full(self, p: str, cwd: str = "C:\\") -> str:
        full = normalize(p, cwd)
        d = full[0].upper()
        if d not in self.drives:
            raise WinPathError(f"Cannot find drive. A drive with the name '{d}' does not exist.", drive=d)
        return full

    def real(self, winpath: str) -> Path:
        """The real path behind a fully qualified Windows path (case-insensitive component match)."""
        full = normalize(winpath, "C:\\")
        drive, rest = split_drive(full)
        letter = drive[0].upper()
        if letter not in self.drives:
            raise WinPathError(f"Cannot find drive. A drive with the name '{letter}' does not exist.", drive=letter)
        cur = self.root / letter
        for comp in [c for c in rest.split("\\") if c]:
            cand = cur / comp
            if os.path.lexists(cand):
                cur = cand
                continue
            match = None
            try:
                low = comp.casefold()
                for name in os.listdir(cur):
                    if name.casefold() == low:
                        match = name
                        break
            except (FileNotFoundError, NotADirectoryError):
                pass
            cur = cur / (match if match is not None else comp)
        return cur

    def display(self, winpath: str) -> str:
        """The path with the on-disk casing of its existing components (what Windows reports)."""
        full = normalize(winpath, "C:\\")
        drive, rest = split_drive(full)
        cur = self.root / drive[0]
        out = [drive]
        for comp in [c for c in rest.split("\\") if c]:
            name = comp
            if not os.path.lexists(cur / comp):
                try:
                    for n in os.listdir(cur):
                        if n.casefold() == comp.casefold():
                            name = n
                            break
                except OSError:
                    pass
            out.append(name)
            cur = cur / name
        return out[0] + "\\" + "\\".join(out[1:])

    def winpath_of(self, real: Path) -> str:
        rel = Path(real).resolve().relative_to(self.root.resolve())
        parts = rel.parts
        return parts[0] + ":\\" + "\\".join(parts[1:])

    # convenience
    def exists(self, p: str) -> bool:
        try:
            return self.real(p).exists()
        except WinPathError:
            return False

    def is_file(self, p: str) -> bool:
        try:
            return self.real(p).is_file()
        except WinPathError:
            return False

    def is_dir(self, p: str) -> bool:
        try:
            return self.real(p).is_dir()
        except WinPathError:
            return False

    def read_bytes(self, p: str) -> bytes:
        return self.real(p).read_bytes()

    def write_bytes(self, p: str, data: bytes) -> None:
        r = self.real(p)
        r.parent.mkdir(parents=True, exist_ok=True)
        r.write_bytes(data)

    def mkdir(self, p: str) -> None:
        self.real(p).mkdir(parents=True, exist_ok=True)

    def remove(self, p: str) -> None:
        r = self.real(p)
        if r.is_dir() and not r.is_symlink():
            shutil.rmtree(r)
        else:
            r.unlink()

    def free_bytes(self, letter: str) -> tuple[int, int]:
        usage = shutil.disk_usage(self.root / letter.upper())
        return usage.free, usage.total
