"""Workforce: annotator profiles, skills and pools, onboarding links and bulk invitations (services and reads)."""

import csv
import datetime as dt
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from apps.accounts.services import user_by_email, user_create
from apps.audit.services import record
from apps.orgs.errors import ApiError, Conflict, Forbidden, NotFound
from apps.orgs.models import Membership
from apps.orgs.roles import MANAGERS, Role, role_covers
from apps.orgs.services import member_add, member_invite
from apps.qa import rules as qa_rules
from apps.qa.models import Suspension
from apps.tasks.services import queue_cursors_rewind

from .models import AnnotatorProfile, AnnotatorSkill, OnboardingLink, Pool, Skill

LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
DEFAULT_SUSPENSION = dt.timedelta(hours=24)
BULK_MAX_BYTES = 2 * 1024 * 1024
BULK_MAX_ROWS = 10_000


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- profiles ----------------------------------------------------------------------------------------------------


def profile_for(*, organization, user) -> AnnotatorProfile:
    """The member's profile, made on first use (every member of the organization can work)."""
    profile = AnnotatorProfile.objects.filter(organization=organization, user=user).first()
    if profile is not None:
        return profile
    membership = Membership.objects.get(organization=organization, user=user)
    profile, _ = AnnotatorProfile.objects.get_or_create(organization=organization, user=user,
                                                        defaults={"membership": membership})
    return profile


def profiles_ensure(*, organization, membership_ids=None) -> None:
    """Make the missing profiles of the organization's members (or of those memberships) in one statement, so a
    list never creates them one by one."""
    missing = Membership.objects.filter(organization=organization, profile__isnull=True)
    if membership_ids is not None:
        missing = missing.filter(pk__in=list(membership_ids))
    AnnotatorProfile.objects.bulk_create(
        [AnnotatorProfile(organization=organization, membership_id=pk, user_id=user_id)
         for pk, user_id in missing.values_list("pk", "user_id")],
        ignore_conflicts=True,
    )


@transaction.atomic
def skill_level_set(*, profile: AnnotatorProfile, skill: Skill, level: int,
                    source: str = AnnotatorSkill.Source.MANAGER) -> AnnotatorSkill:
    """Set a profile's level (0–100) in a skill."""
    if not 0 <= int(level) <= 100:
        raise ValueError("a skill level is from 0 to 100")
    found, _ = AnnotatorSkill.objects.update_or_create(
        profile=profile, skill=skill, defaults={"level": int(level), "source": source, "updated_at": timezone.now()})
    routing_changed(organization_id=profile.organization_id, user_ids=[profile.user_id])
    return found


def routing_changed(*, organization_id: int, user_ids) -> None:
    """Skills or pools changed: the queue must look again at tasks it passed for these people."""
    queue_cursors_rewind(organization_id=organization_id, user_ids=user_ids)


def skill_levels(profile: AnnotatorProfile) -> dict[str, int]:
    """{skill name: level} of a profile (missing skills are 0 in filters)."""
    return dict(AnnotatorSkill.objects.filter(profile=profile).values_list("skill__name", "level"))


def _open_suspensions(organization, *, project_wide_only: bool = False):
    """Suspensions in force now (not lifted, not ended)."""
    qs = Suspension.objects.filter(organization=organization, lifted_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=timezone.now()))
    return qs.filter(project__isnull=True) if project_wide_only else qs


def annotators_visible(*, tenancy):
    """Members with their profile and their organization-wide status (active, suspended or banned), derived from
    the suspensions in force rather than stored, so one that ended or was made by a rule shows as it is."""
    organization = tenancy.organization
    qs = Membership.objects.filter(organization=organization).exclude(status=Membership.Status.REMOVED)
    if tenancy.role not in MANAGERS:
        qs = qs.filter(pk=tenancy.membership.pk)
    in_force = _open_suspensions(organization, project_wide_only=True).filter(annotator=OuterRef("user_id"))
    return (qs.select_related("user", "profile")
            .prefetch_related("profile__skill_levels__skill", "profile__pools")
            .annotate(is_banned=Exists(in_force.filter(kind=Suspension.Kind.BAN)), is_suspended=Exists(in_force)))


