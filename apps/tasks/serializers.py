"""Shapes of tasks as API.md lists them; gold answers only for managers."""

from functools import cache

from rest_framework import serializers

from .models import Annotation, Prediction, Task


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "data", "meta", "status", "is_gold", "priority", "annotations_count",
                  "target_annotations", "external_id", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if self.context.get("annotator"):
            # An annotator must not be able to tell a gold task from another (its counters would tell too).
            for key in ("is_gold", "gold", "consensus", "annotations_count", "target_annotations", "status",
                        "priority"):
                data.pop(key, None)
        return data


class AnnotationSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(source="author.email", allow_null=True, read_only=True)

    class Meta:
        model = Annotation
        fields = ["id", "author", "result", "version", "status", "source", "lead_time_ms", "schema_version",
                  "created_at"]
        read_only_fields = fields


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["id", "model_version", "result", "score", "created_at"]
        read_only_fields = fields


class TaskDetailSerializer(TaskSerializer):
    annotations = AnnotationSerializer(many=True, read_only=True)
    predictions = serializers.SerializerMethodField()
    consensus = serializers.SerializerMethodField()
    gold = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "annotations", "predictions", "consensus", "gold"]
        read_only_fields = fields

    def get_predictions(self, task) -> list:
        ranked = sorted(task.predictions.all(), key=lambda p: (p.score is None, -(p.score or 0)))
        return PredictionSerializer(ranked, many=True).data

    def get_consensus(self, task) -> dict | None:
        if task.consensus_result is None or self.context.get("annotator"):  # it is made of others' work
            return None
        return {"result": task.consensus_result, "confidence": task.consensus_confidence,
                "method": task.consensus_method}

    def get_gold(self, task) -> dict | None:
        if not self.context.get("show_gold") or task.gold_result is None:
            return None
        return {"result": task.gold_result}


class TaskFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Task.Status.choices, required=False)
    is_gold = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_prediction = serializers.BooleanField(required=False, allow_null=True, default=None)
    annotator = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                         help_text="member id")
    agreement_lt = serializers.FloatField(required=False, min_value=0, max_value=1,
                                          help_text="tasks whose annotators agree less than this (0..1)")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class TaskUpdateSerializer(serializers.Serializer):
    priority = serializers.IntegerField(required=False, min_value=-(2**31 - 1), max_value=2**31 - 1)
    meta = serializers.JSONField(required=False)

    def validate_meta(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        return value


class ImportQuerySerializer(serializers.Serializer):
    on_duplicate = serializers.ChoiceField(choices=["skip", "update"], default="skip")
    return_ids = serializers.BooleanField(default=False)


class TaskBulkSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["delete", "set_priority", "requeue", "mark_gold"])
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                max_length=100_000)
    filter = TaskFilterSerializer(required=False)
    priority = serializers.IntegerField(required=False, min_value=-(2**31 - 1), max_value=2**31 - 1)

    def validate(self, attrs):
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["send either ids or filter"]})
        return attrs


@cache
def _bound(serializer_class):
    return serializer_class()


def represented(serializer_class, instance) -> dict:
    """`serializer_class(instance).data` for a read-only serializer, from one instance of it per process: a
    ModelSerializer builds its fields from the model on every instantiation, which costs the submit and
    attach answers more than the rest of their serialization. Its fields keep no state between calls."""
    return _bound(serializer_class).to_representation(instance)
