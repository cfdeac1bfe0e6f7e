"""Self-signed TLS certificate for the HTTPS listener (WinRM HTTPS listeners use a server certificate; test
clients connect with server_cert_validation="ignore" or pin the SHA-256 fingerprint)."""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_key = None
_lock = threading.Lock()


def _private_key():
    global _key
    with _lock:
        if _key is None:
            _key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _key


class Certificate:
    def __init__(self, hostname: str, address: str):
        key = _private_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
        now = datetime.datetime.now(datetime.timezone.utc)
        alt = [x509.DNSName(hostname), x509.DNSName("localhost")]
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            alt.append(x509.DNSName(address))
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(key, hashes.SHA256()))
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
        self.sha256 = hashlib.sha256(self.der).hexdigest()
        self.sha1_thumbprint = hashlib.sha1(self.der).hexdigest().upper()
        d = Path(tempfile.mkdtemp(prefix="winrm-cert-"))
        self.cert_file = d / "cert.pem"
        self.key_file = d / "key.pem"
        self.cert_file.write_bytes(self.pem)
        self.key_file.write_bytes(self.key_pem)
