"""No import cycles in hacontrol/: every module imports alone, first, in a process that has loaded
no other module of hacontrol (so the order the suite or a server happens to import them in hides
nothing), and the import-linter contract of `make lint` holds (no cycle between the modules of any
package, function-level imports included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "hacontrol").rglob("*.py")
)

# A fresh interpreter loads the heavy third-party libraries once (none of them imports hacontrol),
# then forks one child per module, two at a time: each child sets Django up (models need the app
# registry) and imports its module; the first module of hacontrol a child loads is its own
# settings. About six times faster than one interpreter per module, and as strict.
FORK_EACH = r"""
import importlib, os, sys
for library in ("django.db.models", "django.forms", "django.http", "django.urls", "django.template", "psycopg",
                "paramiko", "winrm", "requests", "cryptography.fernet", "dns.resolver", "prometheus_client",
                "rest_framework.fields", "django_filters", "yaml", "jsonschema", "asyncio"):
    importlib.import_module(library)
loaded = [name for name in sys.modules if name.startswith("hacontrol")]
assert not loaded, f"a preloaded library imported {loaded}"

def child(module):
    try:
        import django
        django.setup()
        importlib.import_module(module)
    except BaseException as error:
        sys.stderr.write(f"{module}: {type(error).__name__}: {error}\n")
        os._exit(1)
    os._exit(0)

running, failed = {}, 0
for module in sys.argv[1:] + [None, None]:
    if len(running) == 2 or (module is None and running):
        pid, status = os.wait()
        failed += status != 0
        running.pop(pid)
    if module is not None:
        pid = os.fork()
        if pid == 0:
            child(module)
        running[pid] = module
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone_first():
    assert len(MODULES) > 60 and "hacontrol.api.views" in MODULES and "hacontrol.ha.actions" in MODULES
    # A placeholder database URL keeps the settings from starting the embedded server: nothing
    # connects at import time.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hacontrol.settings", "DATABASE_URL": "postgres://x@localhost/x"}
    done = subprocess.run([sys.executable, "-c", FORK_EACH, *MODULES], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_module_that_cannot_import_alone_is_caught():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hacontrol.settings", "DATABASE_URL": "postgres://x@localhost/x"}
    done = subprocess.run([sys.executable, "-c", FORK_EACH, "hacontrol.lib.names", "hacontrol.no_such_module"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "hacontrol.no_such_module: ModuleNotFoundError" in done.stderr
    assert "hacontrol.lib.names" not in done.stderr


def test_the_import_linter_contract_holds():
    done = subprocess.run([Path(sys.executable).parent / "lint-imports", "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No import cycles in hacontrol/ KEPT" in done.stdout
