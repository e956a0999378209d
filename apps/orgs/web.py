"""Browser pages of the orgs app: accepting an invitation (the only way to sign up), the organization switcher,
and the tenancy every page acts in (`page_tenancy`, and the `nav` context processor base.html reads)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import validate_password
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from . import services
from .roles import MANAGERS, REVIEWERS
from .selectors import access_organization, organizations_for_user
from .tenancy import SESSION_KEY, Tenancy, tenancy_for


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


def page_tenancy(request) -> Tenancy | None:
    """The organization and role a signed-in page acts in (the session's choice, else the first); None if none."""
    if not request.user.is_authenticated:
        return None
    if not hasattr(request, "_quorum_tenancy"):
        try:
            request._quorum_tenancy = tenancy_for(user=request.user, session_org_id=request.session.get(SESSION_KEY))
        except APIException:
            request._quorum_tenancy = None
    return request._quorum_tenancy


def require_tenancy(request) -> Tenancy:
    """As page_tenancy, for pages that make no sense outside an organization: 404 without one."""
    tenancy = page_tenancy(request)
    if tenancy is None:
        raise Http404("you are not a member of an active organization")
    return tenancy


def nav(request):
    """Context processor: what base.html's navigation shows (links by role, the organization switcher)."""
    tenancy = page_tenancy(request)
    if tenancy is None:
        return {"nav": None}
    return {
        "nav": {
            "organization": tenancy.organization,
            "organizations": list(organizations_for_user(user=request.user).filter(is_active=True)),
            "role": tenancy.role,
            "is_manager": tenancy.role in MANAGERS,
            "is_reviewer": tenancy.role in REVIEWERS,
            "section": getattr(request, "nav_section", ""),
        }
    }


SWITCH_TARGETS = frozenset({"/app/", "/app/me/stats/", "/app/me/earnings/", "/app/review/", "/app/workforce/",
                            "/app/tokens/", "/app/audit/", "/app/projects/"})


@login_required
@require_POST
def organization_switch(request):
    """Make another organization of mine the active one; one I am not an active member of is a 404."""
    try:
        organization, _membership = access_organization(user=request.user, slug=request.POST.get("organization", ""))
    except APIException as exc:
        raise Http404("no such organization") from exc
    if not organization.is_active:
        raise Http404("no such organization")
    request.session[SESSION_KEY] = organization.pk
    # Back to the page we came from when it is not an object page (which may belong to the old organization).
    target = request.POST.get("next") or ""
    if target not in SWITCH_TARGETS:
        target = "/app/projects/" if target.startswith("/app/projects/") else "/app/"
    messages.success(request, f"You are now working in {organization.name}.")
    return redirect(target)
