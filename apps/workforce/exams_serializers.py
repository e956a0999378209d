"""Input and output shapes of the exams API (annotators' shapes carry no task ids and no answers)."""

from rest_framework import serializers

from .models import Exam, ExamAttempt

MAX_ID = 2**63 - 1


class ExamInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    project = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=Exam.Kind.choices, required=False)
    tasks = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1,
                                  max_length=10_000, help_text="gold tasks of the project")
    skill = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    skill_level = serializers.IntegerField(min_value=0, max_value=100, required=False)
    pass_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    max_attempts = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    retry_after_hours = serializers.FloatField(min_value=0, max_value=24 * 3650, required=False)
    required = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class ExamSerializer(serializers.ModelSerializer):
    """What managers (and viewers) read: the exam with its task ids."""

    tasks = serializers.SerializerMethodField()
    tasks_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = Exam
        fields = ["id", "name", "project", "kind", "tasks", "tasks_total", "skill", "skill_level", "pass_threshold",
                  "max_attempts", "retry_after_hours", "required", "active", "created_at"]

    def get_tasks(self, exam) -> list[int]:
        return sorted(t.pk for t in exam.tasks.all())


class Standing(serializers.Serializer):
    status = serializers.CharField(allow_null=True, help_text="of the latest attempt")
    passed = serializers.BooleanField()
    attempts_used = serializers.IntegerField()
    attempts_left = serializers.IntegerField()
    open_attempt = serializers.IntegerField(allow_null=True)
    retry_at = serializers.DateTimeField(allow_null=True)


class ExamForWorkerSerializer(serializers.ModelSerializer):
    """What annotators and reviewers read: no task ids (they would tell gold tasks apart), no answers."""

    tasks_total = serializers.IntegerField(read_only=True)
    me = serializers.SerializerMethodField()

    class Meta:
        model = Exam
        fields = ["id", "name", "project", "kind", "tasks_total", "skill", "skill_level", "pass_threshold",
                  "max_attempts", "retry_after_hours", "required", "me"]

    def get_me(self, exam) -> dict:
        from .exams import my_standing

        return Standing(my_standing(exam, self.context["user"])).data


class AttemptSerializer(serializers.ModelSerializer):
    annotator = serializers.IntegerField(source="member_id", read_only=True, help_text="member id")
    tasks_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = ExamAttempt
        fields = ["id", "exam", "annotator", "number", "status", "tasks_total", "answered", "score", "started_at",
                  "finished_at"]


class AttemptFilterSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text="member id")
    status = serializers.ChoiceField(choices=ExamAttempt.Status.choices, required=False)


class ExamFilterSerializer(serializers.Serializer):
    project = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    kind = serializers.ChoiceField(choices=Exam.Kind.choices, required=False)
