"""Writes of the orgs app: organizations, members, invitations and API tokens."""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import User
from apps.accounts.services import user_by_email, user_create, user_set_password
from apps.audit.services import record

from .authentication import hash_secret
from .errors import ApiError, Conflict, Forbidden, NotFound
from .models import ApiToken, Invitation, Membership, Organization
from .roles import Role, role_covers
from .signals import membership_changed

TOKEN_PREFIX = "qrm_"
MAX_TOKEN_DAYS = 3650


def _membership_state(membership):
    return {"role": membership.role, "status": membership.status, "user": membership.user_id}


def _notify_membership(membership, change):
    transaction.on_commit(lambda: membership_changed.send(sender=Membership, membership=membership, change=change))


# --- organizations ----------------------------------------------------------------------------


@transaction.atomic
def organization_create(*, slug: str, owner: User, name: str = "", phi: bool = False, request=None) -> Organization:
    if not slug or slugify(slug) != slug:
        raise ApiError("the slug must be lowercase letters, digits and dashes",
                       details={"slug": [f"invalid; try {slugify(slug) or 'my-team'!r}"]})
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"organization {slug!r} exists", details={"slug": ["taken"]})
    org = Organization(slug=slug, name=name or slug, phi=phi)
    org.full_clean()
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError as exc:
        raise Conflict(f"organization {slug!r} exists", details={"slug": ["taken"]}) from exc
    membership = Membership.objects.create(
        organization=org, user=owner, role=Role.OWNER, status=Membership.Status.ACTIVE, joined_at=timezone.now()
    )
    record(action="org.create", organization=org, actor=owner, object_type="organization", object_id=org.pk,
           after={"slug": org.slug, "name": org.name, "phi": org.phi}, request=request)
    record(action="member.add", organization=org, actor=owner, object_type="membership",
           object_id=membership.pk, after=_membership_state(membership), request=request)
    return org


@transaction.atomic
def organization_update(*, organization: Organization, actor, request=None, **changes) -> Organization:
    before = {"name": organization.name, "phi": organization.phi}
    for field in ("name", "phi"):
        if field in changes and changes[field] is not None:
            setattr(organization, field, changes[field])
    organization.full_clean()
    organization.save(update_fields=["name", "phi"])
    record(action="org.update", organization=organization, actor=actor, object_type="organization",
           object_id=organization.pk, before=before, after={"name": organization.name, "phi": organization.phi},
           data={"phi": organization.phi}, request=request)
    return organization


@transaction.atomic
def organization_deactivate(*, organization: Organization, actor, request=None) -> Organization:
    """Organizations are never deleted: their data and audit trail are kept, their tokens stop working."""
    if organization.is_active:
        organization.is_active = False
        organization.deactivated_at = timezone.now()
        organization.save(update_fields=["is_active", "deactivated_at"])
        record(action="org.deactivate", organization=organization, actor=actor, object_type="organization",
               object_id=organization.pk, request=request)
    return organization


# --- members ----------------------------------------------------------------------------------


def _check_may_assign(actor_role: str, role: str):
    if role not in Role.values:
        raise ApiError(f"unknown role {role!r}", details={"role": [f"one of {', '.join(Role.values)}"]})
    if not role_covers(actor_role, role):
        raise Forbidden(f"a {actor_role} may not give the {role} role")


def _active_owner_count(organization):
    return Membership.objects.filter(
        organization=organization, role=Role.OWNER, status=Membership.Status.ACTIVE
    ).count()


@transaction.atomic
def member_add(*, organization: Organization, user: User, role: str, actor=None, request=None) -> Membership:
    """Makes `user` an active member directly (command line, demo seeding); re-activates a removed one."""
    if role not in Role.values:
        raise ApiError(f"unknown role {role!r}", details={"role": [f"one of {', '.join(Role.values)}"]})
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user,
        defaults={"role": role, "status": Membership.Status.ACTIVE, "joined_at": timezone.now(), "invited_by": actor},
    )
    if not created:
        if membership.status == Membership.Status.ACTIVE:
            raise Conflict(f"{user.email} is already a member", details={"email": ["already a member"]})
        membership.role, membership.status, membership.joined_at = role, Membership.Status.ACTIVE, timezone.now()
        membership.save(update_fields=["role", "status", "joined_at"])
    record(action="member.add", organization=organization, actor=actor, object_type="membership",
           object_id=membership.pk, after=_membership_state(membership), request=request)
    _notify_membership(membership, "joined")
    return membership


def _invitation_url(key: str) -> str:
    base = settings.SITE_URL.rstrip("/")
    return f"{base}{reverse('invitation_accept', kwargs={'key': key})}"


@transaction.atomic
def member_invite(
    *, organization: Organization, email: str, role: str, actor: User, actor_role: str, request=None
) -> tuple[Membership, str]:
    """Invites `email` (a new or existing user) and mails the link; returns the membership and the link."""
    _check_may_assign(actor_role, role)
    user = user_by_email(email)
    if user is None:
        user = user_create(email=email, password=None, email_verified=False)
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is not None and membership.status != Membership.Status.REMOVED:
        raise Conflict(f"{user.email} is already {membership.status} here", details={"email": ["already a member"]})
    if membership is None:
        membership = Membership(organization=organization, user=user)
    membership.role, membership.status, membership.invited_by = role, Membership.Status.INVITED, actor
    membership.save()
    key = secrets.token_urlsafe(32)
    Invitation.objects.create(
        membership=membership,
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS),
    )
    record(action="member.invite", organization=organization, actor=actor, object_type="membership",
           object_id=membership.pk, after=_membership_state(membership), request=request)
    url = _invitation_url(key)
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization.name} on Quorum",
            message=(
                f"{actor.email} invited you to join {organization.name} as {role}.\n\n"
                f"Accept within {settings.INVITATION_DAYS} days: {url}\n"
            ),
            from_email=None,
            recipient_list=[user.email],
        )
    )
    return membership, url


