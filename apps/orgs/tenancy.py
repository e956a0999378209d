"""Resolves, once per request or socket, which organization the caller acts in and with which role."""

from dataclasses import dataclass

from rest_framework import exceptions

from .errors import Forbidden, NotFound
from .models import ApiToken, Membership, Organization
from .roles import effective_role

SESSION_KEY = "quorum_active_org"


@dataclass(frozen=True)
class Tenancy:
    organization: Organization
    membership: Membership
    role: str
    token: ApiToken | None = None

    @property
    def user(self):
        return self.membership.user


def tenancy_for(*, user, token: ApiToken | None = None, slug: str | None = None, session_org_id=None) -> Tenancy:
    """Token → its organization; session → `slug` (X-Organization), then the session's choice, then the first."""
    def memberships():  # not built for a token read with its membership (every token request: an ORM filter costs)
        return Membership.objects.select_related("organization", "user").filter(
            user=user, status=Membership.Status.ACTIVE, organization__is_active=True
        )

    if token is not None:
        if slug and slug != token.organization.slug:
            raise NotFound("no such organization")
        if hasattr(token, "active_membership"):  # read with the token, in the same statement (authentication)
            membership = token.active_membership if token.organization.is_active else None
        else:
            membership = memberships().filter(organization_id=token.organization_id).first()
        if membership is None:
            raise exceptions.AuthenticationFailed("this token's user is no longer an active member")
        return Tenancy(membership.organization, membership, effective_role(membership.role, token.role), token)
    if slug:
        membership = memberships().filter(organization__slug=slug).first()
        if membership is None:
            raise NotFound("no such organization")
    else:
        membership = memberships().filter(organization_id=session_org_id).first() if session_org_id else None
        if membership is None:
            membership = memberships().order_by("created_at", "id").first()
        if membership is None:
            raise Forbidden("you are not a member of an active organization")
    return Tenancy(membership.organization, membership, membership.role, None)


def resolve_tenancy(request) -> Tenancy:
    session = getattr(request, "session", None)
    return tenancy_for(
        user=request.user,
        token=request.auth if isinstance(request.auth, ApiToken) else None,
        slug=request.headers.get("X-Organization"),
        session_org_id=session.get(SESSION_KEY) if session is not None else None,
    )
