"""Tasks and what is said about them: annotations (with every version), predictions and flags."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"  # wants more annotations
        COMPLETED = "completed", "Completed"

    class Source(models.TextChoices):
        API = "api", "API"
        FILE = "file", "File upload"
        COMMAND = "command", "Command line"
        STORAGE = "storage", "Storage sync"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="tasks", db_index=False)
    data = models.JSONField()
    meta = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: unique only when given
    content_hash = models.CharField(max_length=32, help_text="blake2b-128 of the canonical data JSON")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.IntegerField(default=0)
    target_annotations = models.PositiveSmallIntegerField(default=1)
    annotations_count = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    is_gold = models.BooleanField(default=False)
    gold_result = models.JSONField(null=True, blank=True, help_text="never shown to annotators")
    consensus_result = models.JSONField(null=True, blank=True)
    consensus_confidence = models.FloatField(null=True, blank=True)
    consensus_method = models.CharField(max_length=32, blank=True)
    agreement = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="tasks_task_unique_content"),
            models.UniqueConstraint(fields=["project", "external_id"], condition=models.Q(external_id__isnull=False),
                                    name="tasks_task_unique_external_id"),
        ]
        # The queue's partial index comes with the queue (#4): every index costs the bulk import.
        indexes = [models.Index(fields=["project", "id"], name="tasks_task_project_id")]

    def __str__(self):
        return f"task {self.pk}"


class Annotation(models.Model):
    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        MODEL = "model", "Model"
        CONSENSUS = "consensus", "Consensus"
        REVIEW = "review", "Review"
        IMPORT = "import", "Imported"

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_version = models.CharField(max_length=100, blank=True)
    result = models.JSONField(default=list)
    version = models.PositiveIntegerField(default=1)
    schema_version = models.PositiveIntegerField()
    lead_time_ms = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.HUMAN)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "author"], name="tasks_annot_project_author")]

    def __str__(self):
        return f"annotation {self.pk} v{self.version}"


class AnnotationVersion(models.Model):
    """Append-only copy of every state of an annotation."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    result = models.JSONField()
    schema_version = models.PositiveIntegerField()
    author = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "version"], name="tasks_annotversion_unique"),
        ]

    def __str__(self):
        return f"annotation {self.annotation_id} v{self.version}"


class Prediction(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.CharField(max_length=100, blank=True)
    result = models.JSONField(default=list)
    score = models.FloatField(null=True, blank=True)
    schema_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"prediction {self.pk} ({self.model_version})"


class Flag(models.Model):
    """A problem reported on a task, by an annotator or by quality control."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=32)
    raised_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"flag {self.kind} on task {self.task_id}"


class Media(models.Model):
    """A file uploaded into a project's storage (images, audio…), referenced from task data by `key`."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="media")
    name = models.CharField(max_length=255, help_text="the uploaded file name")
    key = models.CharField(max_length=500, unique=True, help_text="the storage key")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.key
