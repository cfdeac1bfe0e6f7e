"""The API tokens page: each user makes and revokes their own tokens (viewers too: theirs read)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from hacontrol.ha.forms import TokenForm
from hacontrol.ha.models import ApiToken
from hacontrol.ha.views.common import posted


@sensitive_variables()  # the new token, until it is shown
def token_list(request):
    form = TokenForm(posted(request))
    issued = None
    if request.method == "POST" and form.is_valid():
        # Shown in this answer only: no redirect, so the token never rests in the session or a cache.
        issued = ApiToken.issue(request.user, form.cleaned_data["name"], expires=form.expires())
        form = TokenForm()
    response = render(request, "ha/token_list.html", {
        "form": form, "tokens": request.user.api_tokens.all(), "issued": issued,
        "cli": f"ha token create {request.user.get_username()} NAME [--days N]",
    })
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke(request.user)
    messages.success(request, f"Token {token} revoked: it opens nothing any more.")
    return redirect("token-list")
