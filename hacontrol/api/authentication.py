"""API tokens in the ``Authorization: Bearer <token>`` header (the browser session works too)."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from hacontrol.ha.models import ApiToken

KEYWORDS = (b"bearer", b"token")


class TokenAuthentication(BaseAuthentication):
    """A user's token (see :class:`hacontrol.ha.models.ApiToken`): looked up by its hash, refused
    once expired or revoked, or when its user is disabled. No CSRF check: no cookie is involved."""

    @sensitive_variables("words")  # the token
    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() not in KEYWORDS:
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed("give the token after 'Bearer', with no space in it")
        token = ApiToken.find(words[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed("unknown or revoked token")
        if token.expired:
            raise exceptions.AuthenticationFailed(f"this token ({token}) expired at {token.expires:%Y-%m-%d %H:%M} UTC")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("this token's user is disabled")
        token.touch()
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="hacontrol"'


class TokenScheme(OpenApiAuthenticationExtension):
    """Tells the schema (and Swagger UI's Authorize button) how tokens are sent."""

    target_class = TokenAuthentication
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token from the console's API tokens page"}
