"""Pluggable Central behind the emulated ``mmcentral`` service.

``WindowsHost(central_factory=...)`` takes a callable ``factory(host) -> CentralService`` (see
host.CentralService: start() -> False/raises when Central cannot start, stop(), kill(), .running,
.started_at).  The host calls the factory when the service starts and the installed version changed (a new
version after an install gets a new instance).

``simulator_factory`` adapts the in-process Central simulator of tests/hosts/central (its public API:
``CentralInstance(preferences_path, data_dir, store, version, listen, clock_offset=0.0)`` and
``CentralStore(root)``) when that package is present.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from .host import CentralService, TrivialCentral, WindowsHost

__all__ = ["CentralService", "TrivialCentral", "simulator_available", "simulator_factory"]


def simulator_available() -> bool:
    try:
        from tests.hosts import central as sim  # noqa: F401
    except Exception:
        return False
    return hasattr(sim, "CentralInstance")


def simulator_factory(store: Any = None, *, store_root: Optional[Path] = None,
                      listen: Optional[tuple[str, int]] = None,
                      clock_offset: Optional[float] = None) -> Callable[[WindowsHost], CentralService]:
    """A ``central_factory`` that runs the Central simulator as this host's Central.

    ``store`` is a ``CentralStore`` shared by the HA members (or ``store_root`` to create one).  The instance
    reads the host's real preferences.cfg and data folder (C:\\ProgramData\\Men and Mice\\Central), runs the
    host's installed version and listens on ``listen``.
    """
    from tests.hosts import central as sim

    if store is None:
        if store_root is None:
            raise ValueError("simulator_factory needs a CentralStore or a store_root")
        store = sim.CentralStore(Path(store_root))

    def factory(host: WindowsHost) -> CentralService:
        kw = {}
        try:
            import inspect
            if "host" in inspect.signature(sim.CentralInstance).parameters:
                kw["host"] = host.hostname
        except (TypeError, ValueError):
            pass
        # Logging is not enabled by default (central_logging.rst), so no log_path.
        return sim.CentralInstance(host.preferences, host.data_dir, store, host.version or "", listen,
                                   host.clock_offset if clock_offset is None else clock_offset, **kw)

    return factory
