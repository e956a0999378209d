"""Input and output shapes of the qa API."""

from rest_framework import serializers

from apps.tasks.models import Flag

from .models import QualityRule, RuleFiring, Suspension

MAX_ID = 2**63 - 1


class GoldItemSerializer(serializers.Serializer):
    task = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    result = serializers.JSONField()

    def validate_result(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("a result is a JSON array of regions")
        return value


class GoldFromConsensusSerializer(serializers.Serializer):
    task = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    from_consensus = serializers.BooleanField()

    def validate_from_consensus(self, value):
        if not value:
            raise serializers.ValidationError("send true, or a result instead")
        return value


class ConsensusRequestSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["majority", "dawid_skene", "auto"], required=False,
                                     help_text="default: the project's settings.consensus_method")


class QualityRuleSerializer(serializers.ModelSerializer):
    op = serializers.ChoiceField(choices=QualityRule.OPS)
    params = serializers.JSONField(required=False)
    duration_hours = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=24 * 3650)
    min_samples = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)

    class Meta:
        model = QualityRule
        fields = ["id", "project", "collector", "params", "min_samples", "op", "threshold", "action",
                  "duration_hours", "active", "created_at", "updated_at"]
        read_only_fields = ["id", "project", "created_at", "updated_at"]

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        return value

    def validate(self, attrs):
        collector = attrs.get("collector", getattr(self.instance, "collector", None))
        params = attrs.get("params", getattr(self.instance, "params", {}) or {})
        allowed = {"fast_responses": {"seconds"}}.get(collector, set())
        if set(params) - allowed:
            raise serializers.ValidationError({"params": [f"{collector} takes {sorted(allowed) or 'no params'}"]})
        seconds = params.get("seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                    or not 0 < seconds <= 3600):
            raise serializers.ValidationError({"params": ["seconds is a number above 0, at most 3600"]})
        threshold = attrs.get("threshold", getattr(self.instance, "threshold", None))
        if threshold is not None and threshold != threshold:
            raise serializers.ValidationError({"threshold": ["a number"]})
        action = attrs.get("action", getattr(self.instance, "action", None))
        if action == QualityRule.Action.SUSPEND and not attrs.get("duration_hours",
                                                                  getattr(self.instance, "duration_hours", None)):
            attrs["duration_hours"] = 24.0
        return attrs


class RuleFiringSerializer(serializers.ModelSerializer):
    annotator = serializers.EmailField(source="annotator.email", read_only=True)

    class Meta:
        model = RuleFiring
        fields = ["id", "rule", "annotator", "annotator_id", "value", "samples", "action", "suspension",
                  "created_at", "reverted_at"]
        read_only_fields = fields


class SuspensionSerializer(serializers.ModelSerializer):
    annotator = serializers.EmailField(source="annotator.email", read_only=True)

    class Meta:
        model = Suspension
        fields = ["id", "project", "annotator", "annotator_id", "kind", "reason", "source", "rule", "until",
                  "created_at", "lifted_at", "lift_reason"]
        read_only_fields = fields


class SuspensionCreateSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="member id")
    kind = serializers.ChoiceField(choices=Suspension.Kind.choices, default=Suspension.Kind.SUSPEND)
    reason = serializers.CharField(max_length=2000)
    until = serializers.DateTimeField(required=False, allow_null=True)
    all_projects = serializers.BooleanField(default=False)


class SuspensionLiftSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FlagSerializer(serializers.ModelSerializer):
    raised_by = serializers.EmailField(source="raised_by.email", read_only=True, allow_null=True)
    annotator = serializers.EmailField(source="annotator.email", read_only=True, allow_null=True)

    class Meta:
        model = Flag
        fields = ["id", "task", "annotator", "kind", "reason", "raised_by", "created_at", "resolved_at"]
        read_only_fields = fields


class FlagFilterSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, max_length=32)
    resolved = serializers.BooleanField(required=False, allow_null=True, default=None)
