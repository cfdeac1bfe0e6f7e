"""The round-robin DNS check against a real DNS server on loopback."""

import pytest

from hacontrol.lib.dns import check_round_robin
from tests.hosts.dns_server import ZoneServer

MEMBERS = [("central1", "192.0.2.10"), ("central2", "192.0.2.20"), ("central3", "2001:db8::30")]


@pytest.fixture(scope="module")
def server():
    zone = {
        "central.example.com": ["192.0.2.10", "192.0.2.20", "2001:db8::30"],
        "missing.example.com": ["192.0.2.10", "2001:db8::30"],
        "extra.example.com": ["192.0.2.10", "192.0.2.20", "2001:db8::30", "198.51.100.7"],
        "central2.example.com": ["192.0.2.20"],
    }
    zone_server = ZoneServer(zone)
    yield zone_server
    zone_server.stop()


def test_a_name_that_matches_every_member_is_ok(server):
    report = check_round_robin("central.example.com", MEMBERS, server.address)
    assert report.ok and report.addresses == ["192.0.2.10", "192.0.2.20", "2001:db8::30"]


def test_a_member_missing_from_the_answer_is_shown(server):
    report = check_round_robin("missing.example.com", MEMBERS, server.address)
    assert not report.ok
    assert [m["name"] for m in report.members if not m["present"]] == ["central2"]


def test_an_address_that_belongs_to_no_member_is_listed(server):
    report = check_round_robin("extra.example.com", MEMBERS, server.address)
    assert report.extra == ["198.51.100.7"] and not report.ok


def test_a_member_given_by_host_name_is_resolved_first(server):
    report = check_round_robin("central.example.com", [("central2", "central2.example.com")], server.address)
    assert report.members == [{"name": "central2", "address": "central2.example.com", "present": True}]


def test_an_unknown_name_says_nxdomain(server):
    report = check_round_robin("nope.example.com", MEMBERS, server.address)
    assert report.error == "nope.example.com does not exist (NXDOMAIN)"
