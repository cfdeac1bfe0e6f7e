"""A text field whose value is encrypted at rest with Fernet keys from the settings."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.views.decorators.debug import sensitive_variables

PREFIX = "fernet:"


def derived_key() -> str:
    """The key derived from SECRET_KEY, used when no HACONTROL_SECRET_KEY is set: good enough for
    ``make run``, refused by ``manage.py check --deploy`` (changing SECRET_KEY would make every
    stored credential unreadable)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"hacontrol:{settings.SECRET_KEY}".encode()).digest()).decode()


@cache
@sensitive_variables()
def fernet() -> MultiFernet:
    """The keys from HACONTROL_SECRET_KEY (first encrypts, all decrypt), or one derived from
    SECRET_KEY when none is set."""
    keys = settings.HACONTROL_SECRET_KEYS or [derived_key()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "HACONTROL_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
        ) from None


@sensitive_variables()
def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


@sensitive_variables()
def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "a stored credential cannot be decrypted: HACONTROL_SECRET_KEY lost its old key"
        ) from None


class EncryptedTextField(models.TextField):
    """Stores ``fernet:<token>``; Python code only ever sees the clear text."""

    def from_db_value(self, value, expression, connection):  # noqa: ARG002
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
