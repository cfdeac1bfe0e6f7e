"""Stand-in Central installers for the upgrade tests."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

INSTALL = r"""#!/bin/sh
# Stand-in for Central's ./install: switch the pretend service to the new version, start it.
d=/var/mmsuite/mmcentral
echo "Installing Men&Mice Central {version}"
if [ -e $d/.fail-install ]; then echo "install: cannot write /usr/sbin/mmcentrald: disk error" >&2; exit 1; fi
if [ -e $d/.slow-install ]; then sleep 6; fi
systemctl stop mmcentral
echo "{version}" > $d/.version
echo "install-{version} $(date +%s.%N)" >> $d/.events
systemctl start mmcentral
echo "Men&Mice Central {version} installed"
"""


def linux_installer(directory: Path, version: str) -> Path:
    """micetro-central-VERSION.linux.x64.tgz holding micetro-central-VERSION/install."""
    path = directory / f"micetro-central-{version}.linux.x64.tgz"
    script = INSTALL.format(version=version).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"micetro-central-{version}/install")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
        readme = b"Stand-in installer for hacontrol's tests\n"
        info = tarfile.TarInfo(f"micetro-central-{version}/README")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    return path
