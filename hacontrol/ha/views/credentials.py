"""Saved credentials: the list, one credential's page (where it is used), add, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from hacontrol.ha import actions
from hacontrol.ha.access import admin_required
from hacontrol.ha.forms import CredentialForm, ReasonForm
from hacontrol.ha.models import Credential
from hacontrol.ha.views.common import actor, attempt, form_page, go, posted

ADD_CLI = "ha credential add NAME --kind ssh-key --user root --key-file F [--passphrase-env VAR] [--sudo]"


def credential_list(request):
    credentials = Credential.objects.with_use_counts()
    return render(request, "ha/credential_list.html", {"credentials": credentials, "cli": "ha credential list"})


def credential_detail(request, credential_id: int):
    credential = get_object_or_404(Credential, pk=credential_id)
    members = list(credential.members.select_related("cluster").order_by("cluster__name", "priority"))
    return render(request, "ha/credential_detail.html", {"credential": credential, "members": members})


@sensitive_post_parameters("password", "private_key", "key_passphrase")
@sensitive_variables()
@admin_required
def credential_add(request):
    form = CredentialForm(posted(request))
    if request.method == "POST" and form.is_valid():
        credential = attempt(request, lambda: actions.create_credential(actor(request), **form.action_values()), form)
        if credential:
            messages.success(request, f"Credential {credential.name} saved. Members pick it when added or edited.")
            return go(request, credential.get_absolute_url())
    return form_page(request, "ha/credential_form.html", {"form": form, "cli": ADD_CLI})


@sensitive_post_parameters("password", "private_key", "key_passphrase")
@sensitive_variables()
@admin_required
def credential_edit(request, credential_id: int):
    credential = get_object_or_404(Credential, pk=credential_id)
    form = CredentialForm(posted(request), instance=credential)
    if request.method == "POST" and form.is_valid():
        saved = attempt(request, lambda: actions.edit_credential(
            actor(request), credential, reason=form.cleaned_data["reason"], **form.action_values()), form)
        if saved:
            messages.success(request, f"Credential {saved.name} saved: every member using it uses it from its next "
                                      "connection on.")
            return go(request, saved.get_absolute_url())
    return form_page(request, "ha/credential_form.html", {
        "form": form, "credential": credential, "members": credential.members.count(),
        "cli": f"ha credential edit {credential.name} [--key-file F] [--password-env VAR] [--user NAME] ...",
    })


@admin_required
def credential_delete(request, credential_id: int):
    credential = get_object_or_404(Credential, pk=credential_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        def delete() -> bool:
            actions.delete_credential(actor(request), credential, **form.cleaned_data)
            return True

        if attempt(request, delete, form):
            messages.success(request, f"Credential {credential.name} deleted.")
            return go(request, reverse("credential-list"))
    return form_page(request, "ha/confirm.html", {
        "form": form, "title": f"Delete credential {credential.name}?", "cancel_url": credential.get_absolute_url(),
        "warning": "Only an unused credential can be deleted; its secrets are gone for good.",
        "button": "Delete credential", "cli": f"ha credential remove {credential.name}",
    })
