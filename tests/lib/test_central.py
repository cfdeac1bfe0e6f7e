"""Central's HA rules as hacontrol applies them (hacontrol.lib.central), case by case."""

from hacontrol.lib.central import (
    ACTIVE,
    OFFLINE,
    SLACK,
    STANDBY,
    TAKING_OVER,
    UNKNOWN,
    Facts,
    Memory,
    Timing,
    derive,
    stop_before,
)

FAST = Timing.from_settings("5", "20")  # the shortest the vendor allows
T0 = 1_000_000.0


def member(key, priority, *, running=True, started=T0 - 100, **extra):
    values = dict(key=key, name=f"central{key}", priority=priority, running=running, started_at=started,
                  name_on_host=f"central{key}", database_type="postgresql", database="postgresql db@mmsuite",
                  timing=FAST, last_valid=T0 - 5 if running else None)
    return Facts(**(values | extra))


def states(verdict):
    return {key: state for key, (state, _) in verdict.states.items()}


def test_the_active_member_stays_active_while_it_runs():
    verdict = derive([member(1, 10), member(2, 20)], Memory(1, T0 - 100, T0 - 5), T0)
    assert states(verdict) == {1: ACTIVE, 2: STANDBY}
    assert verdict.memory.active == 1 and verdict.memory.active_seen == T0


def test_active_is_sticky_even_when_a_lower_priority_member_runs():
    verdict = derive([member(1, 10), member(2, 20)], Memory(2, T0 - 100, T0 - 5), T0)
    assert states(verdict) == {1: STANDBY, 2: ACTIVE}


def test_when_the_active_member_stops_nobody_is_active_before_its_heartbeat_is_too_old():
    facts = [member(1, 10, running=False), member(2, 20)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 1), T0)
    assert states(verdict) == {1: OFFLINE, 2: STANDBY}
    assert verdict.failover and verdict.failover.candidates == (2,)
    # Last seen at T0-1: its last heartbeat was at most 5 s before; 20 s later it may be failed over
    # (SLACK: timers on hosts are never exact).
    assert verdict.failover.earliest == T0 - 1 + 20 - 5 - SLACK
    assert verdict.failover.latest == T0 + 20 + 5 + SLACK
    assert "Failing over from central1 to central2" in verdict.note


def test_between_the_earliest_and_latest_failover_the_successor_is_taking_over():
    facts = [member(1, 10, running=False), member(2, 20)]
    memory = Memory(1, T0 - 100, T0 - 30, down_since=T0 - 10)
    verdict = derive(facts, memory, T0)
    assert states(verdict) == {1: OFFLINE, 2: TAKING_OVER}
    assert "expected Active by" in verdict.states[2][1]


def test_after_the_latest_failover_the_only_successor_is_active_and_it_is_a_failover():
    facts = [member(1, 10, running=False), member(2, 20)]
    memory = Memory(1, T0 - 100, T0 - 40, down_since=T0 - 30)
    verdict = derive(facts, memory, T0)
    assert states(verdict) == {1: OFFLINE, 2: ACTIVE}
    assert verdict.memory == Memory(2, T0 - 100, T0, None)
    assert verdict.took_over == (1, (2,))


def test_a_returning_former_active_is_standby():
    facts = [member(1, 10, started=T0 - 2), member(2, 20)]
    verdict = derive(facts, Memory(2, T0 - 100, T0 - 5), T0)
    assert states(verdict) == {1: STANDBY, 2: ACTIVE}


def test_when_the_words_of_the_vendor_do_not_say_who_takes_over_it_says_so():
    # central2 (20) was Active and stopped; "the next valid Central in the list" is central1 (the
    # lowest) or central3 (the next after it): both remain possible.
    facts = [member(1, 10), member(2, 20, running=False), member(3, 30)]
    memory = Memory(2, T0 - 100, T0 - 60, down_since=T0 - 50)
    verdict = derive(facts, memory, T0)
    assert states(verdict) == {1: UNKNOWN, 2: OFFLINE, 3: UNKNOWN}
    assert "does not say which" in verdict.states[1][1]
    assert verdict.memory.active is None and verdict.took_over == (2, (1, 3))


