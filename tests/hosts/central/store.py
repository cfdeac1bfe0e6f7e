"""The shared store: Central's MSSQL/PostgreSQL databases, as JSON files under one folder, each behind an flock.

central_ha.rst: "Failover instances of Micetro Central can be configured to build a high availability cluster" on an
MSSQL or PostgreSQL database they share; the HA members and their priorities are kept in Central's own configuration
(Admin -> Configuration -> High Availability), i.e. in that database. ha_tweaks_central.rst: each member writes its
heartbeat timestamp "in the database".

One JSON document per database (keyed by database type + DatabaseServer) holds what Central keeps there for HA:
the schema version, the HA members and priorities, the Active member, the members in failed state, the heartbeats,
and a log of events. Running Centrals also leave a record in `instances/` plus a lock held in `alive/` for as long as
they run (a crashed process releases it), which is how the simulator's *truth* knows who really runs; Central's own
decisions never use that: they use heartbeats only, as the vendor describes.

No SQLite anywhere: plain JSON + fcntl.flock.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ._util import read_json, write_json
from .prefs import HA_DATABASE_TYPES

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from typing import Any

EVENTS_KEPT = 1000


def normalize_server(server: str) -> str:
    # ASSUMPTION: two DatabaseServer values name the same database when they are equal ignoring surrounding blanks
    # and letter case (host names are case-insensitive; the vendor's examples are `HOSTNAME@DATABASE`,
    # `host,port\instance@db` and PostgreSQL URLs). No DNS resolution or port defaulting is attempted.
    return server.strip().lower()


try:  # the built-in SHA-1 (hashlib would load OpenSSL: megabytes more in every daemon)
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover
    from hashlib import sha1 as _sha1


def database_key(db_type: str, server: str) -> str:
    digest = _sha1(normalize_server(server).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{db_type.strip().lower()}-{digest}"


def _empty_db(db_type: str, server: str) -> dict[str, Any]:
    return {
        "type": db_type.strip().lower(),
        "server": server,
        "schema_version": None,  # set by the first Central that connects (central_mssql.rst: "The database schema will
        #                          be created during the first connection.")
        "available": True,
        "credentials": None,
        "members": {},  # name -> priority (Micetro's HA configuration)
        "active": None,
        "failed": [],
        "heartbeats": {},  # name -> {"ts": member's host clock, "real": real time written, "instance": id}
        "events": [],
    }


class CentralStore:
    """Central's databases, shared by every simulated host (and the test process)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        for sub in ("db", "instances", "alive"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- databases ------------------------------------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / "db" / f"{key}.json", self.root / "db" / f"{key}.lock"

    @contextlib.contextmanager
    def transaction(self, db_type: str, server: str) -> Iterator[dict[str, Any]]:
        """Locked read-modify-write of one database (created empty when absent)."""
        key = database_key(db_type, server)
        path, lock = self._paths(key)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            db = read_json(path) or _empty_db(db_type, server)
            before = json.dumps(db, sort_keys=True)
            yield db
            if len(db["events"]) > EVENTS_KEPT:
                del db["events"][: len(db["events"]) - EVENTS_KEPT]
            if json.dumps(db, sort_keys=True) != before:
                write_json(path, db)
        finally:
            os.close(fd)

    def read(self, db_type: str, server: str) -> dict[str, Any]:
        key = database_key(db_type, server)
        path, lock = self._paths(key)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return read_json(path) or _empty_db(db_type, server)
        finally:
            os.close(fd)

    def databases(self) -> list[dict[str, Any]]:
        return [read_json(p) for p in sorted((self.root / "db").glob("*.json")) if read_json(p)]

    # Test switches on a database (what a DBA or a network could do to it).

    def set_available(self, db_type: str, server: str, available: bool = True) -> None:
        """Make the database unreachable (or reachable again) for every Central.

        central_postgresql.rst: "If the database connection fails, the service will not start".
        """
        with self.transaction(db_type, server) as db:
            db["available"] = bool(available)

    def set_credentials(self, db_type: str, server: str, username: str | None, password: str | None) -> None:
        """Require this login (None: accept any, the default)."""
        with self.transaction(db_type, server) as db:
            db["credentials"] = None if username is None else {"username": username, "password": password}

    def schema_version(self, db_type: str, server: str) -> str | None:
        return self.read(db_type, server)["schema_version"]

    def set_schema_version(self, db_type: str, server: str, version: str | None) -> None:
        with self.transaction(db_type, server) as db:
            db["schema_version"] = version

    # -- running instances (the simulator's knowledge, not Central's) ---------------------------------------------

    def instance_path(self, instance_id: str) -> Path:
        return self.root / "instances" / f"{instance_id}.json"

    def alive_path(self, instance_id: str) -> Path:
        return self.root / "alive" / f"{instance_id}.lock"

    def is_alive(self, instance_id: str) -> bool:
        try:
            fd = os.open(self.alive_path(instance_id), os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def instances(self, prune: bool = True) -> list[dict[str, Any]]:
        """Records of the Centrals running now (any database, SQLite ones included)."""
        out = []
        for p in sorted((self.root / "instances").glob("*.json")):
            rec = read_json(p)
            if not rec:
                continue
            if self.is_alive(rec["id"]):
                out.append(rec)
            elif prune and time.time() - (rec.get("started_at") or 0) > 2:
                # A crashed instance: its lock is free. (Young records are left alone: the instance may be between
                # writing its record and taking its lock... it takes the lock first, but be safe.)
                for path in (p, self.alive_path(rec["id"])):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        return out


class AliveToken:
    """Held by a running Central; the kernel releases the flock when its process dies (a crash)."""

    def __init__(self, store: CentralStore, instance_id: str):
        self.store = store
        self.instance_id = instance_id
        self.fd: int | None = os.open(store.alive_path(instance_id), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        """Clean stop: forget the record and the lock."""
        for path in (self.store.instance_path(self.instance_id), self.store.alive_path(self.instance_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.abandon()

    def abandon(self) -> None:
        """A crash: the lock goes with the process; the record stays until pruned."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# -------------------------------------------------------------------------------------------------------------------
# What an administrator does in Micetro's HA configuration, and the simulator's truth
# -------------------------------------------------------------------------------------------------------------------

# The simulator's vocabulary for a member's real state (MicetroHA.truth()):
ACTIVE = "active"  # running, in HA mode, and the Active member in the database
STANDBY = "standby"  # running in HA mode, registered, not Active, not in failed state
FAILED = "failed"  # the former Active after a failover, until it is restarted (running or not)
STOPPED = "stopped"  # registered, not running against this database
NOT_A_MEMBER = "not-a-member"  # running with this ClusterMemberName, but not a valid HA member of this cluster
DUPLICATE = "duplicate"  # more than one running Central claims this name in HA mode (a copied file, name unchanged)


def priority_order(members: dict[str, int]) -> list[str]:
    # central_ha.rst: the primary gets priority 10, each failover "20 or higher"; "The priority for each failover
    # member should be unique and higher than the primary" -> the lowest number is the most preferred member.
    # ASSUMPTION: equal priorities (the vendor says "should be unique", not "must") are ordered by name.
    return sorted(members, key=lambda n: (members[n], n))


class MicetroHA:
    """Micetro's High Availability configuration for one shared database (Admin -> Configuration -> High
    Availability in the web interface, Tools -> Manage High Availability in the old console), and the simulator's
    view of what is really going on there.

    ASSUMPTION: the simulator lets the test harness edit the configuration directly, without a running Central to
    log in to (as if an administrator had done it earlier); the vendor's order of steps is the product's business.
    """

    def __init__(self, store: CentralStore, database_server: str, database_type: str = "postgresql"):
        db_type = database_type.strip().lower()
        if db_type not in HA_DATABASE_TYPES:
            # central_ha.rst: "High Availability mode is not available for other database types."
            raise ValueError(f"High Availability needs MSSQL or PostgreSQL, not {database_type!r}")
        self.store = store
        self.database_type = db_type
        self.database_server = database_server
        self.key = database_key(db_type, database_server)

    def _tx(self):  # type: ignore[no-untyped-def]
        return self.store.transaction(self.database_type, self.database_server)

    @staticmethod
    def _event(db: dict[str, Any], text: str) -> None:
        db["events"].append([time.time(), text])

    # -- the administrator's actions ------------------------------------------------------------------------------

    def register(self, name: str, priority: int) -> None:
        """central_ha.rst steps 5-6 / 9: "Enter the name ... and set the priority", "Click Add Member"."""
        with self._tx() as db:
            if name in db["members"]:
                raise ValueError(f"{name!r} is already a member")
            db["members"][name] = int(priority)
            self._event(db, f"registered {name} (priority {priority})")

    def unregister(self, name: str) -> None:
        """central_ha.rst, "Editing HA Member Options": "Remove Member: Remove the server member from the HA cluster"."""
        with self._tx() as db:
            if name not in db["members"]:
                raise KeyError(name)
            del db["members"][name]
            if name in db["failed"]:
                db["failed"].remove(name)
            self._event(db, f"unregistered {name}")

    def set_priority(self, name: str, priority: int) -> None:
        """central_ha.rst, "Edit Member: Change the name or priority of the server member in the HA cluster"."""
        with self._tx() as db:
            if name not in db["members"]:
                raise KeyError(name)
            db["members"][name] = int(priority)
            self._event(db, f"priority of {name} set to {priority}")

    def set_active(self, name: str) -> None:
        """central_ha.rst, "Set Active: Set the server to be the Active member of the HA cluster manually".

        ASSUMPTION: the target must be a valid member (registered, running in HA mode, not in failed state); the
        member that was Active becomes a Standby (a planned switch, not a failure).
        """
        truth = self.truth()
        if truth.get(name) not in (STANDBY, ACTIVE):
            raise ValueError(f"{name!r} is not a running, valid HA member (it is {truth.get(name, 'unknown')})")
        with self._tx() as db:
            old = db["active"]
            db["active"] = name
            self._event(db, f"set-active {name} (was {old})")

    # -- what the administrator can read ---------------------------------------------------------------------------

    def members(self) -> dict[str, int]:
        return dict(self.store.read(self.database_type, self.database_server)["members"])

    def database(self) -> dict[str, Any]:
        """The raw database document (members, active, failed, heartbeats, schema_version, events)."""
        return self.store.read(self.database_type, self.database_server)

    def events(self) -> list[tuple[float, str]]:
        return [(t, text) for t, text in self.database()["events"]]

    # -- the simulator's truth -------------------------------------------------------------------------------------

    def instances(self) -> list[dict[str, Any]]:
        """Running Centrals connected to this database (plus, for registered names, ones running elsewhere)."""
        members = self.members()
        return [r for r in self.store.instances()
                if r.get("db") == self.key
                or (r.get("name") in members and r.get("name") and r.get("mode") == "sqlite")]

    def truth(self) -> dict[str, str]:
        """The real state of every registered member and of every named Central running against this database."""
        db = self.database()
        members = db["members"]
        live = self.store.instances()
        names = set(members)
        names.update(r["name"] for r in live if r.get("db") == self.key and r.get("name"))
        out = {}
        for name in sorted(names):
            ha_live = [r for r in live if r.get("db") == self.key and r.get("mode") == "ha" and r.get("name") == name]
            # Running with this name but not as a member of this cluster: standalone against this database, or on
            # SQLite (which joins no cluster). A Central with this name against another shared database belongs to
            # that database's cluster (clusters may reuse names), so it does not count here.
            other = [r for r in live if r.get("name") == name and r not in ha_live
                     and (r.get("db") == self.key or r.get("mode") == "sqlite")]
            if len(ha_live) > 1:
                out[name] = DUPLICATE
            elif ha_live:
                if name not in members:
                    out[name] = NOT_A_MEMBER
                elif db["active"] == name:
                    out[name] = ACTIVE
                elif name in db["failed"]:
                    out[name] = FAILED
                else:
                    out[name] = STANDBY
            elif other:
                out[name] = NOT_A_MEMBER
            elif name in db["failed"]:
                out[name] = FAILED
            else:
                out[name] = STOPPED
        return out

    def active(self) -> str | None:
        """The member really serving as Active now (running, HA mode, Active in the database), or None."""
        for name, state in self.truth().items():
            if state == ACTIVE:
                return name
        return None

    def wait(self, predicate: Callable[[dict[str, str]], bool], timeout: float, poll: float = 0.1) -> dict[str, str]:
        """Poll truth() until `predicate(truth)` holds; returns that truth or raises TimeoutError with the last one."""
        deadline = time.monotonic() + timeout
        while True:
            truth = self.truth()
            if predicate(truth):
                return truth
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s; truth is {truth}")
            time.sleep(poll)
