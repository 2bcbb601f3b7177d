"""The profile page for API tokens: list, create (the key is shown once), revoke."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .throttling import TokenThrottle
from .tokens import TooManyTokens, create_token, revoke_token, tokens_of


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “export script”.")


@never_cache
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST" and form.is_valid():
        throttle = TokenThrottle()
        if not throttle.allow_request(request, None):
            form.add_error(None, "Too many new tokens just now; wait a minute and try again.")
            status = 429
        else:
            try:
                token, new_key = create_token(user=request.user, name=form.cleaned_data["name"])
            except TooManyTokens as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                form = TokenForm()
                status = 201
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": tokens_of(request.user), "new_key": new_key},
        status=status,
    )


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(tokens_of(request.user), pk=pk)
    revoke_token(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_token_page", permanent=False)
