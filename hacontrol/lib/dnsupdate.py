"""Change a round-robin name's A and AAAA records by dynamic update (RFC 2136), signed with a TSIG
key (RFC 8945), through dnspython.

The name's records are read straight from the zone's primary server (an authoritative answer,
never a cache), the change is planned from them (:class:`Plan`), and sent as **one** UPDATE whose
prerequisites say the A and AAAA RRsets are still exactly what was read (RFC 2136 2.4.2/2.4.3): if
anyone changed them since, the server refuses the whole update and nothing is overwritten
(:class:`ConcurrentChange`). Undoing is the same update the other way round, with the
prerequisite that the records are still what the change left.

GSS-TSIG (Active Directory-integrated zones, Kerberos-signed updates) is not supported: only
HMAC TSIG keys as BIND, Knot, PowerDNS and most appliances take them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from hacontrol.lib.dns import parse_server

# The HMAC algorithms of RFC 8945 that dnspython signs with, the recommended one first.
ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
RECORD_TYPES = ("A", "AAAA")
# TTL of an RRset the update creates; records added to an existing RRset take its TTL, since a
# server gives a whole RRset one TTL (BIND changes all of them to the newest one's).
DEFAULT_TTL = 300
# Seconds for one answer: reads are shown in a dialog (keep them short); an update may take longer.
READ_TIMEOUT = 3.0
TIMEOUT = 5.0

KEY_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?")
# What a refused update's response code means, in words an administrator can act on.
RCODE_MEANINGS = {
    dns.rcode.REFUSED: "the server's update policy does not let this key change {name} (REFUSED)",
    dns.rcode.NOTAUTH: "the server is not authoritative for {zone} or does not accept this key for it (NOTAUTH)",
    dns.rcode.NOTZONE: "{name} is not inside the zone {zone} (NOTZONE)",
    dns.rcode.SERVFAIL: "the server failed to apply the update (SERVFAIL); its log says why",
    dns.rcode.FORMERR: "the server did not understand the update (FORMERR)",
    dns.rcode.NOTIMP: "the server does not take dynamic updates (NOTIMP)",
}
CHANGED = {dns.rcode.NXRRSET, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.YXDOMAIN}


class DnsUpdateError(Exception):
    """The records could not be read or changed; the message says what the server said."""


class ConcurrentChange(DnsUpdateError):  # noqa: N818 - a fact about the zone, not a failure of ours
    """The records are no longer what was read: the server refused the update, nothing changed."""


@dataclass(frozen=True)
class Target:
    """Where and how to update: the zone, its primary server ('IP[:port]', '[v6]:port') and the key."""

    zone: str
    server: str
    key_name: str
    algorithm: str
    secret: str = field(repr=False)

    @property
    def address(self) -> tuple[str, int]:
        return parse_server(self.server)

    def key(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.key_name, self.secret, self.algorithm)


def settings_problems(zone: str, server: str, key_name: str, algorithm: str, secret: str, name: str) -> dict[str, str]:
    """Why these update settings cannot work, by setting (empty when they can)."""
    problems = {}
    try:
        zone_name = dns.name.from_text(zone)
    except dns.exception.DNSException:
        problems["zone"] = "enter the zone as a DNS name, e.g. example.com"
        zone_name = None
    if zone_name is not None and name and not dns.name.from_text(name).is_subdomain(zone_name):
        problems["zone"] = f"{name} is not inside {zone}: give the zone that holds the name"
    try:
        parse_server(server)
    except ValueError:
        problems["server"] = "enter the primary server's IP address, optionally with :port ([IPv6]:port)"
    if not KEY_NAME.fullmatch(key_name):
        problems["key_name"] = "a TSIG key name is a DNS name (letters, digits, - _ .), e.g. hacontrol-key"
    if algorithm not in ALGORITHMS:
        problems["algorithm"] = f"one of {', '.join(ALGORITHMS)} (GSS-TSIG is not supported)"
    if not secret_is_base64(secret):
        problems["secret"] = "the secret is base64, as in the key's `secret \"...\";` line"
    return problems


def secret_is_base64(secret: str) -> bool:
    try:
        return bool(secret) and bool(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError):
        return False


KEY_FILE = re.compile(r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>[^}]*)\}', re.S)


def parse_key_file(text: str) -> tuple[str, str, str]:
    """(name, algorithm, secret) from a BIND key statement, as `tsig-keygen NAME` prints it."""
    found = KEY_FILE.search(text)
    if not found:
        raise ValueError('no `key "NAME" { algorithm ...; secret "..."; };` statement found')
    body = found["body"]
    algorithm = re.search(r"algorithm\s+\"?([\w-]+)\"?\s*;", body)
    secret = re.search(r'secret\s+"([^"]+)"\s*;', body)
    if not algorithm or not secret:
        raise ValueError(f"the key {found['name']} has no algorithm or no secret")
    return found["name"], algorithm[1].lower(), secret[1]


def record_type(address: str) -> str:
    """'A' for an IPv4 address, 'AAAA' for an IPv6 one."""
    return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"


def normal(address: str) -> str:
    return str(ipaddress.ip_address(address))


@dataclass
class RRsets:
    """A name's A and AAAA records as read (or as a change leaves them): {type: (ttl, addresses)}."""

    ttls: dict[str, int] = field(default_factory=dict)
    records: dict[str, list[str]] = field(default_factory=dict)

    def of(self, rdtype: str) -> list[str]:
        return sorted(self.records.get(rdtype, []), key=ipaddress.ip_address)

    def ttl(self, rdtype: str) -> int:
        return self.ttls.get(rdtype, 0) if self.of(rdtype) else 0

    def all(self) -> list[str]:
        return [address for rdtype in RECORD_TYPES for address in self.of(rdtype)]

    def as_json(self) -> dict:
        return {rdtype: {"ttl": self.ttl(rdtype), "addresses": self.of(rdtype)} for rdtype in RECORD_TYPES}

    @classmethod
    def from_json(cls, data: dict) -> RRsets:
        found = cls()
        for rdtype in RECORD_TYPES:
            entry = data.get(rdtype) or {}
            if entry.get("addresses"):
                found.records[rdtype] = list(entry["addresses"])
                found.ttls[rdtype] = int(entry.get("ttl") or DEFAULT_TTL)
        return found

    def describe(self) -> str:
        parts = [f"{rdtype} {', '.join(self.of(rdtype))} (TTL {self.ttl(rdtype)})" for rdtype in RECORD_TYPES if self.of(rdtype)]
        return "; ".join(parts) or "no A or AAAA record"

    def same_records(self, other: RRsets) -> bool:
        """The same addresses of each type, whatever the TTLs (a server may adjust those)."""
        return all(self.of(rdtype) == other.of(rdtype) for rdtype in RECORD_TYPES)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RRsets) and self.as_json() == other.as_json()