def annotators_filter(qs, *, organization, pool=None, skill=None, min_level=None, status=None, language=None):
    if pool is not None:
        if not Pool.objects.filter(organization=organization, pk=pool).exists():
            raise ApiError("no such pool", details={"pool": [f"unknown pool {pool}"]})
        qs = qs.filter(profile__pools=pool)
    if skill is not None:
        if not Skill.objects.filter(organization=organization, name=skill).exists():
            raise ApiError("no such skill", details={"skill": [f"unknown skill {skill!r}"]})
        level = 1 if min_level is None else min_level
        if level > 0:  # a missing skill is level 0, so ">= 0" keeps everyone
            qs = qs.filter(profile__skill_levels__skill__name=skill, profile__skill_levels__level__gte=level)
    elif min_level is not None:
        raise ApiError("min_level needs a skill", details={"min_level": ["give skill=<name> with it"]})
    if status == AnnotatorProfile.Status.BANNED:
        qs = qs.filter(is_banned=True)
    elif status == AnnotatorProfile.Status.SUSPENDED:
        qs = qs.filter(is_suspended=True, is_banned=False)
    elif status == AnnotatorProfile.Status.ACTIVE:
        qs = qs.filter(is_suspended=False)
    if language:
        qs = qs.filter(profile__languages__contains=[language])
    return qs


def annotator_status(membership) -> str:
    if getattr(membership, "is_banned", False):
        return AnnotatorProfile.Status.BANNED
    if getattr(membership, "is_suspended", False):
        return AnnotatorProfile.Status.SUSPENDED
    return AnnotatorProfile.Status.ACTIVE


def access_annotator(*, tenancy, membership_id) -> Membership:
    """A member as an annotator (profile made if missing); another organization's, a removed one's, or (for
    non-managers) anyone but oneself is a 404."""
    visible = annotators_visible(tenancy=tenancy).filter(pk=membership_id)
    if visible.filter(profile__isnull=True).exists():
        profiles_ensure(organization=tenancy.organization, membership_ids=[membership_id])
    found = visible.first()
    if found is None:
        raise NotFound("no such annotator")
    return found


def annotator_stats(*, organization, user_ids) -> dict[int, object]:
    """{user id: AnnotatorStats} of the organization-wide rows (project NULL)."""
    from apps.qa.models import AnnotatorStats

    rows = AnnotatorStats.objects.filter(organization=organization, project__isnull=True, annotator_id__in=user_ids)
    return {row.annotator_id: row for row in rows}


def annotator_suspensions(*, organization, user):
    return _open_suspensions(organization).filter(annotator=user).select_related("annotator").order_by("-id")


def _memberships_to_profiles(*, organization, membership_ids, field_name: str) -> list[AnnotatorProfile]:
    """The profiles of these members of the organization; unknown, removed or other organizations' ids → 400."""
    wanted = list(dict.fromkeys(membership_ids))
    known = set(Membership.objects.filter(organization=organization, pk__in=wanted)
                .exclude(status=Membership.Status.REMOVED).values_list("pk", flat=True))
    unknown = [pk for pk in wanted if pk not in known]
    if unknown:
        raise ApiError("unknown members", details={field_name: [
            f"not members of this organization: {', '.join(map(str, unknown))}"]})
    profiles_ensure(organization=organization, membership_ids=wanted)
    return list(AnnotatorProfile.objects.filter(organization=organization, membership_id__in=wanted))


def _pools_by_id(*, organization, pool_ids, field_name: str = "pools") -> list[Pool]:
    wanted = list(dict.fromkeys(pool_ids))
    found = {pool.pk: pool for pool in Pool.objects.filter(organization=organization, pk__in=wanted)}
    unknown = [pk for pk in wanted if pk not in found]
    if unknown:
        raise ApiError("unknown pools", details={field_name: [f"no such pools: {', '.join(map(str, unknown))}"]})
    return [found[pk] for pk in wanted]


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def timezone_valid(name: str) -> bool:
    return name in _timezones() or name == "UTC"


def _profile_state(profile: AnnotatorProfile) -> dict:
    return {"languages": profile.languages, "timezone": profile.timezone, "notes": profile.notes,
            "status": profile.status, "skills": skill_levels(profile),
            "pools": sorted(profile.pools.values_list("pk", flat=True))}


