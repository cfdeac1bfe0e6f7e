"""Central's HA rules, proved on in-process Centrals (CentralInstance) with the vendor's shortest heartbeat settings
(HeartbeatInterval 5, HeartbeatMaxAllowedDowntime 20).

The scenarios that must wait for real heartbeat timeouts run once, side by side, in a module-scoped fixture that
records what happened; the tests below assert on the record.
"""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hosts.central import CentralInstance, CentralStore, MicetroHA

from .conftest import Instances, next_address, xml_prefs

INTERVAL, DOWNTIME = 5, 20
SLACK = 0.6  # scheduling and polling slack, seconds


def poll(fn, timeout: float, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    return fn()


def last_heartbeat(ha: MicetroHA, name: str) -> float:
    return float(ha.database()["heartbeats"][name]["ts"])


def event_time(ha: MicetroHA, text: str) -> float | None:
    for t, e in ha.events():
        if e == text:
            return t
    return None


# ---------------------------------------------------------------------------------------------------------------
# Scenarios that wait for real time, run in parallel
# ---------------------------------------------------------------------------------------------------------------


def scenario_stop_active(inst: Instances, store: CentralStore, rec: dict[str, Any]) -> None:
    """A(10) Active, B(20) Standby; A stops; later A returns; then B (now Active) restarts within the downtime."""
    ha = MicetroHA(store, "x@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    a = inst(xml_prefs("a", "x@mmsuite"))
    b = inst(xml_prefs("b", "x@mmsuite"))
    assert a.start() and b.start()
    rec["before"] = ha.truth()
    time.sleep(1)
    a.stop()
    rec["stopped_at"] = time.time()
    rec["a_last_hb"] = last_heartbeat(ha, "a")
    seen = []
    while time.time() < rec["stopped_at"] + DOWNTIME + INTERVAL + 3:
        truth = ha.truth()
        seen.append((time.time(), truth, ha.active()))
        if truth.get("b") == "active":
            break
        time.sleep(0.05)
    rec["seen"] = seen
    rec["failover_at"] = event_time(ha, "failover a -> b")
    rec["after_failover"] = ha.truth()
    assert a.start()
    rec["a_returned"] = ha.truth()
    time.sleep(INTERVAL + 1)  # a full heartbeat period later: A still does not take Active back
    rec["a_returned_later"] = ha.truth()
    # Quick restart of the Active (B) within the allowed downtime: stopped for longer than a heartbeat interval, so
    # A checks at least once while B is down, but shorter than HeartbeatMaxAllowedDowntime.
    b.stop()
    rec["b_stopped"] = ha.truth()
    time.sleep(INTERVAL + 3)
    rec["during_quick_restart"] = ha.truth()
    assert b.start()
    time.sleep(1)
    rec["after_quick_restart"] = ha.truth()
    rec["events"] = ha.events()


def scenario_crash_middle(inst: Instances, store: CentralStore, rec: dict[str, Any]) -> None:
    """B(20) is Active (it started first); A(10), C(30) Standby; B crashes -> who takes over?"""
    ha = MicetroHA(store, "y@mmsuite")
    for name, prio in (("a", 10), ("b", 20), ("c", 30)):
        ha.register(name, prio)
    a, b, c = (inst(xml_prefs(n, "y@mmsuite")) for n in "abc")
    assert b.start()
    rec["b_alone"] = ha.truth()
    assert a.start() and c.start()
    rec["before"] = ha.truth()
    time.sleep(0.5)
    b.kill()
    rec["crashed_at"] = time.time()
    rec["b_last_hb"] = last_heartbeat(ha, "b")
    rec["new_active"] = poll(ha.active, DOWNTIME + INTERVAL + 3)
    rec["took_over_at"] = time.time()
    rec["after"] = ha.truth()


def scenario_unregister_active(inst: Instances, store: CentralStore, rec: dict[str, Any]) -> None:
    ha = MicetroHA(store, "z@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    a, b = inst(xml_prefs("a", "z@mmsuite")), inst(xml_prefs("b", "z@mmsuite"))
    assert a.start() and b.start()
    rec["before"] = ha.truth()
    ha.unregister("a")
    t0 = time.time()
    rec["new_active"] = poll(ha.active, 2 * INTERVAL + 2)
    rec["after_s"] = time.time() - t0
    rec["after"] = ha.truth()
    rec["a_status"] = a.status()


def scenario_newer_version_joins(inst: Instances, store: CentralStore, rec: dict[str, Any]) -> None:
    ha = MicetroHA(store, "w@mmsuite")
    ha.register("old", 10)
    ha.register("new", 20)
    old = inst(xml_prefs("old", "w@mmsuite"), version="11.0.3")
    new = inst(xml_prefs("new", "w@mmsuite"), version="11.1.0")
    assert old.start()
    rec["schema_before"] = store.schema_version("postgresql", "w@mmsuite")
    assert new.start()
    rec["schema_after"] = store.schema_version("postgresql", "w@mmsuite")
    t0 = time.time()
    rec["old_exited"] = poll(lambda: not old.running, INTERVAL + 2)
    rec["old_exit_s"] = time.time() - t0
    rec["old_error"] = old.error
    rec["old_restart"] = old.start()
    rec["old_restart_error"] = old.error


def scenario_partition(inst: Instances, store: CentralStore, rec: dict[str, Any]) -> None:
    """The Active loses its database (still running): the standby takes over; the old Active stays failed."""
    ha = MicetroHA(store, "v@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    a, b = inst(xml_prefs("a", "v@mmsuite")), inst(xml_prefs("b", "v@mmsuite"))
    assert a.start() and b.start()
    time.sleep(0.3)
    a.faults.add("db-unreachable")
    rec["cut_at"] = time.time()
    rec["a_last_hb"] = last_heartbeat(ha, "a")
    rec["still_active"] = ha.active()  # A is still Active in the database (and running) until someone fails over
    rec["new_active"] = poll(lambda: ha.active() != "a" and ha.active(), DOWNTIME + INTERVAL + 3)
    rec["took_over_at"] = time.time()
    rec["a_running"] = a.running
    a.faults.discard("db-unreachable")
    time.sleep(INTERVAL + 1)  # A reconnects and sees it lost Active
    rec["after_reconnect"] = ha.truth()
    rec["a_role"] = a.status()["role"]


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("ha-timeline")
    store = CentralStore(root / "store")
    inst = Instances(root / "instances", store)
    scenarios = {"stop_active": scenario_stop_active, "crash_middle": scenario_crash_middle,
                 "unregister_active": scenario_unregister_active, "newer_version": scenario_newer_version_joins,
                 "partition": scenario_partition}
    records: dict[str, dict[str, Any]] = {name: {} for name in scenarios}
    errors: dict[str, BaseException] = {}

    def run(name: str) -> None:
        try:
            scenarios[name](inst, store, records[name])
        except BaseException as e:  # noqa: BLE001 - reported by the tests
            errors[name] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in scenarios]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
    finally:
        inst.stop_all()
    for name, e in errors.items():
        records[name]["error"] = repr(e)
    return records


def _ok(rec: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in rec, rec["error"]
    return rec


def test_the_first_started_registered_member_is_active_and_the_next_is_standby(timeline) -> None:  # type: ignore
    assert _ok(timeline["stop_active"])["before"] == {"a": "active", "b": "standby"}


def test_a_stopped_active_fails_over_only_after_the_allowed_downtime(timeline) -> None:  # type: ignore
    rec = _ok(timeline["stop_active"])
    hb = rec["a_last_hb"]
    failover = rec["failover_at"]
    assert failover is not None, rec["events"] if "events" in rec else rec
    # ha_tweaks_central.rst: failover when now - heartbeat > HeartbeatMaxAllowedDowntime ...
    assert failover - hb > DOWNTIME
    # ... checked at each of the standby's heartbeats: never later than hb + downtime + interval.
    assert failover <= hb + DOWNTIME + INTERVAL + SLACK
    # Until then there is no Active member at all (the stopped Active is not serving), and B stays Standby.
    before = [(t, truth, active) for t, truth, active in rec["seen"] if t < failover - SLACK]
    assert before
    bad = [(t - failover, truth, active) for t, truth, active in before
           if not (active is None and truth["b"] == "standby" and truth["a"] == "stopped")]
    assert not bad
    # health_bar_information.rst: the former Active "will be in failed state until it is fixed or restarted".
    assert rec["after_failover"] == {"a": "failed", "b": "active"}


def test_a_returning_former_active_is_standby(timeline) -> None:  # type: ignore
    rec = _ok(timeline["stop_active"])
    assert rec["a_returned"] == {"a": "standby", "b": "active"}
    assert rec["a_returned_later"] == {"a": "standby", "b": "active"}


def test_a_quick_restart_of_the_active_within_the_downtime_triggers_no_failover(timeline) -> None:  # type: ignore
    rec = _ok(timeline["stop_active"])
    assert rec["b_stopped"] == {"a": "standby", "b": "stopped"}
    assert rec["during_quick_restart"] == {"a": "standby", "b": "stopped"}
    assert rec["after_quick_restart"] == {"a": "standby", "b": "active"}
    assert [e for _, e in rec["events"] if e.startswith("failover")] == ["failover a -> b"]


def test_the_next_valid_central_is_the_lowest_priority_one_even_when_the_failed_active_was_not_first(
        timeline) -> None:  # type: ignore
    rec = _ok(timeline["crash_middle"])
    assert rec["b_alone"] == {"a": "stopped", "b": "active", "c": "stopped"}
    assert rec["before"] == {"a": "standby", "b": "active", "c": "standby"}
    assert rec["new_active"] == "a"
    assert rec["after"] == {"a": "active", "b": "failed", "c": "standby"}
    assert rec["took_over_at"] <= rec["b_last_hb"] + DOWNTIME + INTERVAL + SLACK + 0.1


def test_removing_the_active_from_the_ha_configuration_hands_over(timeline) -> None:  # type: ignore
    rec = _ok(timeline["unregister_active"])
    assert rec["before"] == {"a": "active", "b": "standby"}
    assert rec["new_active"] == "b"
    assert rec["after_s"] <= 2 * INTERVAL + SLACK
    assert rec["after"] == {"a": "not-a-member", "b": "active"}
    assert rec["a_status"]["mode"] == "standalone"


def test_a_newer_central_upgrades_the_schema_and_an_older_one_stops_and_refuses_it(timeline) -> None:  # type: ignore
    rec = _ok(timeline["newer_version"])
    assert (rec["schema_before"], rec["schema_after"]) == ("11.0.3", "11.1.0")
    assert rec["old_exited"] and rec["old_exit_s"] <= INTERVAL + SLACK
    assert "newer than this Central" in rec["old_error"]
    assert rec["old_restart"] is False and "newer than this Central" in rec["old_restart_error"]


def test_an_active_that_loses_its_database_is_replaced_and_stays_failed(timeline) -> None:  # type: ignore
    rec = _ok(timeline["partition"])
    assert rec["still_active"] == "a"
    assert rec["new_active"] == "b" and rec["a_running"]
    assert rec["a_last_hb"] + DOWNTIME < rec["took_over_at"] <= rec["a_last_hb"] + DOWNTIME + INTERVAL + SLACK + 0.1
    assert rec["after_reconnect"] == {"a": "failed", "b": "active"} and rec["a_role"] == "failed"


# ---------------------------------------------------------------------------------------------------------------
# Fast rules
# ---------------------------------------------------------------------------------------------------------------


def test_the_vendor_first_member_steps(instances: Instances, store: CentralStore) -> None:
    """central_ha.rst: set the name, restart, register with priority 10, restart, verify Active."""
    ha = MicetroHA(store, "db1@mmsuite")
    c1 = instances(xml_prefs(None))
    assert c1.start()
    assert c1.status()["mode"] == "standalone" and ha.truth() == {}
    c1.stop()
    c1.preferences_path.write_text(xml_prefs("central1"))  # step 1: add ClusterMemberName
    assert c1.start()  # step 2: restart
    assert ha.truth() == {"central1": "not-a-member"}
    assert "further configuration is necessary" in c1.status()["reason"]
    ha.register("central1", 10)  # steps 3-6
    assert ha.truth() == {"central1": "not-a-member"}  # takes effect at the next start
    c1.stop()
    assert c1.start()  # step 7: restart
    assert ha.truth() == {"central1": "active"} and ha.active() == "central1"  # step 8


def test_an_unregistered_name_is_not_a_valid_member(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    a = instances(xml_prefs("a"))
    # Its clock runs far ahead: a member with such a clock takes over at once (see the clock test below); a
    # non-member does not, because it is not a valid HA member (it writes no heartbeat and checks nothing).
    stranger = instances(xml_prefs("c9"), clock_offset=DOWNTIME + 10)
    assert a.start() and stranger.start()
    assert ha.truth() == {"a": "active", "c9": "not-a-member"}
    assert "c9" not in ha.database()["heartbeats"]
    assert stranger.status()["mode"] == "standalone" and "not a member" in stranger.status()["reason"]
    a.kill()
    assert ha.truth() == {"a": "stopped", "c9": "not-a-member"}


def test_a_sqlite_central_never_joins(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("central2", 20)
    c = instances('<ClusterMemberName value="central2"/>\n')  # no Database: the default, SQLite
    assert c.start()
    assert c.status()["mode"] == "sqlite"
    assert ha.truth() == {"central2": "not-a-member"}
    assert ha.database()["heartbeats"] == {}
    with pytest.raises(ValueError):
        MicetroHA(store, "x", database_type="sqlite")


def test_a_clock_far_ahead_makes_an_unwanted_failover(instances: Instances, store: CentralStore) -> None:
    """ha_tweaks_central.rst: "It's crucial that the cluster member machines have a synchronized time.\""""
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    a = instances(xml_prefs("a"))
    b = instances(xml_prefs("b"), clock_offset=DOWNTIME + 10)
    assert a.start() and b.start()
    # B judges A's fresh heartbeat by its own clock: older than the allowed downtime -> failover at once.
    assert ha.truth() == {"a": "failed", "b": "active"}
    assert a.running  # A still runs, in failed state, until restarted
    b.clock_offset = 0
    a.stop()
    assert a.start()
    assert ha.truth() == {"a": "standby", "b": "active"}


def test_a_copied_file_with_an_unchanged_name_is_a_duplicate(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    one, two = instances(xml_prefs("a")), instances(xml_prefs("a"))
    assert one.start() and two.start()
    assert ha.truth() == {"a": "duplicate"} and ha.active() is None


def test_set_active_switches_without_a_failed_state(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    a, b = instances(xml_prefs("a")), instances(xml_prefs("b"))
    assert a.start() and b.start()
    ha.set_active("b")
    assert ha.truth() == {"a": "standby", "b": "active"}
    with pytest.raises(ValueError):
        ha.set_active("nobody")


def test_central_does_not_start_without_its_database(instances: Instances, store: CentralStore) -> None:
    # central_postgresql.rst: "If the database connection fails, the service will not start".
    c = instances(xml_prefs("a", server=None))
    assert c.start() is False and "DatabaseServer" in (c.error or "")
    store.set_available("postgresql", "down@mm", False)
    c = instances(xml_prefs("a", server="down@mm"))
    assert c.start() is False and "connect" in (c.error or "")
    store.set_credentials("postgresql", "auth@mm", "mm", "right")
    bad = instances(xml_prefs("a", server="auth@mm", username="mm", password="plaintext:wrong"))
    assert bad.start() is False and "Login failed" in (bad.error or "")
    good = instances(xml_prefs("b", server="auth@mm", username="mm", password="plaintext:right"))
    assert good.start()
    # the hashed password left in the file still logs in (a copy of the file works on another member)
    copy = instances(good.preferences_path.read_bytes().replace(b'"b"', b'"c"'))
    assert b"plaintext" not in copy.preferences_path.read_bytes()
    assert copy.start()
    assert instances('<Database value="oracle"/>\n').start() is False


def test_members_with_the_same_server_share_a_store_and_others_do_not(instances: Instances,
                                                                       store: CentralStore) -> None:
    ha = MicetroHA(store, "DB1@MMSUITE")  # DatabaseServer compared case-insensitively
    ha.register("a", 10)
    ha.register("b", 20)
    a = instances(xml_prefs("a", server="db1@mmsuite"))
    b = instances(xml_prefs("b", server="db2@mmsuite"))
    assert a.start() and b.start()
    assert ha.truth() == {"a": "active", "b": "stopped"}  # b runs, but against another database
    mssql = instances(xml_prefs("a", db="MSSQL", server="db1@mmsuite"))
    assert mssql.start()
    assert mssql.status()["db"] != a.status()["db"]


def test_every_running_central_listens_on_its_port(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    ha.register("b", 20)
    addr_a, addr_b = next_address(), next_address()
    a = instances(xml_prefs("a"), listen=(addr_a, 1231))
    b = instances(xml_prefs("b"), listen=(addr_b, 1231))
    assert a.start() and b.start()
    assert ha.truth() == {"a": "active", "b": "standby"}
    for addr in (addr_a, addr_b):
        with socket.create_connection((addr, 1231), timeout=2) as s:
            assert s.recv(1) == b""  # accepted, then closed by Central
    busy = instances(xml_prefs(None), listen=(addr_a, 1231))
    assert busy.start() is False and "1231" in (busy.error or "")
    b.stop()
    with pytest.raises(OSError):
        socket.create_connection((addr_b, 1231), timeout=2).close()


def test_an_ini_file_needs_11_2(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    ini = "DatabaseType=postgresql\nDatabaseServer=db1@mmsuite\nClusterMemberName=a\nHeartbeatInterval=5\n"
    old = instances(ini, version="11.1.1")
    assert old.start() and old.status()["mode"] == "sqlite"
    old.stop()
    new = instances(ini, version="11.2.0")
    assert new.start() and ha.truth() == {"a": "active"}


def test_the_plaintext_password_is_hashed_on_start_and_nothing_else_changes(instances: Instances,
                                                                            tmp_path: Path) -> None:
    original = (b'<password value="fingerprint"/>\r\n<database value="postgresql" />\r\n'
                b'<databaseserver value="db1@mmsuite"/>\r\n<databasepassword value="plaintext:S3cr&amp;t" />\r\n'
                b"<SomethingElse value='kept'/>\r\n")
    c = instances(original)
    inode = c.preferences_path.stat().st_ino
    assert c.start()
    after = c.preferences_path.read_bytes()
    from tests.hosts.central import hash_password

    assert after == original.replace(b"plaintext:S3cr&amp;t", hash_password("S3cr&t").encode())
    assert c.preferences_path.stat().st_ino == inode  # rewritten in place
    c.stop()
    assert c.start() and c.preferences_path.read_bytes() == after  # nothing more to do


def test_a_central_instance_can_be_killed_and_started_again(instances: Instances, store: CentralStore) -> None:
    ha = MicetroHA(store, "db1@mmsuite")
    ha.register("a", 10)
    a = instances(xml_prefs("a"))
    assert a.start()
    started = a.started_at
    assert started and abs(started - time.time()) < 5
    a.kill()
    assert not a.running and ha.truth() == {"a": "stopped"}
    assert a.start() and ha.truth() == {"a": "active"}
    assert isinstance(a, CentralInstance)
