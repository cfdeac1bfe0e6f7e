"""System checks of the production settings (``manage.py check --deploy``, run by the container's
entrypoint before it starts anything)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, register

from hacontrol.ha.fields import derived_key

HINT = ("generate one with `python manage.py ha new-key`, give it as HACONTROL_SECRET_KEY or in the file "
        "HACONTROL_SECRET_KEY_FILE names, and keep it apart from SECRET_KEY (README: Keys)")


@register(Tags.security, deploy=True)
def credential_key(app_configs, **kwargs) -> list[Error]:
    """Refuse to run in production on the credential key derived from SECRET_KEY: rotating
    SECRET_KEY would make every stored credential unreadable, and one leaked secret would open both."""
    keys = settings.HACONTROL_SECRET_KEYS
    if not keys:
        return [Error("HACONTROL_SECRET_KEY is not set: stored credentials would be encrypted with a key derived "
                      "from SECRET_KEY", hint=HINT, id="hacontrol.E001")]
    errors = []
    if derived_key() in keys:
        errors.append(Error("HACONTROL_SECRET_KEY holds the key derived from SECRET_KEY", hint=HINT,
                            id="hacontrol.E002"))
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(Error(f"HACONTROL_SECRET_KEY's key number {position} is not a Fernet key (32 url-safe "
                                "base64 bytes)", hint=HINT, id="hacontrol.E003"))
    return errors
