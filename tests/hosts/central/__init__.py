"""A simulator of Men&Mice Micetro Central's high-availability behaviour, written from the vendor's documentation
(menandmice/micetro_docs) and systemd's. See README.md beside this file for every rule and assumption.

    from tests.hosts.central import SimulatedCentralHost, CentralStore, MicetroHA, CentralInstance, linux_installer

Names are loaded lazily: the stand-in executables import single modules of this package and should start fast.
"""
from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing is not imported at run time: the stand-ins start faster)
if TYPE_CHECKING:
    from typing import Any

_EXPORTS = {
    "CentralStore": "store",
    "MicetroHA": "store",
    "SimulatedCentralHost": "host",
    "CentralInstance": "instance",
    "CentralStartError": "core",
    "CENTRAL_PORT": "core",
    "linux_installer": "installer",
    "hash_password": "prefs",
    "version_line": "daemon",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return __all__
