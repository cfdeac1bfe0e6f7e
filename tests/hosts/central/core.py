"""Central itself: start-up, heartbeats, failover, shutdown. Used by the Linux daemon (daemon.py) and, in-process,
by CentralInstance (for a Windows host emulator).

Every rule carries its source; choices the documents do not make are marked ASSUMPTION.
"""
from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from pathlib import Path

from . import prefs as P
from ._util import version_tuple, write_json
from .store import AliveToken, CentralStore, database_key, priority_order

TYPE_CHECKING = False  # (not imported from typing: the daemon stays small)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# architecture.rst: "Micetro Central listens on TCP port 1231."; firewall_ports.rst: "Micetro Central", 1231, "TCP";
# running_micetro.rst: "-p <port>  Set port number to listen to (default 1231)".
CENTRAL_PORT = 1231


class CentralStartError(Exception):
    """Central exits during start-up; the message is the reason it gives."""


class CentralFatal(Exception):
    """Central exits while running."""


def _vt(v: str) -> tuple[int, ...]:
    return version_tuple(v)


class CentralCore:
    """One Central process's behaviour. Not thread-safe: one runner (daemon main loop or instance thread) drives it."""

    def __init__(
        self,
        *,
        preferences_path: Path,
        data_dir: Path,
        store: CentralStore,
        version: str,
        listen: tuple[str, int] | None,
        clock_offset: Callable[[], float] = lambda: 0.0,
        log: Callable[[str], None] = lambda msg: None,
        db_reachable: Callable[[], bool] = lambda: True,
        host: str = "",
        pid: int | None = None,
        status_sink: Callable[[dict[str, Any]], None] | None = None,
    ):
        version_tuple(version)  # validate
        self.preferences_path = Path(preferences_path)
        self.data_dir = Path(data_dir)
        self.store = store
        self.version = version
        self.listen = listen
        self.clock_offset = clock_offset
        self.log = log
        self.db_reachable = db_reachable
        self.host = host or (listen[0] if listen else "")
        self.pid = pid if pid is not None else os.getpid()
        self.status_sink = status_sink
        self.instance_id = os.urandom(16).hex()
        self.settings: P.Settings | None = None
        self.mode = "stopped"  # "sqlite", "standalone" or "ha"
        self.role = "stopped"  # "active", "standby", "failed", "standalone", ...
        self.reason = ""
        self.db_key: str | None = None
        self.sock: socket.socket | None = None
        self.alive: AliveToken | None = None
        self.started_at: float | None = None
        self._db_was_down = False

    # -- helpers ---------------------------------------------------------------------------------------------------

    def now(self) -> float:
        # ha_tweaks_central.rst: "The local time of the cluster member machines are used to update the heartbeat
        # timestamp in the database." A host whose clock runs ahead/behind writes (and judges) heartbeats with it.
        return time.time() + float(self.clock_offset())

    @property
    def interval(self) -> float:
        return float(self.settings.heartbeat_interval if self.settings else P.HEARTBEAT_INTERVAL_DEFAULT)

    @property
    def name(self) -> str | None:
        return self.settings.cluster_member_name if self.settings else None

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {
            "id": self.instance_id,
            "pid": self.pid,
            "host": self.host,
            "version": self.version,
            "name": self.name,
            "mode": self.mode,
            "role": self.role,
            "reason": self.reason,
            "db": self.db_key,
            "db_type": s.database_type if s else None,
            "db_server": s.database_server if s else None,
            "heartbeat_interval": s.heartbeat_interval if s else None,
            "max_downtime": s.max_downtime if s else None,
            "preferences_format": s.fmt if s else None,
            "preferences": str(self.preferences_path),
            "data_dir": str(self.data_dir),
            "started_at": self.started_at,
        }

    def _publish(self) -> None:
        if self.alive is not None:
            write_json(self.store.instance_path(self.instance_id), self.status())
        if self.status_sink is not None:
            self.status_sink(self.status())

    def _set_role(self, role: str, reason: str | None = None) -> None:
        changed = role != self.role or (reason is not None and reason != self.reason)
        self.role = role
        if reason is not None:
            self.reason = reason
        if changed:
            self.log(f"High Availability: this Central ({self.name or 'unnamed'}) is {role}"
                     + (f": {reason}" if reason else ""))
            self._publish()

    # -- start-up --------------------------------------------------------------------------------------------------

    def startup(self) -> None:
        """Start Central or raise CentralStartError (the process then exits: the service fails to start)."""
        try:
            self._startup()
        except BaseException:
            self._release(clean=True)
            raise

    def _startup(self) -> None:
        self.started_at = time.time()
        if not self.data_dir.is_dir():
            # ASSUMPTION: Central does not recreate a missing data directory (install_central.rst: it is made by the
            # installer, "Data directory for Micetro Central: Usually /var/mmsuite/mmcentral").
            raise CentralStartError(f"Data directory {self.data_dir} does not exist")

        # config_files.rst: preferences.cfg is "Micetro Central configuration file", read when Central starts.
        try:
            data = self.preferences_path.read_bytes()
        except FileNotFoundError:
            # ASSUMPTION: without a preferences file Central runs on its defaults (SQLite, no HA), as a fresh
            # install does (domain.md: "A freshly installed failover host still has Central's defaults (SQLite)").
            data = b""
            self.log(f"{self.preferences_path} not found; using default settings")
        prefs = P.read(data, self.version)
        settings = P.settings(prefs)
        self.settings = settings
        for note in settings.notes:
            self.log(note)

        # central_postgresql.rst: "After Central starts and processes the configuration file, it will automatically
        # convert the plaintext password into a hashed format". ASSUMPTION: this happens as soon as the file is
        # processed, before the database is contacted (so also when the connection then fails).
        rewritten = P.hash_plaintext_passwords(data, prefs)
        if rewritten is not None:
            try:
                # In place (same inode, owner and mode): only the value changes.
                with open(self.preferences_path, "r+b") as f:
                    f.write(rewritten)
                    f.truncate()
                self.log("DatabasePassword in plaintext was replaced by its hash")
            except OSError as e:
                # ASSUMPTION: an unwritable file does not stop Central; the password simply stays in plaintext.
                self.log(f"could not rewrite {self.preferences_path}: {e}")

        # Port 1231 (see CENTRAL_PORT). ASSUMPTION: a Central that cannot bind its port does not start.
        if self.listen is not None:
            self.sock = self._bind(self.listen)

        db_type = settings.database_type
        if db_type == P.DEFAULT_DATABASE_TYPE:
            # central_ha.rst: HA "is not available for other database types": a SQLite Central runs standalone
            # (architecture.rst: with SQLite, extra Centrals can only be a "cold standby").
            self.mode = "sqlite"
            self.db_key = None
            self.alive = AliveToken(self.store, self.instance_id)
            self._set_role("standalone", "SQLite database: High Availability needs MSSQL or PostgreSQL")
            self.log(f"Micetro Central {self.version} started (SQLite database)")
            return
        if db_type not in P.HA_DATABASE_TYPES:
            # ASSUMPTION: an unknown database type is a configuration error Central cannot start with.
            raise CentralStartError(f"Unsupported database type {db_type!r}")
        server = settings.database_server
        if not server or not server.strip():
            # central_postgresql.rst: "If the database connection fails, the service will not start".
            raise CentralStartError("No DatabaseServer configured; cannot connect to the database")
        if not self.db_reachable():
            raise CentralStartError(f"Unable to connect to the database {server!r}")

        self.db_key = database_key(db_type, server)
        self.alive = AliveToken(self.store, self.instance_id)
        with self.store.transaction(db_type, server) as db:
            if not db["available"]:
                raise CentralStartError(f"Unable to connect to the database {server!r}")
            cred = db["credentials"]
            if cred is not None:
                password = P.password_from_value(settings.database_password)
                if settings.database_username != cred["username"] or password != cred["password"]:
                    raise CentralStartError(f"Login failed for user {settings.database_username!r}")
            self._check_schema(db, starting=True)
            self._choose_mode(db)
            self._publish()
            if self.mode == "ha":
                # health_bar_information.rst: "The former active server will be in failed state until it is fixed or
                # restarted." -> starting clears this member's failed state.
                if self.name in db["failed"]:
                    db["failed"].remove(self.name)
                db["events"].append([time.time(), f"{self.name} started (HA member, {self.host}, {self.version})"])
                # ASSUMPTION: start-up counts as the first heartbeat: the member writes it and checks the Active's at
                # once (so the first member is Active right after its restart, central_ha.rst step 8).
                self._ha_step(db)
        self.log(f"Micetro Central {self.version} started ({db_type} database {server})")

    def _bind(self, listen: tuple[str, int]) -> socket.socket:
        s = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(listen)
            s.listen(128)
        except OSError as e:
            s.close()
            raise CentralStartError(f"Cannot listen on {listen[0]}:{listen[1]}: {e.strerror}") from None
        s.setblocking(False)
        return s

    def _check_schema(self, db: dict[str, Any], starting: bool) -> None:
        """Central creates or upgrades the database schema to its own version; it cannot run on a newer one.

        central_mssql.rst: "The database schema will be created during the first connection." The release notes
        (10.1, "The database upgrade process ...", the table `mm_databaseupgrades`) show Central upgrading the database
        when a new version starts. micetro-central-ha.rst ("Updating Central in High Availability setup") has the
        secondaries turned off before the primary is upgraded and upgraded before they run again.
        ASSUMPTION: the schema carries the full version of the newest Central that connected; an older Central
        refuses to start against a newer schema, and one already running exits at its next heartbeat (its queries
        would fail against the upgraded schema). A newer Central upgrades it at start-up.
        """
        current = db["schema_version"]
        mine = self.version
        if current is None:
            db["schema_version"] = mine
            db["events"].append([time.time(), f"schema {mine} created by Central {self.name or '(unnamed)'}"])
        elif _vt(mine) > _vt(current):
            if starting:
                db["schema_version"] = mine
                db["events"].append([time.time(), f"schema upgraded {current} -> {mine} by {self.name or '(unnamed)'}"])
        elif _vt(mine) < _vt(current):
            msg = f"The database schema version {current} is newer than this Central ({mine}); upgrade Central"
            if starting:
                raise CentralStartError(msg)
            raise CentralFatal(msg)

    def _choose_mode(self, db: dict[str, Any]) -> None:
        name = self.name
        members = db["members"]
        # central_ha.rst (note): "When there are no HA members defined or if Micetro Central has not been configured
        # for HA, a message will appear, indicating further configuration is necessary." The administrator still logs
        # in to such a Central to register it (central_ha.rst steps 3-6): it serves, standalone.
        if not name:
            self.mode = "standalone"
            self._set_role("standalone", "No ClusterMemberName: not configured for High Availability; further "
                                         "configuration is necessary")
        elif not members:
            self.mode = "standalone"
            self._set_role("standalone", "No HA members defined; further configuration is necessary")
        elif name not in members:
            # central_ha.rst: the name must match a member added in the HA configuration ("Enter the name of the first
            # member server to match the previously given name"); ha_tweaks_central.rst: valid = "a HA cluster member".
            self.mode = "standalone"
            self._set_role("standalone", f"ClusterMemberName {name!r} is not a member of the HA configuration")
        else:
            # ASSUMPTION: a Central decides whether it is an HA member when it starts. This is why the vendor restarts
            # Central after registering the first member (central_ha.rst step 7) before it shows as Active (step 8):
            # registering a running Central takes effect at its next start.
            self.mode = "ha"
            self.role, self.reason = "starting", ""  # _ha_step decides (and logs) active/standby/failed

    # -- heartbeats and failover -----------------------------------------------------------------------------------

    def _ha_step(self, db: dict[str, Any]) -> None:
        """Write this member's heartbeat and check the Active member's (inside the database transaction)."""
        name = self.name
        assert name
        members = db["members"]
        if name not in members:
            # ASSUMPTION: a member removed from the HA configuration while running notices it at its next heartbeat
            # and leaves HA mode (stops writing heartbeats, keeps serving standalone); it does not rejoin until it is
            # registered again and restarted (see _choose_mode).
            self.mode = "standalone"
            db["events"].append([time.time(), f"{name} left HA (no longer in the HA configuration)"])
            self._set_role("standalone", f"ClusterMemberName {name!r} was removed from the HA configuration")
            return
        now = self.now()
        # ha_tweaks_central.rst: Central instances "update the heartbeat timestamp in the database every
        # [HeartbeatInterval] seconds", using "The local time of the cluster member machines".
        db["heartbeats"][name] = {"ts": now, "real": time.time(), "instance": self.instance_id, "host": self.host}
        active = db["active"]
        if active == name:
            self._set_role("active", "")
            return
        if name in db["failed"]:
            # health_bar_information.rst: "The former active server will be in failed state until it is fixed or
            # restarted." ASSUMPTION: "fixed" cannot be observed by Central other than by a restart; a failed member
            # that keeps running stays failed and is not a failover candidate.
            self._set_role("failed", "this member was Active and a failover took place; restart it")
            return
        limit = self.settings.max_downtime if self.settings else P.MAX_DOWNTIME_DEFAULT
        # ASSUMPTION: each checking member uses its own HeartbeatMaxAllowedDowntime (ha_tweaks_central.rst: it "can be
        # overwritten ... for each Central instance") and its own clock for "the current time".

        def fresh(member: str) -> bool:
            hb = db["heartbeats"].get(member)
            # ha_tweaks_central.rst: "When the current time [UTC – heartbeat timestamp UTC] > [HeartbeatMaxAllowedDowntime]
            # an automatic failover is triggered."
            return hb is not None and now - hb["ts"] <= limit

        # ASSUMPTION: an Active that is not (or no longer) in the HA configuration, or no Active at all (a new
        # cluster), counts as failed already: there is no heartbeat to wait for.
        active_ok = active is not None and active in members and fresh(active)
        if active_ok:
            self._set_role("standby", "")
            return
        # ha_tweaks_central.rst: "a failover is done to the next valid Central in the list. (Valid meaning, in this
        # case, that the next Central application is a HA cluster member and is writing its heartbeat timestamp to the
        # database.)" The list is ordered by priority (central_ha.rst: primary 10, failovers 20 or higher).
        # ASSUMPTION: "the next valid Central in the list" is the valid member with the lowest priority number, also
        # when the failed Active was not first in the list (the list's order is the order of preference; the other
        # reading, "the one after the failed Active, wrapping around", is not used). Members in failed state are not
        # valid (see above). Each standby checks on each of its own heartbeats and only ever promotes itself: the
        # failover happens at the chosen member's first heartbeat after the Active's heartbeat became older than the
        # allowed downtime, i.e. no later than last heartbeat + HeartbeatMaxAllowedDowntime + HeartbeatInterval.
        candidates = [m for m in priority_order(members) if m != active and m not in db["failed"] and fresh(m)]
        if not candidates or candidates[0] != name:
            self._set_role("standby", "")
            return
        if active is not None and active in members:
            # health_bar_information.rst: "The Standby server is updated and becomes the active server and vice versa.
            # The former active server will be in failed state until it is fixed or restarted."
            if active not in db["failed"]:
                db["failed"].append(active)
            text = f"failover {active} -> {name}"
        elif active is not None:
            text = f"{name} became active ({active} is not in the HA configuration)"
        else:
            text = f"{name} became active (no active member)"
        db["active"] = name
        db["events"].append([time.time(), text])
        self.log(f"High Availability: {text}")
        self._set_role("active", "")

    def tick(self) -> None:
        """One heartbeat period. Raises CentralFatal when this Central must exit."""
        if self.mode not in ("ha", "standalone") or self.settings is None:
            return
        s = self.settings
        assert s.database_server is not None
        if not self.db_reachable():
            # ASSUMPTION: a Central that loses its database keeps running and retries at each heartbeat; meanwhile it
            # writes no heartbeat (so it is not a valid member, and others may fail over if it was Active).
            if not self._db_was_down:
                self.log("Lost the connection to the database; retrying")
                self._db_was_down = True
            return
        with self.store.transaction(s.database_type, s.database_server) as db:
            if not db["available"]:
                if not self._db_was_down:
                    self.log("Lost the connection to the database; retrying")
                    self._db_was_down = True
                return
            if self._db_was_down:
                self.log("Reconnected to the database")
                self._db_was_down = False
            self._check_schema(db, starting=False)
            if self.mode == "ha":
                self._ha_step(db)

    # -- shutdown --------------------------------------------------------------------------------------------------

    def shutdown(self, clean: bool = True) -> None:
        """Stop. A clean stop writes nothing to the database: ASSUMPTION (ha_tweaks_central.rst describes failover by
        heartbeat timeout only): a stopped Active stays Active in the database until its heartbeat is older than the
        allowed downtime, so a quick restart of the Active triggers no failover."""
        if clean and self.mode == "ha" and self.settings and self.settings.database_server and self.db_reachable():
            with contextlib.suppress(Exception):
                with self.store.transaction(self.settings.database_type, self.settings.database_server) as db:
                    db["events"].append([time.time(), f"{self.name} stopped"])
        self.log("Micetro Central stopped" if clean else "Micetro Central killed")
        self.mode = "stopped"
        self.role = "stopped"
        self._release(clean)

    def _release(self, clean: bool) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.alive is not None:
            if clean:
                self.alive.release()
            else:
                self.alive.abandon()
            self.alive = None


def serve(core: CentralCore, wake_fd: int, should_stop: Callable[[], bool]) -> None:
    """Run Central until `should_stop()`: accept (and close) connections on its port, beat every HeartbeatInterval.

    ASSUMPTION: every running Central listens on its port, Standby and failed ones too: the vendor has clients log in
    through a round-robin DNS name holding every member's address (central_ha.rst step 14), which only works if a
    member that is not Active still answers on 1231.
    Raises CentralFatal when Central must exit.
    """
    interval = core.interval
    next_tick = time.monotonic() + interval
    while not should_stop():
        timeout = max(0.0, next_tick - time.monotonic())
        rlist = [wake_fd] + ([core.sock] if core.sock is not None else [])
        try:
            ready, _, _ = select.select(rlist, [], [], timeout)
        except InterruptedError:
            continue
        if core.sock is not None and core.sock in ready:
            while True:
                try:
                    conn, _ = core.sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                conn.close()
        if wake_fd in ready:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                os.read(wake_fd, 4096)
        if should_stop():
            break
        if time.monotonic() >= next_tick:
            core.tick()
            next_tick += interval
            if next_tick <= time.monotonic():
                next_tick = time.monotonic() + interval
