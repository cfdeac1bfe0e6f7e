"""Central installers, checked on the console before any host is touched.

install_central: the Linux installer is ``micetro-central-VERSION.linux.x64.tgz`` and is used as
``tar -xzvf ...; cd micetro-central-VERSION.linux.x64; ./install``; the Windows one is an
executable (``Micetro_Central_x64.exe``). An archive that would only fail on the primary, after
every secondary was stopped, is refused here instead.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

VERSION_IN_NAME = re.compile(r"(\d+\.\d+(?:\.\d+)*)")
LINUX_FOLDER = re.compile(r"micetro-central-(\d+(?:\.\d+)+)\.linux\.x64")


class InstallerError(ValueError):
    """The file is not a Central installer hacontrol can run; the message says why."""


@dataclass(frozen=True)
class Installer:
    """What the file is: for which platform, which version, and (Linux) the folder it extracts to."""

    platform: str
    version: str
    folder: str = ""


def version_from_name(name: str) -> str:
    """'micetro-central-11.1.0.linux.x64.tgz' -> '11.1.0' ('' when the name has none)."""
    match = VERSION_IN_NAME.search(name)
    return match.group(1) if match else ""


def inspect_installer(path: Path, name: str) -> Installer:
    """Open the file and check it is an installer of the vendor's layout."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head[:2] == b"MZ":
        return Installer("windows", version_from_name(name))
    if head[:2] != b"\x1f\x8b":
        raise InstallerError(f"{name} is neither a gzip-compressed tar archive (the Linux installer) nor a Windows "
                             "executable")
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InstallerError(f"{name} cannot be read as a tar archive: {error}") from None
    installs = [m for m in members if m.isfile() and re.fullmatch(r"(?:\./)?[^/]+/install", m.name)]
    for entry in installs:
        folder = entry.name.removeprefix("./").split("/")[0]
        match = LINUX_FOLDER.fullmatch(folder)
        if match:
            if any(m.name.startswith("/") or ".." in Path(m.name).parts for m in members):
                raise InstallerError(f"{name} holds paths outside its folder: refusing it")
            named = version_from_name(name)
            if named and named != match.group(1):
                raise InstallerError(f"{name} says version {named}, but it extracts to {folder}")
            return Installer("linux", match.group(1), folder)
    found = ", ".join(sorted({m.name.removeprefix("./").split("/")[0] for m in members})[:5]) or "nothing"
    raise InstallerError(f"{name} does not hold the vendor's layout micetro-central-VERSION.linux.x64/install "
                         f"(it holds {found})")
