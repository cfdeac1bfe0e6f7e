"""Settings read from the environment fail loudly on a bad value."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from hacontrol.lib.env import envheader, envnetworks


def test_networks_are_read_as_cidrs_or_single_addresses(monkeypatch):
    monkeypatch.setenv("NETS", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    assert envnetworks("NETS", []) == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.7/32"),
                                       ipaddress.ip_network("2001:db8::/32")]


def test_networks_default_when_unset(monkeypatch):
    monkeypatch.delenv("NETS", raising=False)
    assert envnetworks("NETS", ["127.0.0.0/8"]) == [ipaddress.ip_network("127.0.0.0/8")]


def test_a_bad_network_stops_the_start(monkeypatch):
    monkeypatch.setenv("NETS", "10.0.0.0/8,prometheus.local")
    with pytest.raises(ImproperlyConfigured, match="'prometheus.local' is not an address or network"):
        envnetworks("NETS", [])


def test_a_proxy_header_is_a_header_name(monkeypatch):
    monkeypatch.setenv("HEADER", " X-Forwarded-For ")
    assert envheader("HEADER") == "X-Forwarded-For"
    monkeypatch.setenv("HEADER", "X-Forwarded-For: 1.2.3.4")
    with pytest.raises(ImproperlyConfigured, match="is not a header name"):
        envheader("HEADER")
    monkeypatch.delenv("HEADER")
    assert envheader("HEADER") == ""
