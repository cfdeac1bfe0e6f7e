"""The console's roles for the API: any signed-in user (or token) reads, administrators change."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from hacontrol.ha.access import ADMINS_ONLY, is_admin


class AdminOrReadOnly(BasePermission):
    message = ADMINS_ONLY

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_admin(request.user)
