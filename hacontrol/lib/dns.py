"""Compare a cluster's round-robin DNS name with its members' addresses (dnspython)."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field

import dns.exception
import dns.resolver

TIMEOUT = 3.0


@dataclass
class DnsReport:
    """What the name resolved to, which members are in the answer, and what is extra."""

    name: str
    addresses: list[str] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.extra and all(m["present"] for m in self.members)

    def as_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


def make_resolver(server: str = "") -> dns.resolver.Resolver:
    """The system's resolver, or one asking only ``server`` ('IP' or 'IP:port', '[v6]:port')."""
    if not server:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, port = server, 53
        if server.startswith("["):
            host, _, rest = server[1:].partition("]")
            port = int(rest.lstrip(":") or 53)
        elif server.count(":") == 1:
            host, port_text = server.split(":")
            port = int(port_text)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = resolver.timeout = TIMEOUT
    return resolver


def resolve_all(resolver: dns.resolver.Resolver, name: str) -> set[str]:
    """Every A and AAAA address of ``name``; a name with neither raises NXDOMAIN/NoAnswer."""
    found: set[str] = set()
    missing = 0
    for record_type in ("A", "AAAA"):
        try:
            found.update(str(ipaddress.ip_address(r.to_text())) for r in resolver.resolve(name, record_type))
        except dns.resolver.NoAnswer:
            missing += 1
    if missing == 2:
        raise dns.resolver.NoAnswer(f"{name} has no A or AAAA record")
    return found


def addresses_of(resolver: dns.resolver.Resolver, address: str) -> set[str]:
    """An IP stays itself; a host name becomes its addresses (none when it does not resolve)."""
    try:
        return {str(ipaddress.ip_address(address))}
    except ValueError:
        try:
            return resolve_all(resolver, address)
        except dns.exception.DNSException:
            return set()


def check_round_robin(name: str, members: list[tuple[str, str]], server: str = "") -> DnsReport:
    """Resolve ``name`` and compare it with ``members`` given as (member name, address)."""
    report = DnsReport(name=name)
    resolver = make_resolver(server)
    try:
        answer = resolve_all(resolver, name)
    except dns.resolver.NXDOMAIN:
        report.error = f"{name} does not exist (NXDOMAIN)"
        answer = set()
    except dns.exception.Timeout:
        report.error = f"no answer for {name} within {TIMEOUT:g} s" + (f" from {server}" if server else "")
        answer = set()
    except dns.exception.DNSException as error:
        report.error = str(error) or type(error).__name__
        answer = set()
    report.addresses = sorted(answer)
    known: set[str] = set()
    for member_name, address in members:
        mine = addresses_of(resolver, address)
        known |= mine
        report.members.append({"name": member_name, "address": address, "present": bool(mine & answer)})
    report.extra = sorted(answer - known)
    return report
