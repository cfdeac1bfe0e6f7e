"""RFC 2136 updates signed with TSIG, against a real BIND 9: every test reads the zone's real
content back by AXFR."""

import pytest

from hacontrol.lib import dnsupdate
from hacontrol.lib.dnsupdate import ConcurrentChange, DnsUpdateError, RRsets, Target
from tests.hosts.bind_server import ALGORITHM, KEY_NAME, OTHER_KEY_NAME, new_secret

NAME = "central.example.com"
MEMBERS = [("central1", "192.0.2.10"), ("central2", "192.0.2.20"), ("central3", "2001:db8::30")]


def target(bind, *, secret=None, key_name=KEY_NAME, server=None) -> Target:
    return Target("example.com", server or bind.server, key_name, ALGORITHM, secret or bind.secret)


def nothing_resolves(host):
    return set()


def fix(bind, members=MEMBERS, resolve=nothing_resolves, **target_options):
    where = target(bind, **target_options)
    plan = dnsupdate.plan_fix(NAME, dnsupdate.read(where, NAME), members, resolve)
    dnsupdate.apply(where, plan)
    return plan


def test_an_empty_name_gets_every_members_address_a_or_aaaa_by_family(bind):
    plan = fix(bind)
    assert [c.describe() for c in plan.changes] == [
        "add A 192.0.2.10 (central1's address)", "add A 192.0.2.20 (central2's address)",
        "add AAAA 2001:db8::30 (central3's address)"]
    assert bind.records() == {f"{NAME}. A": {"192.0.2.10", "192.0.2.20"}, f"{NAME}. AAAA": {"2001:db8::30"}}
    assert bind.ttl(NAME) == dnsupdate.DEFAULT_TTL


def test_records_of_no_member_are_planned_for_deletion_and_the_rest_keeps_its_ttl(bind):
    bind.change(NAME, add={"A": ["192.0.2.10", "198.51.100.7"]}, ttl=60)
    plan = fix(bind)
    assert [c.describe() for c in plan.deletions] == ["delete A 198.51.100.7 (belongs to no member)"]
    assert [c.address for c in plan.additions] == ["192.0.2.20", "2001:db8::30"]
    assert bind.addresses(NAME) == {"192.0.2.10", "192.0.2.20", "2001:db8::30"}
    assert bind.ttl(NAME) == 60, "records added to an RRset take its TTL"


def test_a_name_that_already_matches_needs_no_change(bind):
    fix(bind)
    where = target(bind)
    assert dnsupdate.plan_fix(NAME, dnsupdate.read(where, NAME), MEMBERS, nothing_resolves).changes == []


def test_a_concurrent_change_after_the_read_is_refused_not_overwritten(bind):
    where = target(bind)
    plan = dnsupdate.plan_fix(NAME, dnsupdate.read(where, NAME), MEMBERS, nothing_resolves)
    bind.change(NAME, add={"A": ["203.0.113.5"]})  # another administrator, meanwhile
    with pytest.raises(ConcurrentChange, match="changed since it was read .* nothing was changed"):
        dnsupdate.apply(where, plan)
    assert bind.addresses(NAME) == {"203.0.113.5"}


def test_a_concurrent_change_to_the_other_family_is_refused_too(bind):
    bind.change(NAME, add={"A": ["192.0.2.10"]})
    where = target(bind)
    plan = dnsupdate.plan_fix(NAME, dnsupdate.read(where, NAME), MEMBERS[:2], nothing_resolves)
    bind.change(NAME, add={"AAAA": ["2001:db8::99"]})
    with pytest.raises(ConcurrentChange):
        dnsupdate.apply(where, plan)
    assert bind.addresses(NAME) == {"192.0.2.10", "2001:db8::99"}


def test_a_wrong_secret_is_refused_and_changes_nothing(bind):
    with pytest.raises(DnsUpdateError, match=r"rejected the signature of key hacontrol-test\. \(BADSIG\)"):
        fix(bind, secret=new_secret())
    assert bind.records() == {}


def test_a_key_the_server_does_not_know_is_refused(bind):
    with pytest.raises(DnsUpdateError, match=r"does not know the TSIG key nobody\. \(BADKEY\)"):
        fix(bind, key_name="nobody.")
    assert bind.records() == {}


def test_a_key_the_policy_does_not_allow_for_the_name_is_refused(bind):
    with pytest.raises(DnsUpdateError, match="update policy does not let this key change central.example.com"):
        fix(bind, key_name=OTHER_KEY_NAME, secret=bind.other_secret)
    assert bind.records() == {}


def test_the_opposite_update_puts_the_previous_records_back(bind):
    bind.change(NAME, add={"A": ["192.0.2.10", "198.51.100.7"]}, ttl=120)
    where = target(bind)
    before = dnsupdate.read(where, NAME)
    after = dnsupdate.apply(where, dnsupdate.plan_fix(NAME, before, MEMBERS, nothing_resolves))
    assert bind.addresses(NAME) == {"192.0.2.10", "192.0.2.20", "2001:db8::30"}
    dnsupdate.send(where, NAME, after, before)
    assert bind.records() == {f"{NAME}. A": {"192.0.2.10", "198.51.100.7"}}
    assert bind.ttl(NAME) == 120