def invitation_for_key(key: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("membership__user", "membership__organization")
        .filter(key_hash=hashlib.sha256(key.encode()).hexdigest())
        .first()
    )
    if invitation is None or not invitation.is_usable or invitation.membership.status != Membership.Status.INVITED:
        raise NotFound("this invitation is unknown, used or expired")
    return invitation


@transaction.atomic
def invitation_accept(*, key: str, user: User, password: str | None = None, request=None) -> Membership:
    """The invited person accepts; a new user sets a password here, which also verifies the email."""
    invitation = invitation_for_key(key)
    membership = invitation.membership
    if membership.user_id != user.pk:
        raise Forbidden("this invitation is for another email address")
    if password:
        user_set_password(user=user, password=password, verify_email=True)
    now = timezone.now()
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=now)
    membership.status, membership.joined_at = Membership.Status.ACTIVE, now
    membership.save(update_fields=["status", "joined_at"])
    record(action="member.join", organization=membership.organization, actor=user, object_type="membership",
           object_id=membership.pk, after=_membership_state(membership), request=request)
    _notify_membership(membership, "joined")
    return membership


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: User, actor_role: str, request=None
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_may_assign(actor_role, role)
    if not role_covers(actor_role, membership.role):
        raise Forbidden(f"a {actor_role} may not change a {membership.role}'s role")
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and membership.status == Membership.Status.ACTIVE:
        if _active_owner_count(membership.organization) <= 1:
            raise Conflict("an organization keeps at least one owner", code="validation_error")
    before = _membership_state(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    # Tokens never act above their user's role.
    for token in ApiToken.objects.filter(organization=membership.organization, user=membership.user_id,
                                         revoked_at__isnull=True):
        if not role_covers(role, token.role):
            token_revoke(token=token, actor=actor, reason="role lowered", request=request)
    record(action="member.role_change", organization=membership.organization, actor=actor,
           object_type="membership", object_id=membership.pk, before=before, after=_membership_state(membership),
           data={"from": before["role"], "to": role}, request=request)
    _notify_membership(membership, "role")
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User, actor_role: str, request=None) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not role_covers(actor_role, membership.role):
        raise Forbidden(f"a {actor_role} may not remove a {membership.role}")
    if membership.status == Membership.Status.REMOVED:
        return membership
    if membership.role == Role.OWNER and membership.status == Membership.Status.ACTIVE:
        if _active_owner_count(membership.organization) <= 1:
            raise Conflict("an organization keeps at least one owner", code="validation_error")
    before = _membership_state(membership)
    membership.status = Membership.Status.REMOVED
    membership.save(update_fields=["status"])
    for token in ApiToken.objects.filter(organization=membership.organization, user=membership.user_id,
                                         revoked_at__isnull=True):
        token_revoke(token=token, actor=actor, reason="member removed", request=request)
    record(action="member.remove", organization=membership.organization, actor=actor, object_type="membership",
           object_id=membership.pk, before=before, after=_membership_state(membership), request=request)
    _notify_membership(membership, "removed")
    return membership


# --- API tokens -------------------------------------------------------------------------------


def _service_account_email(organization: Organization, name: str) -> str:
    return f"svc-{organization.slug}-{slugify(name)[:30] or 'token'}-{secrets.token_hex(4)}@service.quorum.invalid"


@transaction.atomic
def token_create(
    *,
    organization: Organization,
    actor: User,
    actor_role: str,
    name: str,
    role: str,
    expires_days: int | None = None,
    user: User | None = None,
    service_account: bool = False,
    request=None,
) -> tuple[ApiToken, str]:
    """A token acting as `user` (default: the actor) or as a new service-account member; returns (token, secret)."""
    name = (name or "").strip()
    if not name:
        raise ApiError("a token needs a name", details={"name": ["required"]})
    _check_may_assign(actor_role, role)
    if expires_days is not None and not (1 <= expires_days <= MAX_TOKEN_DAYS):
        raise ApiError(f"expires_days must be between 1 and {MAX_TOKEN_DAYS}",
                       details={"expires_days": ["out of range"]})
    if service_account:
        user = user_create(email=_service_account_email(organization, name), is_service_account=True)
        member_add(organization=organization, user=user, role=role, actor=actor, request=request)
    user = user or actor
    membership = Membership.objects.filter(
        organization=organization, user=user, status=Membership.Status.ACTIVE
    ).first()
    if membership is None:
        raise ApiError(f"{user.email} is not an active member", details={"user": ["not an active member"]})
    if not role_covers(membership.role, role):
        raise Forbidden(f"a token may not have more power than its user ({membership.role})")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization,
        user=user,
        name=name[:100],
        role=role,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=expires_days) if expires_days else None,
    )
    record(action="token.create", organization=organization, actor=actor, object_type="api_token",
           object_id=token.pk, data={"name": token.name, "role": role, "prefix": token.prefix, "user": user.pk},
           request=request)
    return token, secret


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User, reason: str = "revoked", request=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(action="token.revoke", organization=token.organization_id, actor=actor, object_type="api_token",
               object_id=token.pk, data={"prefix": token.prefix, "reason": reason}, request=request)
    return token
