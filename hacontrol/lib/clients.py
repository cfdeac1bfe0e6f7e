"""Who a request comes from, behind a reverse proxy too.

Behind the recommended reverse proxy every request comes from the proxy's address. The client's own
address is then read from the header the proxy sets (``HACONTROL_PROXY_HEADER``: X-Forwarded-For,
X-Real-IP, ...), and only when the request comes from a trusted proxy (``HACONTROL_TRUSTED_PROXIES``):
anyone else could write any address there. In X-Forwarded-For each proxy appends the address it saw,
so the client is the rightmost address that is not one of the trusted proxies; the addresses to its
left were written by the client and prove nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    found = _address(address)
    return found is not None and any(found in network for network in trusted)


def client_address(remote_addr: str, header_value: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: ``remote_addr``, or, when that is a trusted proxy and it sent the
    header, the rightmost address in the header that is not itself a trusted proxy."""
    if not header_value or not is_trusted(remote_addr, trusted):
        return remote_addr
    for item in reversed(header_value.split(",")):
        found = _address(item)
        if found is None:
            return remote_addr  # a malformed hop: nothing left of it can be believed
        if not any(found in network for network in trusted):
            return str(found)
    return remote_addr


def meta_key(header: str) -> str:
    """Where Django keeps a request header in ``request.META``."""
    return "HTTP_" + header.upper().replace("-", "_")
