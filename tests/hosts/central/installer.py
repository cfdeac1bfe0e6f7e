"""A stand-in for the vendor's Linux installer of Central, and a builder for its archive.

install_central.rst:
    tar -xzvf micetro-central-10.3.5.linux.x64.tgz
    cd micetro-central-10.3.5.linux.x64
    ./install
  "Before installing Micetro Central, decide the following: What user account will own the Micetro Central process?
  Where do you want everything stored? There are defaults provided."  -> the installer asks these questions.
  "After installation has finished, check for running mmcentral: systemctl status mmcentral"
micetro-central-ha.rst, "Updating Central in High Availability setup": "Upgrade each secondary server manually using
an installer. After the upgrade finished successfully, the service will be started again."
install_central.rst (Windows): "The service will be started automatically after installation."
"""
from __future__ import annotations

import io
import json
import os
import pwd
import sys
import tarfile
import time
from pathlib import Path

from ._util import version_tuple

# The stand-in's questions. ASSUMPTION: the vendor names the two decisions (install_central.rst) but not the prompts;
# the installer asks both on stdin, one line each, an empty line or end of input taking the default shown in
# brackets. It reads stdin like an interactive installer: run with an open stdin that never sends anything, it waits
# (that is the trap of running it over SSH without closing stdin); with stdin closed (end of input) it takes the
# defaults.
QUESTIONS = (
    ("user", "What user account will own the Micetro Central process?", "root"),
    ("data", "Where do you want Micetro Central's data stored?", "/var/mmsuite/mmcentral"),
)