@transaction.atomic
def annotator_update(*, tenancy, membership: Membership, data: dict, request=None) -> AnnotatorProfile:
    """A manager's PATCH of a member's profile: skills (merged; null removes), pools (replaced), languages,
    timezone, notes, and the organization-wide status, which creates or lifts qa suspensions."""
    organization, actor = tenancy.organization, tenancy.user
    profile = AnnotatorProfile.objects.select_for_update().get(pk=profile_for(organization=organization,
                                                                              user=membership.user).pk)
    before = _profile_state(profile)
    changed = []
    if "skills" in data:
        names = list(data["skills"])
        skills = {s.name: s for s in Skill.objects.filter(organization=organization, name__in=names)}
        unknown = [name for name in names if name not in skills]
        if unknown:
            raise ApiError("unknown skills", details={"skills": {name: ["unknown skill"] for name in unknown}})
        for name, level in data["skills"].items():
            if level is None:
                AnnotatorSkill.objects.filter(profile=profile, skill=skills[name]).delete()
            else:
                skill_level_set(profile=profile, skill=skills[name], level=level)
        changed.append("skills")
    if "pools" in data:
        profile.pools.set(_pools_by_id(organization=organization, pool_ids=data["pools"]))
        routing_changed(organization_id=organization.pk, user_ids=[profile.user_id])
        changed.append("pools")
    for name in ("languages", "timezone", "notes"):
        if name in data:
            setattr(profile, name, data[name])
            changed.append(name)
    status = data.get("status")
    if status is not None:
        if not role_covers(tenancy.role, membership.role):
            raise Forbidden(f"a {tenancy.role} may not change a {membership.role}'s status")
        _status_set(organization=organization, user=membership.user, status=status, reason=data.get("reason", ""),
                    until=data.get("until"), actor=actor, request=request)
        profile.status = status
        changed.append("status")
    profile.updated_at = timezone.now()
    profile.save()
    after = _profile_state(profile)
    record(action="annotator_profile.update", organization=organization, actor=actor,
           object_type="annotator_profile", object_id=profile.pk, before=before, after=after,
           data={"member": membership.pk, "fields": changed, "skills": after["skills"], "pools": after["pools"],
                 "status": status}, request=request)
    return profile


def _status_set(*, organization, user, status, reason, until, actor, request):
    """suspended/banned replace the organization-wide suspensions in force by one new one; active lifts every
    suspension in force, project-level ones included. qa's services audit each change."""
    if status == AnnotatorProfile.Status.ACTIVE:
        if until is not None:
            raise ApiError("until is for a suspension", details={"until": ["only with status suspended"]})
        in_force = _open_suspensions(organization).filter(annotator=user)
        for suspension in in_force.order_by("id"):
            qa_rules.suspension_lift(suspension=suspension, actor=actor, reason=reason or "reinstated by a manager",
                                     request=request)
        return
    if status == AnnotatorProfile.Status.BANNED:
        if until is not None:
            raise ApiError("a ban has no end time", details={"until": ["only with status suspended"]})
        kind, default_reason = Suspension.Kind.BAN, "banned by a manager"
    else:
        kind, default_reason = Suspension.Kind.SUSPEND, "suspended by a manager"
        until = until or timezone.now() + DEFAULT_SUSPENSION
        if until <= timezone.now():
            raise ApiError("the end time is in the past", details={"until": ["must be in the future"]})
    for suspension in _open_suspensions(organization, project_wide_only=True).filter(annotator=user).order_by("id"):
        qa_rules.suspension_lift(suspension=suspension, actor=actor, reason=f"replaced: now {status}", request=request)
    qa_rules.suspension_create(organization=organization, project=None, annotator=user, kind=kind,
                               reason=reason or default_reason, until=until, actor=actor, request=request)


# --- skills ------------------------------------------------------------------------------------------------------


def access_skill(*, organization, skill_id) -> Skill:
    found = Skill.objects.filter(organization=organization, pk=skill_id).first()
    if found is None:
        raise NotFound("no such skill")
    return found


def _save_unique(obj, *, message: str):
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(message, details={"name": ["taken"]}) from exc


