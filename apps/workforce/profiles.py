"""Workforce: annotator profiles, skills and pools, onboarding links (services; plugs in from ready())."""

from django.db import transaction
from django.utils import timezone

from apps.orgs.models import Membership

from .models import AnnotatorProfile, AnnotatorSkill, Skill


def profile_for(*, organization, user) -> AnnotatorProfile:
    """The member's profile, made on first use (every member of the organization can work)."""
    profile = AnnotatorProfile.objects.filter(organization=organization, user=user).first()
    if profile is not None:
        return profile
    membership = Membership.objects.get(organization=organization, user=user)
    profile, _ = AnnotatorProfile.objects.get_or_create(organization=organization, user=user,
                                                        defaults={"membership": membership})
    return profile


@transaction.atomic
def skill_level_set(*, profile: AnnotatorProfile, skill: Skill, level: int,
                    source: str = AnnotatorSkill.Source.MANAGER) -> AnnotatorSkill:
    """Set a profile's level (0–100) in a skill."""
    if not 0 <= int(level) <= 100:
        raise ValueError("a skill level is from 0 to 100")
    found, _ = AnnotatorSkill.objects.update_or_create(
        profile=profile, skill=skill, defaults={"level": int(level), "source": source, "updated_at": timezone.now()})
    return found


def skill_levels(profile: AnnotatorProfile) -> dict[str, int]:
    """{skill name: level} of a profile (missing skills are 0 in filters)."""
    return dict(AnnotatorSkill.objects.filter(profile=profile).values_list("skill__name", "level"))


def ready() -> None:
    """Register this area's registry entries and signal receivers."""
