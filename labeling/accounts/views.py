"""A trainer's own settings: which kinds of harmful content they agree to read."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from labeling.projects.taxonomy import BASE_FLAGS, WELLBEING_KEYS

from .services import set_harm_opt_ins

CHOICES = [(f.key, f"{f.label}: {f.description}") for f in BASE_FLAGS if f.key in WELLBEING_KEYS]


class WellbeingForm(forms.Form):
    opt_ins = forms.MultipleChoiceField(
        choices=CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )


def wellbeing(request: HttpRequest) -> HttpResponse:
    form = WellbeingForm(request.POST or None, initial={"opt_ins": request.user.harm_opt_ins})
    if request.method == "POST" and form.is_valid():
        set_harm_opt_ins(user=request.user, keys=form.cleaned_data["opt_ins"])
        messages.success(request, "Saved. Only items within what you chose are given to you.")
        return redirect("wellbeing")
    return render(request, "accounts/wellbeing.html", {"form": form})


def _failure_keys(request: HttpRequest) -> list[str]:
    ip = request.META.get("REMOTE_ADDR", "")
    username = request.POST.get("username", "").strip().lower()
    return [f"login-fail:ip:{ip}", f"login-fail:user:{username}"]


class ThrottledLoginView(LoginView):
    """Django's login, refusing (429) after too many failures from one address or for one
    username within the window; the counts live in the shared cache."""

    def post(self, request, *args, **kwargs):
        keys = _failure_keys(request)
        if any(cache.get(k, 0) >= settings.LOGIN_MAX_FAILURES for k in keys):
            form = self.get_form()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form came back: wrong credentials
            for key in keys:
                cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
                cache.incr(key)
        return response