def test_undoing_after_someone_else_changed_the_name_is_refused(bind):
    where = target(bind)
    before = dnsupdate.read(where, NAME)
    after = dnsupdate.apply(where, dnsupdate.plan_fix(NAME, before, MEMBERS, nothing_resolves))
    bind.change(NAME, delete={"A": ["192.0.2.20"]})
    with pytest.raises(ConcurrentChange):
        dnsupdate.send(where, NAME, after, before)
    assert bind.addresses(NAME) == {"192.0.2.10", "2001:db8::30"}


def test_ipv6_loopback_members_get_aaaa_records_sent_over_ipv6(bind):
    if not bind.ipv6:
        pytest.skip("no ::1 on this machine")
    plan = fix(bind, members=[("central1", "::1"), ("central2", "127.0.8.11")], server=bind.server6)
    assert [(c.rdtype, c.address) for c in plan.changes] == [("AAAA", "::1"), ("A", "127.0.8.11")]
    assert bind.records() == {f"{NAME}. AAAA": {"::1"}, f"{NAME}. A": {"127.0.8.11"}}


def test_a_member_given_by_host_name_is_resolved_first_and_that_is_said(bind):
    plan = fix(bind, members=[("central1", "192.0.2.10"), ("central2", "central2.example.com")],
               resolve=lambda host: {"192.0.2.20"} if host == "central2.example.com" else set())
    assert plan.notes == ["central2 is given by host name central2.example.com: resolved to 192.0.2.20"]
    assert bind.addresses(NAME) == {"192.0.2.10", "192.0.2.20"}


def test_a_member_host_name_that_does_not_resolve_stops_the_plan(bind):
    with pytest.raises(DnsUpdateError, match="central2 is given by host name gone.example.com, which does not resolve"):
        fix(bind, members=[("central1", "192.0.2.10"), ("central2", "gone.example.com")])


def test_removing_a_member_deletes_only_its_address(bind):
    bind.change(NAME, add={"A": ["192.0.2.10", "192.0.2.20"], "AAAA": ["2001:db8::30"]})
    where = target(bind)
    plan = dnsupdate.plan_member(NAME, dnsupdate.read(where, NAME), ("central2", "192.0.2.20"),
                                 [MEMBERS[0], MEMBERS[2]], nothing_resolves, add=False)
    dnsupdate.apply(where, plan)
    assert bind.addresses(NAME) == {"192.0.2.10", "2001:db8::30"}


def test_an_address_another_member_shares_is_kept(bind):
    bind.change(NAME, add={"A": ["192.0.2.10"]})
    where = target(bind)
    plan = dnsupdate.plan_member(NAME, dnsupdate.read(where, NAME), ("central2", "192.0.2.10"),
                                 [("central1", "central1.example.com")], lambda host: {"192.0.2.10"}, add=False)
    assert plan.changes == [] and plan.notes[-1] == "192.0.2.10 is also another member's address: kept"


def test_an_alias_is_not_replaced(bind):
    bind.set_alias(NAME, "elsewhere.example.com")
    with pytest.raises(DnsUpdateError, match="is an alias"):
        dnsupdate.read(target(bind), NAME)


def test_a_server_that_is_not_authoritative_for_the_name_is_refused(bind):
    elsewhere = Target("example.org", bind.server, KEY_NAME, ALGORITHM, bind.secret)
    with pytest.raises(DnsUpdateError, match="answered REFUSED"):
        dnsupdate.read(elsewhere, "central.example.org")


def test_an_unreachable_server_says_so(bind):
    with pytest.raises(DnsUpdateError, match=f"cannot reach {bind.address}:1: Connection refused"):
        dnsupdate.read(target(bind, server=f"{bind.address}:1"), NAME)


def test_a_plan_survives_json_and_its_digest_names_it(bind):
    bind.change(NAME, add={"A": ["198.51.100.7"]})
    plan = dnsupdate.plan_fix(NAME, dnsupdate.read(target(bind), NAME), MEMBERS, nothing_resolves)
    again = dnsupdate.Plan.from_json(plan.as_json())
    assert again.after() == plan.after() and again.digest() == plan.digest()
    assert RRsets.from_json(plan.before.as_json()) == plan.before


KEY_FILE = '''key "hacontrol-key" {
\talgorithm hmac-sha256;
\tsecret "w7QDuT1yq0Rb4o4NkT5JW2hvQn6SAdyVqQ+qmlJ6Sxs=";
};
'''


def test_a_bind_key_file_gives_name_algorithm_and_secret():
    assert dnsupdate.parse_key_file(KEY_FILE) == (
        "hacontrol-key", "hmac-sha256", "w7QDuT1yq0Rb4o4NkT5JW2hvQn6SAdyVqQ+qmlJ6Sxs=")
    with pytest.raises(ValueError):
        dnsupdate.parse_key_file("secret nothing")


def test_settings_that_cannot_work_are_named():
    problems = dnsupdate.settings_problems("example.org", "ns1.example.org", "key name!", "gss-tsig", "not base64!",
                                           "central.example.com")
    assert set(problems) == {"zone", "server", "key_name", "algorithm", "secret"}
    assert problems["zone"] == "central.example.com is not inside example.org: give the zone that holds the name"
    assert dnsupdate.settings_problems("example.com", "192.0.2.53:5353", "k", "hmac-sha256",
                                       "w7QDuT1yq0Rb4o4NkT5JW2hvQn6SAdyVqQ+qmlJ6Sxs=", NAME) == {}
