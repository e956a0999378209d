"""Input and output shapes of the performance, leaderboard, promotion and appeal API."""

import datetime as dt

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Appeal, PromotionProposal, PromotionRule
from .performance import LEADERBOARD_METRICS

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.STR)
class MomentField(serializers.Field):
    """An ISO 8601 date-time, or a date: its midnight (UTC), or for an `until`, the next midnight, so the day
    counts."""

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            moment = parse_datetime(text)
            day = None if moment else parse_date(text)
        except ValueError:
            moment = day = None
        if moment is None and day is None:
            raise serializers.ValidationError("an ISO 8601 date or date-time")
        if moment is None:
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if self.end_of_day else 0), dt.time(), dt.UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment

    def to_representation(self, value):
        return value.isoformat()


class PeriodSerializer(serializers.Serializer):
    since = MomentField(required=False, help_text="from this date or date-time (inclusive)")
    until = MomentField(required=False, end_of_day=True, help_text="to this date (inclusive) or date-time (exclusive)")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["must be after since"]})
        return attrs


class PerformanceQuerySerializer(PeriodSerializer):
    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                       help_text="one project; without it, the whole organization")


class LeaderboardQuerySerializer(PeriodSerializer):
    by = serializers.ChoiceField(choices=LEADERBOARD_METRICS, required=False, default="accuracy")
    min_golds = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000,
                                         help_text="default 10 when ranking by accuracy, else 0")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=1000)


class PromotionRuleSerializer(serializers.ModelSerializer):
    # An id, resolved by the view inside the caller's organization (a related field would look in every tenant).
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID, default=None)
    top_fraction = serializers.FloatField(required=False, min_value=0.0001, max_value=1)
    min_golds = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    min_accuracy = serializers.FloatField(required=False, min_value=0, max_value=1)

    class Meta:
        model = PromotionRule
        fields = ["id", "project", "top_fraction", "min_golds", "min_accuracy", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["project"] = instance.project_id
        return data


class PromotionProposalSerializer(serializers.ModelSerializer):
    """`annotator` and `decided_by` are membership ids (API.md), from the view's `members` context."""

    annotator = serializers.SerializerMethodField()
    annotator_email = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = PromotionProposal
        fields = ["id", "project", "annotator", "annotator_email", "reason", "evidence", "status", "decided_by",
                  "created_at", "decided_at"]

    def _member(self, user_id) -> int | None:
        return self.context.get("members", {}).get(user_id)

    def get_annotator(self, obj) -> int | None:
        return self._member(obj.annotator_id)

    def get_annotator_email(self, obj) -> str:
        return obj.annotator.email

    def get_decided_by(self, obj) -> int | None:
        return self._member(obj.decided_by_id) if obj.decided_by_id else None


class AppealCreateSerializer(serializers.Serializer):
    suspension = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    message = serializers.CharField(max_length=5000)


class AppealDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["grant", "deny"])
    response = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class AppealFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Appeal.Status.choices, required=False)


class PromotionFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PromotionProposal.Status.choices, required=False)


class AppealSerializer(serializers.ModelSerializer):
    """An appeal with what it is against; managers also see who decided (a membership id)."""

    annotator = serializers.SerializerMethodField()
    against = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = ["id", "suspension", "against", "annotator", "message", "status", "response", "decided_by",
                  "created_at", "decided_at"]

    def get_annotator(self, obj) -> int | None:
        return self.context.get("members", {}).get(obj.annotator_id)

    def get_against(self, obj) -> dict:
        s = obj.suspension
        return {"project": s.project_id, "kind": s.kind, "reason": s.reason,
                "until": s.until.isoformat() if s.until else None,
                "lifted_at": s.lifted_at.isoformat() if s.lifted_at else None}

    def get_decided_by(self, obj) -> int | None:
        if not self.context.get("manager") or not obj.decided_by_id:
            return None
        return self.context.get("members", {}).get(obj.decided_by_id)
