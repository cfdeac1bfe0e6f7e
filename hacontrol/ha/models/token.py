"""API tokens: a user's key to the REST API and /metrics, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.models.audit import AuditEvent

TOKEN_PREFIX = "hac_"
# How many characters of a token (its prefix included) are kept to tell tokens apart on a page.
HINT_LENGTH = 10
# last_used is written at most this often per token: a scraper polling every few seconds must
# not turn every read into a write.
TOUCH_EVERY = timedelta(minutes=1)


def digest_of(token: str) -> str:
    """The SHA-256 of a token, as stored: the token itself never is."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        """Tokens not expired, of active users."""
        return self.filter(Q(expires__isnull=True) | Q(expires__gt=timezone.now()), user__is_active=True)


class ApiToken(models.Model):
    """A user's API token, with that user's rights (viewers read, administrators change).

    The token is a random secret shown once, when it is made; only its SHA-256 is stored, so a
    copy of the database opens no door. It may expire; the time it was last used is kept so stale
    tokens can be spotted and revoked.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'prometheus' or 'ansible'")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token")
    hint = models.CharField(max_length=HINT_LENGTH, help_text="The token's first characters")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    @sensitive_variables("token")
    def issue(cls, user, name: str, *, expires: datetime | None = None, actor=None) -> tuple[ApiToken, str]:
        """Make a token for ``user``; returns the row and the token, which is not kept anywhere."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(user=user, name=name, digest=digest_of(token), hint=token[:HINT_LENGTH],
                                 expires=expires)
        AuditEvent.record(actor or user, "token create",
                          detail=f"token {row} of {user.get_username()}, expires {expires or 'never'}")
        return row, token

    @classmethod
    @sensitive_variables("token")
    def find(cls, token: str) -> ApiToken | None:
        """The token's row (expired or not), or None for a token never made or revoked."""
        return cls.objects.select_related("user").filter(digest=digest_of(token)).first()

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def touch(self) -> None:
        """Note that the token was used now (at most once a minute)."""
        now = timezone.now()
        if self.last_used is None or now - self.last_used >= TOUCH_EVERY:
            ApiToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now

    def revoke(self, actor) -> None:
        """Delete the token: it opens nothing any more."""
        AuditEvent.record(actor, "token revoke", detail=f"token {self} of {self.user.get_username()}")
        self.delete()
