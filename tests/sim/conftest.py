"""Fixtures for the Central simulator's self-tests (tests/hosts/central)."""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WORKER_NUMBER
from tests.hosts.central import CentralInstance, CentralStore, SimulatedCentralHost

# Loopback addresses reserved for these tests: 127.0.3.1 - 127.0.3.50, each parallel test process
# its own (gw1: 127.1.3.x, ...).
_ADDRESSES = (f"127.{WORKER_NUMBER}.3.{i}" for i in itertools.cycle(range(1, 51)))


def next_address() -> str:
    return next(_ADDRESSES)


def xml_prefs(name: str | None = None, server: str | None = "db1@mmsuite", db: str | None = "postgresql",
              interval: int | None = 5, downtime: int | None = 20, password: str | None = None,
              username: str | None = None, eol: str = "\n") -> str:
    """An XML-like preferences file as the vendor's pages show it (shortest heartbeat settings by default)."""
    lines = []
    if db is not None:
        lines.append(f'<Database value="{db}"/>')
    if server is not None:
        lines.append(f'<DatabaseServer value="{server}"/>')
    if username is not None:
        lines.append(f'<DatabaseUsername value="{username}" />')
    if password is not None:
        lines.append(f'<DatabasePassword value="{password}" />')
    if interval is not None:
        lines.append(f'<HeartbeatInterval value="{interval}" />')
    if downtime is not None:
        lines.append(f'<HeartbeatMaxAllowedDowntime value="{downtime}" />')
    if name is not None:
        lines.append(f'<ClusterMemberName value="{name}"/>')
    return eol.join(lines) + eol


@pytest.fixture
def store(tmp_path: Path) -> CentralStore:
    return CentralStore(tmp_path / "store")


class Instances:
    """Makes in-process Centrals and stops every one of them at teardown."""

    def __init__(self, root: Path, store: CentralStore):
        self.root = root
        self.store = store
        self.made: list[CentralInstance] = []
        self.n = 0

    def __call__(self, prefs: str | bytes, version: str = "11.0.3", listen: tuple[str, int] | None = None,
                 clock_offset: float = 0.0, store: CentralStore | None = None) -> CentralInstance:
        self.n += 1
        data = self.root / f"central{self.n}"
        data.mkdir(parents=True)
        p = data / "preferences.cfg"
        p.write_bytes(prefs.encode() if isinstance(prefs, str) else prefs)
        inst = CentralInstance(p, data, store or self.store, version, listen, clock_offset)
        self.made.append(inst)
        return inst

    def stop_all(self) -> None:
        for inst in self.made:
            inst.stop()


@pytest.fixture
def instances(tmp_path: Path, store: CentralStore) -> Iterator[Instances]:
    made = Instances(tmp_path / "instances", store)
    yield made
    made.stop_all()


@pytest.fixture
def make_host(tmp_path: Path, store: CentralStore) -> Iterator:  # type: ignore[type-arg]
    hosts: list[SimulatedCentralHost] = []

    def make(name: str = "", address: str | None = None) -> SimulatedCentralHost:
        host = SimulatedCentralHost(tmp_path / f"host-{name or len(hosts)}", address or next_address(), store)
        host.install()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.shutdown()