def linux_installer(directory: Path | str, version: str, *, layout: str = "vendor", python: str = sys.executable) -> Path:
    """Build micetro-central-VERSION.linux.x64.tgz in `directory`; returns its path.

    layout="vendor": the folder micetro-central-VERSION.linux.x64/ holding `install` (and the daemon it installs);
    layout="flat": the same files at the archive's top level (no folder);
    layout="not-gzip": the vendor layout in a plain, uncompressed tar still named .tgz (`tar -xzf` fails on it).
    """
    version_tuple(version)
    if layout not in ("vendor", "flat", "not-gzip"):
        raise ValueError(f"unknown layout {layout!r}")
    from ._util import usable_python
    from .host import PACKAGE_NAME, PACKAGE_PARENT, mmcentrald_script

    python = usable_python(python)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = f"micetro-central-{version}.linux.x64"
    out = directory / f"{base}.tgz"
    install = (
        "#!/bin/sh\n"
        f"# Stand-in for the Micetro Central {version} Linux installer (Micetro Central simulator); not the vendor's.\n"
        f"exec {python} -IS -c 'import sys; sys.path.insert(0, {json.dumps(str(PACKAGE_PARENT))}); "
        f"from {PACKAGE_NAME}.installer import installer_main; "
        f"sys.exit(installer_main(sys.argv[1:], {json.dumps(version)}))' \"$@\"\n"
    )
    files = {
        "install": (install, 0o755),
        "mmcentrald": (mmcentrald_script(python, version), 0o755),
        "README": (f"Micetro Central {version} for Linux (x64), simulated.\nRun ./install in this folder.\n", 0o644),
    }
    prefix = "" if layout == "flat" else f"{base}/"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if layout != "not-gzip" else "w") as tar:
        now = time.time()
        if prefix:
            info = tarfile.TarInfo(prefix.rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
            tar.addfile(info)
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode, info.mtime = len(data), mode, now
            tar.addfile(info, io.BytesIO(data))
    out.write_bytes(buf.getvalue())
    return out


def _ask(prompt: str, default: str) -> str:
    sys.stdout.write(f"{prompt} [{default}]: ")
    sys.stdout.flush()
    line = sys.stdin.readline()  # blocks while stdin is open and silent, like any interactive installer
    if not line:
        sys.stdout.write("\n")
        return default
    return line.strip() or default


def installer_main(argv: list[str], version: str) -> int:
    from .daemon import HostFiles
    from .host import _write_exe
    from .service import Service

    if argv:
        # ASSUMPTION: no option of the Central installer is documented (install_central.rst runs plain `./install`);
        # the stand-in refuses options rather than guess what they would do.
        print(f"install: unknown option {argv[0]}\nusage: ./install", file=sys.stderr)
        return 1
    print(f"Micetro Central {version} installer")
    if os.geteuid() != 0:
        # ASSUMPTION: it installs a daemon into /usr/local/sbin and an init script: it needs root.
        print("The installer must be run as root.", file=sys.stderr)
        return 1
    # Inside a simulated host these are the real paths (bind mounts); the test process points them at the host.
    sbin = Path(os.environ.get("MMSIM_SBIN", "/usr/local/sbin"))
    mmsuite = Path(os.environ.get("MMSIM_MMSUITE", "/var/mmsuite"))
    files = HostFiles(sbin)
    if not files.config_path.exists():
        print(f"install: {sbin} is not a simulated host's (no {files.config_path.name}); refusing to install here",
              file=sys.stderr)
        return 1
    payload = Path.cwd() / "mmcentrald"
    if not payload.is_file() or not (Path.cwd() / "install").is_file():
        # ASSUMPTION: the installer finds its files in the current folder, as the vendor runs it (`cd` into the
        # extracted folder, then `./install`, install_central.rst).
        print("install: cannot find the Micetro Central files; run ./install from the extracted folder",
              file=sys.stderr)
        return 1
    svc = Service(sbin, source="installer")
    if files.fault("fail-install"):
        print("Installation failed: simulated installer failure (nothing was changed).", file=sys.stderr)
        svc.event(f"install-failed-{version}")
        return 1

    with files.held():
        answers = {key: _ask(prompt, default) for key, prompt, default in QUESTIONS}
    try:
        pwd.getpwnam(answers["user"])
    except KeyError:
        print(f"Installation failed: no such user {answers['user']!r} (nothing was changed).", file=sys.stderr)
        svc.event(f"install-failed-{version}")
        return 1
    if os.path.normpath(answers["data"]) != "/var/mmsuite/mmcentral":
        print("Installation failed: the simulated installer supports the default data location only "
              "(nothing was changed).", file=sys.stderr)
        svc.event(f"install-failed-{version}")
        return 1

    # ASSUMPTION: the installer stops a running Central before replacing the daemon (it must, to replace it) and
    # starts the service again when done, whether or not it was running before (micetro-central-ha.rst: "After the
    # upgrade finished successfully, the service will be started again"; the secondaries were stopped in step 1).
    if svc.unit_exists() and svc.active_state() in ("active", "activating"):
        print("Stopping Micetro Central...")
        svc.stop()
    if files.fault("slow-install"):
        value = files.fault_value("slow-install") or ""
        try:
            seconds = float(value) if value else 20.0
        except ValueError:
            seconds = 20.0
        deadline = time.monotonic() + seconds
        with files.held():
            while time.monotonic() < deadline and files.fault("slow-install"):
                time.sleep(0.1)
    print(f"Installing mmcentrald to {sbin}...")
    _write_exe(sbin / "mmcentrald", payload.read_text())
    (files.state / "units").mkdir(parents=True, exist_ok=True)
    svc.unit_file.write_text(f"# generated from /etc/init.d/mmcentral ({version})\n")
    data_dir = mmsuite / "mmcentral"
    data_dir.mkdir(parents=True, exist_ok=True)
    prefs = data_dir / "preferences.cfg"
    if not prefs.exists():
        # ASSUMPTION: a fresh install writes an empty preferences file: Central's defaults (SQLite, no HA). An upgrade
        # keeps the existing file untouched.
        prefs.write_bytes(b"")
    svc.event(f"install-{version}")
    print("Starting Micetro Central...")
    ok, msg = svc.start()
    if not ok:
        sys.stderr.write(msg)
        print(f"Micetro Central {version} was installed, but the service failed to start.", file=sys.stderr)
        return 1
    print(f"Micetro Central {version} has been installed and started.")
    return 0