@transaction.atomic
def skill_create(*, organization, actor, name: str, description: str = "", request=None) -> Skill:
    if Skill.objects.filter(organization=organization, name=name).exists():
        raise Conflict(f"a skill {name!r} exists", details={"name": ["taken"]})
    skill = Skill(organization=organization, name=name, description=description)
    _save_unique(skill, message=f"a skill {name!r} exists")
    record(action="skill.create", organization=organization, actor=actor, object_type="skill", object_id=skill.pk,
           data={"name": name}, request=request)
    return skill


@transaction.atomic
def skill_update(*, skill: Skill, actor, request=None, **changes) -> Skill:
    before = {"name": skill.name, "description": skill.description}
    name = changes.get("name")
    if name is not None and name != skill.name:
        if Skill.objects.filter(organization_id=skill.organization_id, name=name).exists():
            raise Conflict(f"a skill {name!r} exists", details={"name": ["taken"]})
        skill.name = name
    if changes.get("description") is not None:
        skill.description = changes["description"]
    _save_unique(skill, message=f"a skill {skill.name!r} exists")
    record(action="skill.update", organization=skill.organization_id, actor=actor, object_type="skill",
           object_id=skill.pk, before=before, after={"name": skill.name, "description": skill.description},
           data={"name": skill.name, "was": before["name"]}, request=request)
    return skill


@transaction.atomic
def skill_delete(*, skill: Skill, actor, request=None) -> None:
    """Members' levels in it go too; a project's skill filter then reads it as 0 (a missing skill)."""
    record(action="skill.delete", organization=skill.organization_id, actor=actor, object_type="skill",
           object_id=skill.pk, data={"name": skill.name}, request=request)
    skill.delete()


# --- pools -------------------------------------------------------------------------------------------------------


def access_pool(*, organization, pool_id) -> Pool:
    found = Pool.objects.filter(organization=organization, pk=pool_id).prefetch_related("members").first()
    if found is None:
        raise NotFound("no such pool")
    return found


def pool_member_ids(pool: Pool) -> list[int]:
    return sorted(profile.membership_id for profile in pool.members.all())


@transaction.atomic
def pool_create(*, organization, actor, name: str, description: str = "", members=(), request=None) -> Pool:
    if Pool.objects.filter(organization=organization, name=name).exists():
        raise Conflict(f"a pool {name!r} exists", details={"name": ["taken"]})
    profiles = _memberships_to_profiles(organization=organization, membership_ids=members, field_name="members")
    pool = Pool(organization=organization, name=name, description=description)
    _save_unique(pool, message=f"a pool {name!r} exists")
    pool.members.set(profiles)
    routing_changed(organization_id=organization.pk, user_ids=[p.user_id for p in profiles])
    record(action="pool.create", organization=organization, actor=actor, object_type="pool", object_id=pool.pk,
           data={"name": name, "members": sorted(p.membership_id for p in profiles)}, request=request)
    return pool


@transaction.atomic
def pool_update(*, pool: Pool, actor, name=None, description=None, members=None, add=(), remove=(),
                request=None) -> Pool:
    """`members` replaces the pool's members; `add` and `remove` change them (all membership ids)."""
    organization = pool.organization
    before = {"name": pool.name, "members": pool_member_ids(pool)}
    if name is not None and name != pool.name:
        if Pool.objects.filter(organization=organization, name=name).exists():
            raise Conflict(f"a pool {name!r} exists", details={"name": ["taken"]})
        pool.name = name
    if description is not None:
        pool.description = description
    if members is not None:
        pool.members.set(_memberships_to_profiles(organization=organization, membership_ids=members,
                                                  field_name="members"))
    if add:
        pool.members.add(*_memberships_to_profiles(organization=organization, membership_ids=add, field_name="add"))
    if remove:
        pool.members.remove(*_memberships_to_profiles(organization=organization, membership_ids=remove,
                                                      field_name="remove"))
    _save_unique(pool, message=f"a pool {pool.name!r} exists")
    pool = access_pool(organization=organization, pool_id=pool.pk)
    after = {"name": pool.name, "members": pool_member_ids(pool)}
    joined = set(after["members"]) - set(before["members"])
    if joined:
        routing_changed(organization_id=organization.pk, user_ids=Membership.objects.filter(
            organization=organization, pk__in=joined).values_list("user_id", flat=True))
    record(action="pool.update", organization=organization, actor=actor, object_type="pool", object_id=pool.pk,
           before=before, after=after,
           data={"name": pool.name, "added": sorted(set(after["members"]) - set(before["members"])),
                 "removed": sorted(set(before["members"]) - set(after["members"]))}, request=request)
    return pool


