"""What a cluster member name may be.

The name goes into preferences.cfg on the host and into command lines shown to administrators,
so it is held to a conservative alphabet: letters, digits, dot, dash and underscore, starting with
a letter or digit, at most 63 characters (a DNS label's length, which most admins mirror).
"""

from __future__ import annotations

import re

MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MEMBER_NAME_RULE = (
    "use 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit"
)
HOST_ADDRESS = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def member_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a ClusterMemberName, or None when it can."""
    if MEMBER_NAME.fullmatch(name):
        return None
    if not name:
        return "the name is empty"
    if len(name) > 63:
        return f"the name is {len(name)} characters long; {MEMBER_NAME_RULE}"
    bad = next((c for c in name if not re.fullmatch(r"[A-Za-z0-9._-]", c)), None)
    if bad is not None:
        return f"the name contains {bad!r}, which could break preferences.cfg or a command; {MEMBER_NAME_RULE}"
    return f"the name must start with a letter or digit; {MEMBER_NAME_RULE}"


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a host name or IP address, or None when it is one."""
    import ipaddress

    try:
        ipaddress.ip_address(address)
        return None
    except ValueError:
        pass
    if HOST_ADDRESS.fullmatch(address) and not address.replace(".", "").isdigit():
        return None
    return "enter a host name (central1.example.com) or an IP address (192.0.2.10 or 2001:db8::10)"
