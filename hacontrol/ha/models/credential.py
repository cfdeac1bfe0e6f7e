"""Saved credentials: one login (an SSH key, an SSH password, a WinRM account) that many members use."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.fields import EncryptedTextField
from hacontrol.ha.models.choices import CredentialKind, Platform
from hacontrol.remote import private_key_problem

CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}")
SSH_KINDS = (CredentialKind.SSH_KEY, CredentialKind.SSH_PASSWORD)
WINRM_AUTH = {CredentialKind.WINRM_BASIC: "basic", CredentialKind.WINRM_NTLM: "ntlm",
              CredentialKind.WINRM_KERBEROS: "kerberos"}
# Which secrets each kind uses; the others are blanked when it is saved, so none lingers unused.
SECRETS_OF_KIND = {
    CredentialKind.SSH_KEY: ("private_key", "key_passphrase"),
    CredentialKind.SSH_PASSWORD: ("password",),
    CredentialKind.WINRM_BASIC: ("password",),
    CredentialKind.WINRM_NTLM: ("password",),
    CredentialKind.WINRM_KERBEROS: ("password",),
}
SECRET_FIELDS = ("password", "private_key", "key_passphrase")


@sensitive_variables()
def secret_values(password: str, key_passphrase: str, private_key: str) -> set[str]:
    """Stored credentials as they could appear in output: whole values, and a key's lines."""
    found = {v for v in (password, key_passphrase) if v and len(v) >= 4}
    found.update(line for line in private_key.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line)
    return found


class CredentialQuerySet(models.QuerySet):
    def with_use_counts(self) -> CredentialQuerySet:
        """Each credential with how many members use it, its secrets neither loaded nor decrypted."""
        return self.defer(*SECRET_FIELDS).annotate(uses=models.Count("members"))

    def with_secrets_stored(self) -> CredentialQuerySet:
        """Each credential with which secrets it stores (``has_password``, ``has_private_key``,
        ``has_key_passphrase``), told by the database: nothing is decrypted."""
        return self.annotate(**{f"has_{name}": models.ExpressionWrapper(~models.Q(**{name: ""}),
                                                                        output_field=models.BooleanField())
                                for name in SECRET_FIELDS})


class Credential(models.Model):
    """A login saved once and picked by many members (as AWX and Ansible Tower keep them):
    editing it (a key rotated, say) applies to every member that uses it. Its secrets are
    encrypted at rest like a member's own; it cannot be deleted while a member uses it."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=CredentialKind.choices, default=CredentialKind.SSH_KEY)
    username = models.CharField(max_length=100, default="root")
    password = EncryptedTextField(blank=True)
    private_key = EncryptedTextField("SSH private key", blank=True)
    key_passphrase = EncryptedTextField("SSH key passphrase", blank=True)
    use_sudo = models.BooleanField(default=False, help_text="Run commands through sudo -n (SSH)")
    description = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    changed = models.DateTimeField(auto_now=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("credential-detail", args=[self.pk])

    @property
    def platform(self) -> str:
        """The platform whose members can use it."""
        return Platform.LINUX if self.kind in SSH_KINDS else Platform.WINDOWS

    @property
    def winrm_auth(self) -> str:
        return WINRM_AUTH.get(CredentialKind(self.kind), "ntlm")

    def clean(self) -> None:
        problems = {}
        if not CREDENTIAL_NAME.fullmatch(self.name or ""):
            problems["name"] = "a name is 1 to 100 letters, digits, spaces and . _ @ -, starting with a letter or digit"
        if not self.username.strip() or any(c.isspace() or ord(c) < 32 for c in self.username):
            problems["username"] = "give the user name, without spaces"
        if self.kind == CredentialKind.SSH_KEY:
            if not self.private_key.strip():
                problems["private_key"] = "an SSH key credential needs the private key"
            elif problem := private_key_problem(self.private_key, self.key_passphrase):
                problems["private_key"] = problem
        elif self.kind != CredentialKind.WINRM_KERBEROS and not self.password:
            problems["password"] = f"a {CredentialKind(self.kind).label} credential needs the password"
        if problems:
            raise ValidationError(problems)

    def drop_unused_secrets(self) -> None:
        """Blank the secrets (and sudo) its kind does not use, so none lingers after a change of kind."""
        for name in SECRET_FIELDS:
            if name not in SECRETS_OF_KIND[CredentialKind(self.kind)]:
                setattr(self, name, "")
        if self.kind not in SSH_KINDS:
            self.use_sudo = False

    @sensitive_variables()
    def secret_values(self) -> set[str]:
        return secret_values(self.password, self.key_passphrase, self.private_key)
