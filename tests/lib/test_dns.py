"""The round-robin DNS check and the verification through the name, against a real BIND 9 on
loopback (tests/hosts/bind_server.py) and real TCP listeners."""

import socket

import pytest

from hacontrol.lib.dns import check_round_robin, parse_server, verify_through_name
from tests.conftest import loopback as net_address

MEMBERS = [("central1", "192.0.2.10"), ("central2", "192.0.2.20"), ("central3", "2001:db8::30")]


@pytest.fixture
def server(bind):
    bind.change("central.example.com", add={"A": ["192.0.2.10", "192.0.2.20"], "AAAA": ["2001:db8::30"]})
    bind.change("missing.example.com", add={"A": ["192.0.2.10"], "AAAA": ["2001:db8::30"]})
    bind.change("extra.example.com", add={"A": ["192.0.2.10", "192.0.2.20", "198.51.100.7"], "AAAA": ["2001:db8::30"]})
    bind.change("central2.example.com", add={"A": ["192.0.2.20"]})
    return bind


def test_a_name_that_matches_every_member_is_ok(server):
    report = check_round_robin("central.example.com", MEMBERS, server.server)
    assert report.ok and report.addresses == ["192.0.2.10", "192.0.2.20", "2001:db8::30"]


def test_a_member_missing_from_the_answer_is_shown(server):
    report = check_round_robin("missing.example.com", MEMBERS, server.server)
    assert not report.ok
    assert [m["name"] for m in report.members if not m["present"]] == ["central2"]


def test_an_address_that_belongs_to_no_member_is_listed(server):
    report = check_round_robin("extra.example.com", MEMBERS, server.server)
    assert report.extra == ["198.51.100.7"] and not report.ok


def test_a_member_given_by_host_name_is_resolved_first(server):
    report = check_round_robin("central.example.com", [("central2", "central2.example.com")], server.server)
    assert report.members == [{"name": "central2", "address": "central2.example.com", "present": True}]


def test_an_unknown_name_says_nxdomain(server):
    report = check_round_robin("nope.example.com", MEMBERS, server.server)
    assert report.error == "nope.example.com does not exist (NXDOMAIN)"


def test_a_resolver_that_is_no_address_is_reported_not_raised():
    report = check_round_robin("central.example.com", MEMBERS, "dns.example.com")
    assert "is not an address" in report.error


@pytest.mark.parametrize(("text", "parsed"), [
    ("192.0.2.1", ("192.0.2.1", 53)), ("192.0.2.1:5353", ("192.0.2.1", 5353)), ("2001:db8::1", ("2001:db8::1", 53)),
    ("[2001:db8::1]:5353", ("2001:db8::1", 5353)), ("[::1]", ("::1", 53)),
])
def test_a_server_is_an_address_with_an_optional_port(text, parsed):
    assert parse_server(text) == parsed


@pytest.mark.parametrize("text", ["dns.example.com", "192.0.2.1:0", "192.0.2.1:70000", "[::1]x", "192.0.2.1:x"])
def test_anything_else_is_not_a_server(text):
    with pytest.raises(ValueError):
        parse_server(text)


# Verify through the name (the vendor's step 12) ------------------------------------------------

@pytest.fixture
def listener():
    """A TCP port that accepts connections on <test net>.20 (standing in for Central)."""
    sock = socket.socket()
    sock.bind((net_address(20), 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def test_the_active_members_address_accepting_makes_the_name_verified(bind, listener):
    bind.change("central.example.com", add={"A": [net_address(20), net_address(21)]})
    members = [("central1", net_address(20)), ("central2", net_address(21))]
    report = verify_through_name("central.example.com", members, "central1", listener, bind.server, timeout=1)
    assert report.ok, report.problem
    rows = {row["address"]: row for row in report.addresses}
    assert rows[net_address(20)]["accepts"] and rows[net_address(20)]["member"] == "central1"
    assert not rows[net_address(21)]["accepts"] and rows[net_address(21)]["error"] == "Connection refused"


def test_the_active_member_not_accepting_fails_the_verification(bind, listener):
    bind.change("central.example.com", add={"A": [net_address(20), net_address(21)]})
    members = [("central1", net_address(20)), ("central2", net_address(21))]
    report = verify_through_name("central.example.com", members, "central2", listener, bind.server, timeout=1)
    assert not report.ok
    assert report.problem == f"the Active member central2 does not accept connections on {net_address(21)} port {listener}"


def test_an_active_member_missing_from_the_answer_fails_the_verification(bind, listener):
    bind.change("central.example.com", add={"A": [net_address(20)]})
    members = [("central1", net_address(20)), ("central2", net_address(21))]
    report = verify_through_name("central.example.com", members, "central2", listener, bind.server, timeout=1)
    assert report.problem == "the Active member central2 is not in the answer: clients reach only other members"


def test_without_a_known_active_member_the_name_is_not_called_verified(bind, listener):
    bind.change("central.example.com", add={"A": [net_address(20)]})
    report = verify_through_name("central.example.com", [("central1", net_address(20))], "", listener, bind.server)
    assert not report.ok and "does not know which member is Active" in report.problem
    assert report.addresses[0]["accepts"], "each address is still tried"


def test_a_name_that_does_not_exist_cannot_be_verified(bind):
    report = verify_through_name("nope.example.com", [], "central1", 1231, bind.server)
    assert report.problem == "nope.example.com does not exist (NXDOMAIN)" and report.addresses == []
