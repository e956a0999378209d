"""Browser page of an onboarding link: sign up (email and password) or, signed in, accept, and become an annotator."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts.services import user_by_email
from apps.orgs.tenancy import SESSION_KEY

from . import profiles

TEMPLATE = "workforce/onboarding_join.html"


class JoinForm(forms.Form):
    email = forms.EmailField(label="Email")
    name = forms.CharField(label="Your name", max_length=150, required=False)
    password1 = forms.CharField(label="Choose a password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Repeat it", widget=forms.PasswordInput, strip=False)

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if user_by_email(email) is not None:
            raise forms.ValidationError("An account with this email exists: sign in to join with it.")
        return email

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        if data.get("password1"):
            validate_password(data["password1"])
        return data


def _refused(request, refusal: profiles.OnboardingRefused):
    return render(request, TEMPLATE, {"refused": str(refusal), "reason": refusal.reason}, status=refusal.status)


def _joined(request, membership, joined: bool):
    request.session[SESSION_KEY] = membership.organization_id
    name = membership.organization.name
    messages.success(request, f"Welcome to {name}." if joined else f"You are already a member of {name}; "
                              "you were added to the link's pools.")
    return redirect("home")


def onboarding_join(request, key):
    try:
        link = profiles.onboarding_link_for_key(key)
    except profiles.OnboardingRefused as refusal:
        return _refused(request, refusal)
    context = {"organization": link.organization,
               "login_url": reverse("account_login") + f"?next={request.path}"}
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership, joined = profiles.onboarding_join(key=key, user=request.user, request=request)
            except profiles.OnboardingRefused as refusal:
                return _refused(request, refusal)
            return _joined(request, membership, joined)
        return render(request, TEMPLATE, {**context, "confirm": True})
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, membership = profiles.onboarding_signup(
                key=key, email=form.cleaned_data["email"], password=form.cleaned_data["password1"],
                name=form.cleaned_data.get("name", ""), request=request)
        except profiles.OnboardingRefused as refusal:
            return _refused(request, refusal)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _joined(request, membership, True)
    return render(request, TEMPLATE, {**context, "form": form}, status=400 if form.is_bound else 200)
