"""SSH host keys as administrators paste them ('TYPE BASE64', as in known_hosts), and WinRM TLS
certificates by their SHA-256 fingerprint, checked early.

A key is checked when it is entered, so a typo is refused with a clear message in the form, the
CLI or the API instead of breaking every later connection to the host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct

KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)


class HostKeyFormatError(ValueError):
    """The text is not an SSH public host key; the message says what is wrong."""


def parse_host_key(line: str) -> tuple[str, bytes]:
    """Return (type, key blob) of a 'TYPE BASE64 [comment]' line; a known_hosts line with host
    names in front is accepted too."""
    words = line.strip().split()
    while words and words[0] not in KEY_TYPES:
        words = words[1:]
    if len(words) < 2:
        raise HostKeyFormatError(
            "paste the key as 'TYPE BASE64', e.g. 'ssh-ed25519 AAAAC3Nz…' (ssh-keyscan prints it); "
            f"known types: {', '.join(KEY_TYPES[:5])}"
        )
    key_type, data = words[0], words[1]
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HostKeyFormatError(f"the {key_type} key is not valid base64") from None
    try:
        (length,) = struct.unpack(">I", blob[:4])
        inner_type = blob[4 : 4 + length].decode("ascii")
    except (struct.error, UnicodeDecodeError):
        inner_type = ""
    if inner_type != key_type:
        raise HostKeyFormatError(f"the key data is not a {key_type} key (it says {inner_type or 'nothing readable'})")
    return key_type, blob


def normalise_host_key(line: str) -> str:
    """'TYPE BASE64' without host names or comment."""
    key_type, blob = parse_host_key(line)
    return f"{key_type} {base64.b64encode(blob).decode()}"


def fingerprint(line: str) -> str:
    """The SHA256 fingerprint OpenSSH prints for a 'TYPE BASE64' key line."""
    _, blob = parse_host_key(line)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def normalise_certificate_fingerprint(text: str) -> str:
    """A TLS certificate's SHA-256 as hacontrol pins it, ``SHA256:`` and 64 upper-case hex digits,
    from the ways tools print it (``openssl x509 -fingerprint -sha256``: colon-separated; PowerShell's
    ``Get-FileHash`` or ``certutil``: plain hex, any case; with or without a ``SHA256:`` prefix)."""
    digits = re.sub(r"^\s*(?:sha-?256\s*(?:fingerprint)?\s*[:=]?)?", "", text, flags=re.IGNORECASE)
    digits = re.sub(r"[\s:]", "", digits)
    if not re.fullmatch(r"[0-9A-Fa-f]{64}", digits):
        raise HostKeyFormatError("give the certificate's SHA-256 as 64 hex digits, e.g. 'SHA256:3F2A…' "
                                 "(openssl x509 -noout -fingerprint -sha256 prints it)")
    return "SHA256:" + digits.upper()
