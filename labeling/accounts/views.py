"""A trainer's own settings: which kinds of harmful content they agree to read."""

from django import forms
from django.contrib import messages
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
