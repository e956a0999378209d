"""Browser pages of the orgs app: accepting an invitation (the only way to sign up)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.shortcuts import redirect, render
from django.urls import reverse
from rest_framework.exceptions import APIException

from . import services
from .tenancy import SESSION_KEY


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(label="Choose a password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Repeat it", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        if data.get("password1"):
            validate_password(data["password1"], self.user)
        return data


def invitation_accept(request, key):
    try:
        invitation = services.invitation_for_key(key)
    except APIException:
        return render(request, "orgs/invitation_invalid.html", status=404)
    membership = invitation.membership
    invited = membership.user
    context = {"organization": membership.organization, "email": invited.email, "role": membership.role}
    if invited.has_usable_password():
        # An existing account: sign in as that person, then accept with one click.
        if not request.user.is_authenticated or request.user.pk != invited.pk:
            login_url = reverse("account_login") + f"?next={request.path}"
            return render(request, "orgs/invitation_login.html", {**context, "login_url": login_url})
        if request.method == "POST":
            services.invitation_accept(key=key, user=invited, request=request)
            request.session[SESSION_KEY] = membership.organization_id
            messages.success(request, f"You joined {membership.organization.name}.")
            return redirect("home")
        return render(request, "orgs/invitation_confirm.html", context)
    form = SetPasswordForm(request.POST or None, user=invited)
    if request.method == "POST" and form.is_valid():
        services.invitation_accept(key=key, user=invited, password=form.cleaned_data["password1"], request=request)
        login(request, invited, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("home")
    return render(request, "orgs/invitation_signup.html", {**context, "form": form})


def home(request):
    memberships = []
    if request.user.is_authenticated:
        memberships = request.user.memberships.select_related("organization").filter(status="active")
    return render(request, "home.html", {"memberships": memberships})
