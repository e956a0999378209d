"""Input and output shapes of the workforce's profiles API: skills, pools, annotators, onboarding links."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.qa.annotator_stats import accuracy
from apps.qa.serializers import SuspensionSerializer

from .models import AnnotatorProfile, OnboardingLink, Pool, Skill
from .profiles import LANGUAGE_CODE, annotator_status, onboarding_link_state, pool_member_ids, timezone_valid

MAX_ID = 2**63 - 1


def member_ids(**kwargs):
    return serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=100_000,
                                 **{"help_text": "membership ids, as /members lists them", **kwargs})


# --- skills ------------------------------------------------------------------------------------------------------


class SkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = ["id", "created_at"]
        # Uniqueness is the service's 409, not a 400 of the serializer.
        validators: list = []


class SkillUpdateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


# --- pools -------------------------------------------------------------------------------------------------------


class PoolSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField(help_text="membership ids")
    member_count = serializers.SerializerMethodField()

    class Meta:
        model = Pool
        fields = ["id", "name", "description", "members", "member_count", "created_at"]
        read_only_fields = fields

    def get_members(self, pool) -> list[int]:
        return pool_member_ids(pool)

    def get_member_count(self, pool) -> int:
        return len(pool.members.all())


class PoolCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    members = member_ids(required=False, default=list)


class PoolUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    members = member_ids(required=False, help_text="replaces the pool's members (membership ids)")
    add = member_ids(required=False, default=list)
    remove = member_ids(required=False, default=list)

    def validate(self, attrs):
        if "members" in attrs and (attrs.get("add") or attrs.get("remove")):
            raise serializers.ValidationError({"members": ["send either members, or add and remove"]})
        both = set(attrs.get("add", [])) & set(attrs.get("remove", []))
        if both:
            raise serializers.ValidationError({"add": [f"also in remove: {', '.join(map(str, sorted(both)))}"]})
        return attrs


# --- annotators --------------------------------------------------------------------------------------------------


class AnnotatorFilterSerializer(serializers.Serializer):
    pool = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    skill = serializers.SlugField(required=False, max_length=64)
    min_level = serializers.IntegerField(required=False, min_value=0, max_value=100,
                                         help_text="with skill: level at least this (default 1)")
    status = serializers.ChoiceField(choices=AnnotatorProfile.Status.choices, required=False)
    language = serializers.RegexField(LANGUAGE_CODE, required=False, max_length=35)


def _stats_body(stats) -> dict:
    found = accuracy(stats)
    return {
        "annotations": stats.annotations if stats else 0,
        "skips": stats.skips if stats else 0,
        "gold_seen": found["gold_seen"],
        "gold_correct": found["gold_correct"],
        "accuracy": found["accuracy"],
        "accuracy_low": found["low"],
        "accuracy_high": found["high"],
        "mean_lead_time_ms": (round(stats.lead_time_sum_ms / stats.lead_time_count)
                              if stats and stats.lead_time_count else None),
    }


class AnnotatorStatsSerializer(serializers.Serializer):
    annotations = serializers.IntegerField()
    skips = serializers.IntegerField()
    gold_seen = serializers.IntegerField()
    gold_correct = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    accuracy_low = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval")
    accuracy_high = serializers.FloatField(allow_null=True)
    mean_lead_time_ms = serializers.IntegerField(allow_null=True)


class AnnotatorSerializer(serializers.Serializer):
    """A member as an annotator. Context: `stats` {user id: AnnotatorStats}, `with_notes` (managers)."""

    id = serializers.IntegerField(help_text="membership id")
    user = serializers.IntegerField(source="user_id")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    role = serializers.CharField()
    member_status = serializers.CharField(source="status", help_text="invited or active")
    status = serializers.SerializerMethodField(help_text="active, suspended or banned (organization-wide)")
    skills = serializers.SerializerMethodField()
    pools = serializers.SerializerMethodField()
    languages = serializers.ListField(source="profile.languages", child=serializers.CharField())
    timezone = serializers.CharField(source="profile.timezone")
    notes = serializers.CharField(source="profile.notes", help_text="managers only")
    stats = serializers.SerializerMethodField()

    def get_status(self, membership) -> str:
        return annotator_status(membership)

    def get_skills(self, membership) -> dict[str, int]:
        return {level.skill.name: level.level
                for level in sorted(membership.profile.skill_levels.all(), key=lambda lv: lv.skill.name)}

    def get_pools(self, membership) -> list[int]:
        return sorted(pool.pk for pool in membership.profile.pools.all())

    @extend_schema_field(AnnotatorStatsSerializer)
    def get_stats(self, membership) -> dict:
        return _stats_body(self.context.get("stats", {}).get(membership.user_id))

    def to_representation(self, membership):
        body = super().to_representation(membership)
        if not self.context.get("with_notes"):
            body.pop("notes", None)
        return body


class AnnotatorDetailSerializer(AnnotatorSerializer):
    """Context adds `suspensions`: those in force now."""

    suspensions = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="profile.created_at")
    updated_at = serializers.DateTimeField(source="profile.updated_at")

    @extend_schema_field(SuspensionSerializer(many=True))
    def get_suspensions(self, membership) -> list[dict]:
        return SuspensionSerializer(self.context.get("suspensions", []), many=True).data


def annotator_csv_rows(memberships, *, stats, skill_names) -> list[dict]:
    """Flat rows for `?format=csv`: one column per skill (`skill.<name>`), lists joined by spaces."""
    rows = []
    for membership in memberships:
        profile = membership.profile
        levels = {level.skill.name: level.level for level in profile.skill_levels.all()}
        row = {"id": membership.pk, "email": membership.user.email, "name": membership.user.name,
               "role": membership.role, "member_status": membership.status, "status": annotator_status(membership),
               "languages": " ".join(profile.languages), "timezone": profile.timezone,
               "pools": " ".join(str(pk) for pk in sorted(p.pk for p in profile.pools.all())),
               **{f"skill.{name}": levels.get(name, 0) for name in skill_names},
               **_stats_body(stats.get(membership.user_id)), "notes": profile.notes}
        rows.append(row)
    return rows


class AnnotatorUpdateSerializer(serializers.Serializer):
    skills = serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=100, allow_null=True),
                                   required=False, help_text="{name: level 0-100, or null to remove}")
    pools = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                  max_length=10_000, help_text="replaces the member's pools")
    languages = serializers.ListField(child=serializers.RegexField(LANGUAGE_CODE, max_length=35), required=False,
                                      max_length=50)
    timezone = serializers.CharField(required=False, max_length=64)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    status = serializers.ChoiceField(choices=AnnotatorProfile.Status.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    until = serializers.DateTimeField(required=False, help_text="for status suspended; default 24 hours from now")

    def validate_timezone(self, value):
        if not timezone_valid(value):
            raise serializers.ValidationError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)")
        return value

    def validate_languages(self, value):
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["nothing to change"]})
        if ("until" in attrs or "reason" in attrs) and "status" not in attrs:
            field = "until" if "until" in attrs else "reason"
            raise serializers.ValidationError({field: ["only with status"]})
        return attrs


# --- onboarding links --------------------------------------------------------------------------------------------


class OnboardingLinkSerializer(serializers.ModelSerializer):
    pools = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField(help_text="active, expired, revoked or used_up")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

    class Meta:
        model = OnboardingLink
        fields = ["id", "state", "pools", "expires_at", "max_uses", "uses", "revoked_at", "created_by", "created_at"]
        read_only_fields = fields

    def get_pools(self, link) -> list[int]:
        return sorted(pool.pk for pool in link.pools.all())

    def get_state(self, link) -> str:
        return onboarding_link_state(link)


class OnboardingLinkCreatedSerializer(OnboardingLinkSerializer):
    url = serializers.SerializerMethodField(help_text="shown only in this response")

    class Meta(OnboardingLinkSerializer.Meta):
        fields = [*OnboardingLinkSerializer.Meta.fields, "url"]
        read_only_fields = fields

    def get_url(self, link) -> str:
        return self.context["url"]


class OnboardingLinkCreateSerializer(serializers.Serializer):
    expires_days = serializers.IntegerField(min_value=1, max_value=365, default=7)
    max_uses = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True,
                                        default=None, help_text="null: any number until it expires")
    pools = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                  default=list, max_length=1000)


class BulkSkipSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="line number; a header is line 1")
    email = serializers.CharField()
    reason = serializers.CharField()


class BulkInviteResultSerializer(serializers.Serializer):
    invited = serializers.IntegerField()
    skipped = BulkSkipSerializer(many=True)
