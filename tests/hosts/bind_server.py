"""A real BIND 9 (Debian's ``named``) on loopback, serving one zone that takes RFC 2136 updates
signed by a test TSIG key.

Everything named needs lives in one folder of its own (configuration, zone file, journal, pid
file); it runs in the foreground (``-g``) as a child of the tests, listening on one IPv4 address
(and ``::1`` when the machine has it) on a port chosen free, with no control channel, no
recursion and no notifies, so it touches nothing outside that folder and stops with the tests.

named listens only on addresses an interface holds (it scans them), unlike sshd, which binds any
127.x address: the helper adds its address to ``lo`` as a /32 while it runs (packets to 127/8 go
to ``lo`` anyway, so nothing else changes) and takes it away again when it stops.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import dns.zone

NAMED = "/usr/sbin/named"
ZONE = "example.com"
KEY_NAME = "hacontrol-test."
ALGORITHM = "hmac-sha256"
# A second key BIND knows but whose update policy covers another name only: updates of the
# round-robin name signed with it are refused by policy (REFUSED), not for the signature.
OTHER_KEY_NAME = "someone-else."


def new_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(addresses: list[str]) -> int:
    """A TCP and UDP port free on every one of ``addresses`` (named needs both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
        try:
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(family, kind) as probe:
                        probe.bind((address, port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no port free on {addresses}")


class BindServer:
    """``named`` serving ``example.com`` on ``address``:<port>; updates signed with ``secret``
    under ``KEY_NAME`` may change any name in the zone."""

    def __init__(self, folder: Path, address: str):
        self.folder = folder
        self.address = address
        self.ipv6 = has_ipv6_loopback()
        self.port = free_port([address, "::1"] if self.ipv6 else [address])
        self.secret = new_secret()
        self.other_secret = new_secret()
        self.process: subprocess.Popen | None = None
        self.added_address = False

    @property
    def server(self) -> str:
        """The server as a cluster setting takes it: 'address:port'."""
        return f"{self.address}:{self.port}"

    @property
    def server6(self) -> str:
        return f"[::1]:{self.port}"

    def key(self, secret: str | None = None, name: str = KEY_NAME) -> dns.tsig.Key:
        return dns.tsig.Key(name, secret or self.secret, ALGORITHM)

    def write_config(self) -> None:
        folder = self.folder
        listen6 = f"listen-on-v6 port {self.port} {{ ::1; }};" if self.ipv6 else "listen-on-v6 { none; };"
        (folder / "named.conf").write_text(f"""
options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    session-keyfile "{folder}/session.key";
    managed-keys-directory "{folder}";
    listen-on port {self.port} {{ {self.address}; }};
    {listen6}
    recursion no;
    notify no;
    dnssec-validation no;
    allow-transfer {{ 127.0.0.0/8; ::1; }};
    allow-query {{ 127.0.0.0/8; ::1; }};
    automatic-interface-scan no;
}};
controls {{ }};
key "{KEY_NAME}" {{ algorithm {ALGORITHM}; secret "{self.secret}"; }};
key "{OTHER_KEY_NAME}" {{ algorithm {ALGORITHM}; secret "{self.other_secret}"; }};
zone "{ZONE}" {{
    type primary;
    file "{folder}/{ZONE}.db";
    update-policy {{
        grant {KEY_NAME} subdomain {ZONE}. ANY;
        grant {OTHER_KEY_NAME} name other.{ZONE}. A AAAA;
    }};
}};
""")
        (folder / f"{ZONE}.db").write_text(
            "$TTL 300\n"
            f"@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n"
            f"@ IN NS ns1.{ZONE}.\n"
            f"ns1 IN A {self.address}\n"
        )

    def start(self) -> None:
        """Start named on a fresh zone and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f"{ZONE}.db*"):
            stale.unlink()
        self.write_config()
        self.hold_address()
        # -g: foreground, logging to stderr; -4/-6 follow listen-on; run as root, the folder is ours.
        self.process = subprocess.Popen(
            [NAMED, "-g", "-c", str(self.folder / "named.conf")],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "named.log").open("ab"), start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                if self.query(ZONE, "SOA").rcode() == dns.rcode.NOERROR:
                    return
            except (OSError, dns.exception.DNSException):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "named.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"named did not start on {self.server}:\n{log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
            self.process = None
        if self.added_address:
            subprocess.run(["ip", "addr", "del", f"{self.address}/32", "dev", "lo"], capture_output=True)
            self.added_address = False

    def hold_address(self) -> None:
        shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout
        if f" {self.address}/" in shown:
            return
        added = subprocess.run(["ip", "addr", "add", f"{self.address}/32", "dev", "lo"], capture_output=True, text=True)
        if added.returncode != 0:
            raise RuntimeError(f"named needs {self.address} on lo, and adding it failed (root?): {added.stderr.strip()}")
        self.added_address = True

    # Looking at the zone, straight from the server ---------------------------------------------

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        return dns.query.tcp(dns.message.make_query(name, rdtype), self.address, port=self.port, timeout=3)

    def records(self) -> dict[str, set[str]]:
        """The zone's real content by AXFR: {'central.example.com. A': {'192.0.2.10', ...}}
        (SOA, NS and the server's own name left out)."""
        zone = dns.zone.from_xfr(dns.query.xfr(self.address, ZONE, port=self.port, lifetime=5))
        found: dict[str, set[str]] = {}
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                kind = dns.rdatatype.to_text(rdataset.rdtype)
                owner = name.derelativize(zone.origin).to_text()
                if kind in ("SOA", "NS") or owner == f"ns1.{ZONE}.":
                    continue
                found[f"{owner} {kind}"] = {rdata.to_text() for rdata in rdataset}
        return found

    def addresses(self, name: str) -> set[str]:
        """Every A and AAAA address the zone holds for ``name``."""
        fqdn = name.rstrip(".") + "."
        records = self.records()
        return records.get(f"{fqdn} A", set()) | records.get(f"{fqdn} AAAA", set())

    def ttl(self, name: str, rdtype: str = "A") -> int:
        answer = self.query(name, rdtype).answer
        return answer[0].ttl if answer else 0

    # Changing the zone as another administrator would -------------------------------------------

    def change(self, name: str, *, add: dict[str, list[str]] | None = None,
               delete: dict[str, list[str]] | None = None, ttl: int = 300) -> None:
        """Add or delete records with the test key (nothing asked of the zone first)."""
        update = dns.update.UpdateMessage(ZONE, keyring=self.key())
        for rdtype, values in (delete or {}).items():
            update.delete(name.rstrip(".") + ".", rdtype, *values)
        for rdtype, values in (add or {}).items():
            update.add(name.rstrip(".") + ".", ttl, rdtype, *values)
        response = dns.query.tcp(update, self.address, port=self.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def set_alias(self, name: str, target: str) -> None:
        update = dns.update.UpdateMessage(ZONE, keyring=self.key())
        update.add(name.rstrip(".") + ".", 300, "CNAME", target.rstrip(".") + ".")
        response = dns.query.tcp(update, self.address, port=self.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def reset(self) -> None:
        """Empty the zone again (its SOA, NS and the server's own name stay)."""
        update = dns.update.UpdateMessage(ZONE, keyring=self.key())
        for entry in self.records():
            owner, rdtype = entry.split()
            update.delete(owner, rdtype)
        if update.update:
            response = dns.query.tcp(update, self.address, port=self.port, timeout=5)
            assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


def named_available() -> bool:
    return shutil.which(NAMED) is not None or Path(NAMED).exists()
