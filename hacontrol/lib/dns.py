"""Compare a cluster's round-robin DNS name with its members' addresses, and verify that the name
leads to a working Central (the vendor's step 12: log in through the name), with dnspython."""

from __future__ import annotations

import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import dns.exception
import dns.resolver

TIMEOUT = 3.0
# Central's TCP port (domain.md: "listening on TCP 1231").
CENTRAL_PORT = 1231
CONNECT_TIMEOUT = 3.0


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


def parse_server(server: str, default_port: int = 53) -> tuple[str, int]:
    """'IP', 'IP:port', 'v6' or '[v6]:port' as (IP, port); ValueError when it is none of them."""
    host, port = server.strip(), default_port
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{server!r}: expected [IPv6]:port")
        port = int(rest[1:]) if rest[1:] else default_port
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = int(port_text)
    host = str(ipaddress.ip_address(host))
    if not 1 <= port <= 65535:
        raise ValueError(f"{server!r}: a port is 1 to 65535")
    return host, port


def make_resolver(server: str = "") -> dns.resolver.Resolver:
    """The system's resolver, or one asking only ``server`` ('IP' or 'IP:port', '[v6]:port')."""
    if not server:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, port = parse_server(server)
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
    try:
        resolver = make_resolver(server)
    except ValueError as error:
        report.error = f"the resolver {server!r} is not an address: {error}"
        return report
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


@dataclass
class Verification:
    """The vendor's step 12 without a person: each address ``name`` resolves to, whether Central's
    port accepts a TCP connection there, and whose address it is. ``ok`` when the Active member's
    addresses are in the answer and every one of them accepts; other addresses that do not accept
    are shown (a stopped Standby, a stale record) without making it fail."""

    name: str
    port: int
    active: str = ""
    addresses: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def active_rows(self) -> list[dict]:
        return [row for row in self.addresses if self.active and row["member"] == self.active]

    @property
    def problem(self) -> str:
        """Why the name does not lead to the Active Central, or '' when it does."""
        if self.error:
            return self.error
        if not self.active:
            return "hacontrol does not know which member is Active, so it cannot say whether the name reaches it"
        rows = self.active_rows
        if not rows:
            return f"the Active member {self.active} is not in the answer: clients reach only other members"
        refused = [row["address"] for row in rows if not row["accepts"]]
        if refused:
            return f"the Active member {self.active} does not accept connections on {', '.join(refused)} port {self.port}"
        return ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok, "problem": self.problem}


def accepts(address: str, port: int, timeout: float) -> tuple[bool, str, float]:
    """Whether a TCP connection to ``address``:``port`` is accepted within ``timeout`` seconds:
    (accepted, why not, milliseconds taken)."""
    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            pass
        return True, "", (time.monotonic() - started) * 1000
    except TimeoutError:
        return False, f"no answer within {timeout:g} s", (time.monotonic() - started) * 1000
    except OSError as error:
        return False, error.strerror or str(error), (time.monotonic() - started) * 1000


def verify_through_name(name: str, members: list[tuple[str, str]], active: str = "", port: int = CENTRAL_PORT,
                        server: str = "", timeout: float = CONNECT_TIMEOUT) -> Verification:
    """Resolve ``name`` (through ``server``, or the system's resolver) and try Central's ``port`` at
    every address of the answer at once; ``members`` are (name, address) pairs (a host name is
    resolved to tell whose address it is), ``active`` the member that must accept."""
    report = Verification(name=name, port=port, active=active)
    try:
        resolver = make_resolver(server)
        answer = sorted(resolve_all(resolver, name))
    except ValueError as error:
        report.error = f"the resolver {server!r} is not an address: {error}"
        return report
    except dns.resolver.NXDOMAIN:
        report.error = f"{name} does not exist (NXDOMAIN)"
        return report
    except dns.exception.Timeout:
        report.error = f"no answer for {name} within {TIMEOUT:g} s" + (f" from {server}" if server else "")
        return report
    except dns.exception.DNSException as error:
        report.error = str(error) or type(error).__name__
        return report
    owners: dict[str, str] = {}
    for member_name, address in members:
        for found in addresses_of(resolver, address):
            owners.setdefault(found, member_name)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(answer)))) as pool:
        results = list(pool.map(lambda address: accepts(address, port, timeout), answer))
    for address, (accepted, why, took) in zip(answer, results, strict=True):
        report.addresses.append({"address": address, "member": owners.get(address, ""), "accepts": accepted,
                                 "error": why, "ms": round(took, 1)})
    return report
