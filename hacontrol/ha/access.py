"""Who may do what: administrators change things, any other signed-in user only looks."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied

from hacontrol.lib.clients import client_address, meta_key

ADMIN_GROUP = "HA administrators"
ADMINS_ONLY = "Only HA administrators may change clusters."


def is_admin(user) -> bool:
    """Superusers and members of the "HA administrators" group may change clusters."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=ADMIN_GROUP).exists()


def admin_required(view):
    """Refuse (403) a signed-in user who is not an administrator; sign-in itself is enforced
    for every view by LoginRequiredMiddleware."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied(ADMINS_ONLY)
        return view(request, *args, **kwargs)

    return wrapper


def access_context(request) -> dict:
    user = getattr(request, "user", None)
    return {"is_admin": bool(user) and is_admin(user)}


def request_address(request) -> str:
    """The address the request comes from: the client's, read from the trusted proxy's header
    when HACONTROL_PROXY_HEADER is set (see hacontrol.lib.clients)."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.HACONTROL_PROXY_HEADER
    if not header:
        return remote
    return client_address(remote, request.META.get(meta_key(header)), settings.HACONTROL_TRUSTED_PROXIES)