def test_a_quick_restart_of_the_active_member_keeps_it_active():
    facts = [member(1, 10, started=T0 - 3), member(2, 20)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 6), T0)
    assert states(verdict) == {1: ACTIVE, 2: STANDBY}
    assert verdict.memory.active_started == T0 - 3


def test_a_long_unseen_restart_of_the_active_member_makes_the_active_one_unknown():
    facts = [member(1, 10, started=T0 - 3), member(2, 20)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 60), T0)
    assert states(verdict) == {1: UNKNOWN, 2: UNKNOWN}
    assert "cannot tell which member is Active" in verdict.states[1][1]


def test_a_long_restart_with_nobody_else_running_keeps_it_active():
    facts = [member(1, 10, started=T0 - 3), member(2, 20, running=False, last_valid=T0 - 500)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 60), T0)
    assert states(verdict) == {1: ACTIVE, 2: OFFLINE}


def test_without_history_a_lone_member_is_active_once_it_has_checked():
    facts = [member(1, 10, started=T0 - 3)]
    verdict = derive(facts, Memory(), T0)
    assert states(verdict) == {1: TAKING_OVER}
    later = derive(facts, Memory(), T0 + 10)
    assert states(later) == {1: ACTIVE} and later.memory.active == 1


def test_without_history_two_running_members_are_unknown():
    verdict = derive([member(1, 10), member(2, 20)], Memory(), T0)
    assert states(verdict) == {1: UNKNOWN, 2: UNKNOWN}
    assert "does not know which member Central made Active" in verdict.states[1][1]


def test_a_member_not_registered_in_micetro_is_not_a_valid_member():
    verdict = derive([member(1, 10), member(2, 20, registered=False)], Memory(1, T0 - 100, T0 - 5), T0)
    assert verdict.states[2] == (OFFLINE, "not registered in Micetro's High Availability configuration")


def test_a_member_on_another_database_is_not_part_of_the_cluster():
    facts = [member(1, 10), member(2, 20, database="postgresql other@mmsuite")]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 5), T0)
    assert verdict.states[2] == (OFFLINE, "uses another Central database (postgresql other@mmsuite; the cluster "
                                          "uses postgresql db@mmsuite)")


def test_a_sqlite_central_is_not_a_valid_member():
    verdict = derive([member(1, 10, database_type="sqlite")], Memory(), T0)
    assert verdict.states[1][0] == OFFLINE and "not MSSQL or PostgreSQL" in verdict.states[1][1]


def test_an_unreachable_active_member_is_never_replaced_by_a_guess():
    facts = [member(1, 10, reachable=False, error="refused"), member(2, 20)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 60, down_since=T0 - 55), T0)
    assert states(verdict) == {1: OFFLINE, 2: UNKNOWN}
    assert "cannot reach" in verdict.states[2][1] and verdict.memory.active == 1


def test_out_of_range_settings_are_bounded_both_ways():
    timing = Timing.from_settings("3", "200")
    assert (timing.interval_low, timing.interval_high) == (5, 10)
    assert (timing.downtime_low, timing.downtime_high) == (30, 120)


def test_set_active_stops_whoever_central_might_choose_first():
    one, two, three = member(1, 10), member(2, 20), member(3, 30)
    valid = [one, two, three]
    assert [f.key for f in stop_before(three, one, valid)] == [1, 2]
    assert [f.key for f in stop_before(two, one, valid)] == [1]
    # From central2 back to central1: reading "next after the failed one", central3 comes first.
    assert [f.key for f in stop_before(one, two, valid)] == [2, 3]
    assert [f.key for f in stop_before(two, None, valid)] == [1, 3]


def test_a_clock_far_ahead_of_the_active_one_makes_the_active_member_unknown():
    facts = [member(1, 10, clock_skew=0.2), member(2, 20, clock_skew=30.0)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 5), T0)
    assert states(verdict) == {1: UNKNOWN, 2: UNKNOWN} and "Central may have failed over on its own" in verdict.note
    assert verdict.memory.active is None


def test_a_successor_whose_clock_is_behind_takes_over_later():
    facts = [member(1, 10, running=False, clock_skew=0.0), member(2, 20, clock_skew=-10.0)]
    verdict = derive(facts, Memory(1, T0 - 100, T0 - 1), T0)
    assert verdict.failover.latest == T0 + 20 + 5 + SLACK + 10