@transaction.atomic
def pool_delete(*, pool: Pool, actor, request=None) -> None:
    """A project whose settings.access names the pool then opens to nobody through it."""
    record(action="pool.delete", organization=pool.organization_id, actor=actor, object_type="pool",
           object_id=pool.pk, data={"name": pool.name, "members": pool_member_ids(pool)}, request=request)
    pool.delete()


# --- onboarding links --------------------------------------------------------------------------------------------


class OnboardingRefused(Exception):
    """Why a link cannot be used; `status` is the HTTP status its page answers with."""

    def __init__(self, message: str, *, reason: str, status: int = 410):
        super().__init__(message)
        self.reason, self.status = reason, status


def onboarding_link_state(link: OnboardingLink) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= timezone.now():
        return "expired"
    if link.max_uses is not None and link.uses >= link.max_uses:
        return "used_up"
    return "active"


def onboarding_url(key: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("onboarding_join", kwargs={"key": key})


def onboarding_links_visible(*, organization):
    return (OnboardingLink.objects.filter(organization=organization).select_related("created_by")
            .prefetch_related("pools"))


def access_onboarding_link(*, organization, link_id) -> OnboardingLink:
    found = onboarding_links_visible(organization=organization).filter(pk=link_id).first()
    if found is None:
        raise NotFound("no such onboarding link")
    return found


@transaction.atomic
def onboarding_link_create(*, organization, actor, expires_days: int, max_uses: int | None = None, pools=(),
                           request=None) -> tuple[OnboardingLink, str]:
    """A link whose key is kept only as its sha256; returns (link, url), the url being shown once."""
    pool_list = _pools_by_id(organization=organization, pool_ids=pools)
    key = secrets.token_urlsafe(32)
    link = OnboardingLink.objects.create(organization=organization, key_hash=_sha256(key), max_uses=max_uses,
                                         expires_at=timezone.now() + dt.timedelta(days=expires_days),
                                         created_by=actor)
    link.pools.set(pool_list)
    record(action="onboarding_link.create", organization=organization, actor=actor, object_type="onboarding_link",
           object_id=link.pk, data={"expires_at": link.expires_at.isoformat(), "max_uses": max_uses,
                                    "pools": [p.pk for p in pool_list]}, request=request)
    return link, onboarding_url(key)


@transaction.atomic
def onboarding_link_revoke(*, link: OnboardingLink, actor, request=None) -> OnboardingLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        record(action="onboarding_link.revoke", organization=link.organization_id, actor=actor,
               object_type="onboarding_link", object_id=link.pk, data={"uses": link.uses}, request=request)
    return link


def onboarding_link_for_key(key: str, *, lock: bool = False) -> OnboardingLink:
    """The usable link of a key; OnboardingRefused says why not (unknown 404; revoked, expired, used up 410)."""
    qs = OnboardingLink.objects.select_related("organization")
    if lock:
        qs = qs.select_for_update(of=("self",))
    link = qs.filter(key_hash=_sha256(key)).first()
    if link is None:
        raise OnboardingRefused("This link is unknown. Check that you copied all of it.", reason="unknown",
                                status=404)
    state = onboarding_link_state(link)
    if not link.organization.is_active:
        state = "revoked"
    messages = {"revoked": "This link was withdrawn by the organization.",
                "expired": "This link has expired.",
                "used_up": "This link has been used as many times as it allows."}
    if state != "active":
        raise OnboardingRefused(messages[state] + " Ask the organization for a new one.", reason=state)
    return link


@transaction.atomic
def onboarding_join(*, key: str, user, request=None) -> tuple[Membership, bool]:
    """`user` joins the link's organization as an annotator and the link's pools; returns (membership, joined).

    A member already active keeps their role and only joins the pools (no use counted); a pending invitation is
    accepted with its role; anyone else becomes an annotator, which uses the link once.
    """
    link = onboarding_link_for_key(key, lock=True)
    organization = link.organization
    membership = Membership.objects.filter(organization=organization, user=user).first()
    joined = membership is None or membership.status != Membership.Status.ACTIVE
    if joined:
        role = membership.role if membership is not None and membership.status == Membership.Status.INVITED \
            else Role.ANNOTATOR
        membership = member_add(organization=organization, user=user, role=role, actor=user, request=request)
        if link.created_by_id:
            Membership.objects.filter(pk=membership.pk).update(invited_by=link.created_by_id)
        OnboardingLink.objects.filter(pk=link.pk).update(uses=link.uses + 1)
    profile = profile_for(organization=organization, user=user)
    pools = list(link.pools.all())
    profile.pools.add(*pools)
    record(action="onboarding_link.use", organization=organization, actor=user, object_type="onboarding_link",
           object_id=link.pk, data={"member": membership.pk, "joined": joined, "pools": [p.pk for p in pools]},
           request=request)
    return membership, joined


@transaction.atomic
def onboarding_signup(*, key: str, email: str, password: str, name: str = "", request=None):
    """A new person signs up through a link: the account and the membership are made together, or neither."""
    onboarding_link_for_key(key, lock=True)  # refuse before making an account
    if user_by_email(email) is not None:
        raise OnboardingRefused("An account with this email exists: sign in to join.", reason="account_exists",
                                status=409)
    user = user_create(email=email, password=password, name=name, email_verified=False)
    membership, _ = onboarding_join(key=key, user=user, request=request)
    return user, membership


# --- bulk invitations ----------------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    invited: int = 0
    skipped: list = field(default_factory=list)

    def skip(self, row: int, email: str, reason: str):
        self.skipped.append({"row": row, "email": email, "reason": reason})


def _csv_rows(content: bytes):
    if len(content) > BULK_MAX_BYTES:
        raise ApiError(f"the file is larger than {BULK_MAX_BYTES} bytes", code="too_large", status_code=413)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError("the file is not UTF-8 text", details={"file": ["not UTF-8 text"]}) from exc
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ApiError(f"not a CSV file: {exc}", details={"file": [str(exc)]}) from exc
    return rows


@transaction.atomic
def invitations_bulk(*, organization, actor, actor_role: str, content: bytes, request=None) -> BulkResult:
    """Invite every email of a CSV (header `email` optional, else the first column) as an annotator, through
    orgs' invitation service (which mails the link and audits each). Rows that cannot be invited are skipped
    with a reason; `row` is the line number, the header being line 1."""
    rows = [(line, [cell.strip() for cell in row]) for line, row in _csv_rows(content)]
    rows = [(line, row) for line, row in rows if any(row)]
    if not rows:
        raise ApiError("the file holds no email", details={"file": ["no rows"]})
    column = 0
    header = [cell.lower() for cell in rows[0][1]]
    if "email" in header:
        column = header.index("email")
        rows = rows[1:]
    if len(rows) > BULK_MAX_ROWS:
        raise ApiError(f"send at most {BULK_MAX_ROWS} emails at once", code="too_large", status_code=413)
    result = BulkResult()
    emails = [(line, row[column] if column < len(row) else "") for line, row in rows]
    wanted = [email.lower() for _, email in emails if email]
    members = dict(Membership.objects.filter(organization=organization)
                   .annotate(email_lower=Lower("user__email")).filter(email_lower__in=wanted)
                   .values_list("email_lower", "status"))
    seen = set()
    for line, email in emails:
        try:
            validate_email(email)
        except DjangoValidationError:
            result.skip(line, email, "invalid email")
            continue
        lowered = email.lower()
        if lowered in seen:
            result.skip(line, email, "duplicate in file")
            continue
        seen.add(lowered)
        status = members.get(lowered)
        if status == Membership.Status.ACTIVE:
            result.skip(line, email, "already a member")
            continue
        if status == Membership.Status.INVITED:
            result.skip(line, email, "already invited")
            continue
        try:
            with transaction.atomic():
                member_invite(organization=organization, email=email, role=Role.ANNOTATOR, actor=actor,
                              actor_role=actor_role, request=request)
        except (ApiError, DjangoValidationError) as exc:
            result.skip(line, email, str(getattr(exc, "detail", exc)))
            continue
        result.invited += 1
    return result


def ready() -> None:
    """Register this area's registry entries and signal receivers (none: profiles are made on first use)."""