@dataclass
class Change:
    """One record to add or delete, and why."""

    action: str  # "add" or "delete"
    rdtype: str
    address: str
    why: str

    def describe(self) -> str:
        return f"{self.action} {self.rdtype} {self.address} ({self.why})"


@dataclass
class Plan:
    """What an update will do to ``name``: ``before`` is what was read (the prerequisite),
    ``changes`` what to add and delete; ``notes`` say what was worked out on the way (a member
    given by host name, resolved)."""

    name: str
    before: RRsets
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def additions(self) -> list[Change]:
        return [c for c in self.changes if c.action == "add"]

    @property
    def deletions(self) -> list[Change]:
        return [c for c in self.changes if c.action == "delete"]

    def after(self) -> RRsets:
        """The records once the update is applied."""
        result = RRsets()
        for rdtype in RECORD_TYPES:
            addresses = set(self.before.of(rdtype))
            addresses -= {c.address for c in self.deletions if c.rdtype == rdtype}
            addresses |= {c.address for c in self.additions if c.rdtype == rdtype}
            if addresses:
                result.records[rdtype] = sorted(addresses, key=ipaddress.ip_address)
                result.ttls[rdtype] = self.before.ttl(rdtype) or DEFAULT_TTL
        return result

    def describe(self) -> str:
        return "; ".join(c.describe() for c in self.changes) or "nothing to change"

    def digest(self) -> str:
        """Names this exact plan (records read and changes), so a confirmation given for it is
        not taken for another."""
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()[:20]

    def as_json(self) -> dict:
        return {"name": self.name, "before": self.before.as_json(), "notes": self.notes,
                "changes": [{"action": c.action, "type": c.rdtype, "address": c.address, "why": c.why}
                            for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        return cls(data["name"], RRsets.from_json(data["before"]),
                   [Change(c["action"], c["type"], c["address"], c["why"]) for c in data["changes"]],
                   list(data.get("notes", [])))


# Reading -------------------------------------------------------------------------------------------

def fqdn(name: str) -> dns.name.Name:
    return dns.name.from_text(name.rstrip(".") + ".")


def read(target: Target, name: str, timeout: float = READ_TIMEOUT) -> RRsets:
    """The A and AAAA records of ``name`` as the zone's primary server holds them (over TCP, so a
    large round-robin set is never truncated). An alias (CNAME) or a server that is not
    authoritative for the name is refused: hacontrol would not be changing what clients see."""
    found = RRsets()
    owner = fqdn(name)
    for rdtype in RECORD_TYPES:
        query = dns.message.make_query(owner, rdtype)
        query.flags &= ~dns.flags.RD
        response = exchange(target, query, timeout)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DnsUpdateError(f"{target.server} answered {dns.rcode.to_text(rcode)} for {name} {rdtype}")
        if not response.flags & dns.flags.AA:
            raise DnsUpdateError(f"{target.server} is not authoritative for {name}: give the primary server of "
                                 f"{target.zone}")
        for rrset in response.answer:
            if rrset.name != owner:
                continue
            if rrset.rdtype == dns.rdatatype.CNAME:
                raise DnsUpdateError(f"{name} is an alias (CNAME) of {rrset[0].target}: hacontrol does not replace "
                                     "an alias with A/AAAA records; change it by hand first")
            if dns.rdatatype.to_text(rrset.rdtype) == rdtype:
                found.records[rdtype] = sorted((normal(r.to_text()) for r in rrset), key=ipaddress.ip_address)
                found.ttls[rdtype] = rrset.ttl
    return found


# Planning ------------------------------------------------------------------------------------------

Resolve = Callable[[str], set[str]]


def member_addresses(members: list[tuple[str, str]], resolve: Resolve) -> tuple[dict[str, set[str]], list[str]]:
    """Each member's IP addresses: an IP stays itself; a host name is resolved (``resolve``) and
    that is noted. A host name that resolves to nothing is refused: records that may be its
    would otherwise look like nobody's."""
    found, notes = {}, []
    for member, address in members:
        try:
            found[member] = {normal(address)}
            continue
        except ValueError:
            pass
        resolved = {normal(a) for a in resolve(address)}
        if not resolved:
            raise DnsUpdateError(f"{member} is given by host name {address}, which does not resolve: give its IP "
                                 "address, or fix its name first")
        notes.append(f"{member} is given by host name {address}: resolved to {', '.join(sorted(resolved))}")
        found[member] = resolved
    return found, notes


def plan_fix(name: str, before: RRsets, members: list[tuple[str, str]], resolve: Resolve) -> Plan:
    """Make ``name`` hold exactly the members' addresses: add what is missing, delete what belongs
    to no member (those deletions need a confirmation; see :attr:`Plan.deletions`)."""
    owned, notes = member_addresses(members, resolve)
    plan = Plan(name, before, notes=notes)
    present = set(before.all())
    for member, addresses in owned.items():
        for address in sorted(addresses - present, key=ipaddress.ip_address):
            plan.changes.append(Change("add", record_type(address), address, f"{member}'s address"))
            present.add(address)
    everyone = set().union(*owned.values()) if owned else set()
    for address in before.all():
        if address not in everyone:
            plan.changes.append(Change("delete", record_type(address), address, "belongs to no member"))
    return plan


def plan_member(name: str, before: RRsets, member: tuple[str, str], others: list[tuple[str, str]],
                resolve: Resolve, *, add: bool) -> Plan:
    """Add one member's addresses to ``name``, or delete them (keeping any another member shares)."""
    owned, notes = member_addresses([member], resolve)
    plan = Plan(name, before, notes=notes)
    present = set(before.all())
    mine = owned[member[0]]
    if add:
        for address in sorted(mine - present, key=ipaddress.ip_address):
            plan.changes.append(Change("add", record_type(address), address, f"{member[0]}'s address"))
        return plan
    shared: set[str] = set()
    if others:
        # Another member's host name that no longer resolves only means nothing is shared with it.
        for other, address in others:
            try:
                shared |= member_addresses([(other, address)], resolve)[0][other]
            except DnsUpdateError:
                continue
    for address in sorted(mine & present, key=ipaddress.ip_address):
        if address in shared:
            plan.notes.append(f"{address} is also another member's address: kept")
            continue
        plan.changes.append(Change("delete", record_type(address), address, f"{member[0]}'s address"))
    return plan


# Sending -------------------------------------------------------------------------------------------

def send(target: Target, name: str, before: RRsets, after: RRsets, timeout: float = TIMEOUT) -> None:
    """One signed UPDATE turning ``before`` into ``after``, applied only if the name's A and AAAA
    RRsets are still exactly ``before`` (each one present with these values, or absent)."""
    owner = fqdn(name)
    update = dns.update.UpdateMessage(target.zone, keyring=target.key())
    for rdtype in RECORD_TYPES:
        old, new = before.of(rdtype), after.of(rdtype)
        if old:
            update.present(owner, rdtype, *old)
        else:
            update.absent(owner, rdtype)
        for address in [a for a in old if a not in new]:
            update.delete(owner, rdtype, address)
        if set(new) - set(old):
            # Added records take the RRset's own TTL (a server keeps one TTL per RRset).
            update.add(owner, after.ttl(rdtype) or DEFAULT_TTL, rdtype, *[a for a in new if a not in old])
    response = exchange(target, update, timeout)
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    if rcode in CHANGED:
        raise ConcurrentChange(f"{name} changed since it was read (expected {before.describe()}); the server refused "
                               f"the update ({dns.rcode.to_text(rcode)}) and nothing was changed")
    meaning = RCODE_MEANINGS.get(rcode, f"the server refused the update ({dns.rcode.to_text(rcode)})")
    raise DnsUpdateError(meaning.format(name=name, zone=target.zone))


def exchange(target: Target, message: dns.message.Message, timeout: float) -> dns.message.Message:
    """Send ``message`` to the target's server over TCP; what goes wrong on the way (unreachable,
    silent, a signature the server refused) as a :class:`DnsUpdateError` saying so."""
    host, port = target.address
    try:
        return dns.query.tcp(message, host, port=port, timeout=timeout)
    except dns.tsig.PeerBadKey:
        raise DnsUpdateError(f"{target.server} does not know the TSIG key {target.key_name} (BADKEY)") from None
    except dns.tsig.PeerBadSignature:
        raise DnsUpdateError(f"{target.server} rejected the signature of key {target.key_name} (BADSIG): the secret "
                             "or the algorithm differs from the server's") from None
    except dns.tsig.PeerBadTime:
        raise DnsUpdateError(f"{target.server} rejected the signature's time (BADTIME): the clocks of hacontrol and "
                             "the server differ by more than five minutes") from None
    except dns.exception.Timeout:
        raise DnsUpdateError(f"no answer from {target.server} within {timeout:g} s") from None
    except OSError as error:
        raise DnsUpdateError(f"cannot reach {target.server}: {error.strerror or error}") from None
    except dns.exception.DNSException as error:
        raise DnsUpdateError(f"{target.server} answered something unreadable: {error}") from None


def apply(target: Target, plan: Plan) -> RRsets:
    """Send ``plan`` as one update; returns the records it leaves."""
    after = plan.after()
    send(target, plan.name, plan.before, after)
    return after
