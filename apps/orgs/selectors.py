"""Reads of the orgs app; each takes the caller's tenancy, so no query can forget the tenant."""

from allauth.mfa.models import Authenticator

from .errors import NotFound
from .models import ApiToken, Membership, Organization
from .roles import MANAGERS, role_covers
from .tenancy import Tenancy


def organizations_for_user(*, user):
    return Organization.objects.filter(
        memberships__user=user, memberships__status=Membership.Status.ACTIVE
    ).order_by("slug")


def access_organization(*, user, slug: str, token=None) -> tuple[Organization, Membership]:
    """The organization `slug` and the caller's active membership in it; 404 for missing and not yours."""
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=slug, status=Membership.Status.ACTIVE)
        .first()
    )
    if membership is None or (token is not None and token.organization_id != membership.organization_id):
        raise NotFound("no such organization")
    return membership.organization, membership


def memberships_visible(*, tenancy: Tenancy):
    qs = Membership.objects.select_related("user").filter(organization=tenancy.organization)
    if tenancy.role not in MANAGERS:
        qs = qs.filter(pk=tenancy.membership.pk)
    return qs


def access_membership(*, tenancy: Tenancy, membership_id) -> Membership:
    membership = memberships_visible(tenancy=tenancy).filter(pk=membership_id).first()
    if membership is None:
        raise NotFound("no such member")
    return membership


def tokens_visible(*, tenancy: Tenancy):
    qs = ApiToken.objects.select_related("user").filter(organization=tenancy.organization)
    if tenancy.role not in MANAGERS:
        qs = qs.filter(user=tenancy.user)
    return qs


def access_token(*, tenancy: Tenancy, token_id) -> ApiToken:
    token = tokens_visible(tenancy=tenancy).filter(pk=token_id).first()
    if token is None:
        raise NotFound("no such token")
    return token


def may_revoke_token(*, tenancy: Tenancy, token: ApiToken) -> bool:
    return token.user_id == tenancy.user.pk or role_covers(tenancy.role, token.role)


def mfa_setup_required(*, user) -> bool:
    """A member of an active PHI organization without TOTP must set it up before doing anything."""
    in_phi_org = Membership.objects.filter(
        user=user, status=Membership.Status.ACTIVE, organization__phi=True, organization__is_active=True
    ).exists()
    return in_phi_org and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
