"""Tasks and what is said about them: annotations (with every version), predictions and flags."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone


class Task(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"  # nobody has worked on it yet
        IN_PROGRESS = "in_progress", "In progress"  # leased or partly annotated
        ANNOTATED = "annotated", "Annotated"  # has its target; annotations wait for review
        IN_REVIEW = "in_review", "In review"  # a reviewer holds one of its annotations
        ACCEPTED = "accepted", "Accepted"  # has its target and nothing waits for review
        REJECTED = "rejected", "Rejected"  # a reviewer rejected an annotation; back in the queue

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
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
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
    reopen_seq = models.BigIntegerField(
        null=True, blank=True,
        help_text="QueueState.reopen_seq when the task last became leasable again (apps.tasks.queue)",
    )

    class Meta:
        # The queue's two partial indexes are expression indexes made in migration 0003 (apps.tasks.queue).
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="tasks_task_unique_content"),
            models.UniqueConstraint(fields=["project", "external_id"], condition=models.Q(external_id__isnull=False),
                                    name="tasks_task_unique_external_id"),
            models.CheckConstraint(condition=models.Q(in_flight__gte=0), name="tasks_task_in_flight_not_negative"),
            # The queue orders by -priority, which must fit the column's integer type.
            models.CheckConstraint(condition=models.Q(priority__gt=-(2**31)), name="tasks_task_priority_range"),
        ]
        indexes = [
            models.Index(fields=["project", "id"], name="tasks_task_project_id"),
            # The gold mix picks from a project's gold tasks without reading its other tasks.
            models.Index(fields=["project", "id"], condition=models.Q(is_gold=True), name="tasks_task_gold"),
        ]

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
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED,
                              help_text="submitted = waiting for review; accepted counts; rejected does not")
    meta = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(
        max_length=200, blank=True, help_text="the client's Idempotency-Key: a retried write returns this annotation"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["project", "author"], name="tasks_annot_project_author"),
            models.Index(fields=["project", "created_at"], name="tasks_annot_project_created"),
            # The review queue: annotations waiting for a reviewer, oldest first.
            models.Index(fields=["project", "id"], condition=models.Q(status="submitted"),
                         name="tasks_annot_awaiting_review"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["author", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="tasks_annot_unique_idempotency_key"),
        ]

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
    source = models.CharField(max_length=16, choices=Annotation.Source.choices, default=Annotation.Source.HUMAN,
                              help_text="who made this state: review for a reviewer's fix")
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
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="flags",
                             help_text="NULL for a flag about an annotator rather than a task")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+", help_text="whom a flag about an annotator (an outlier) is about")
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

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(task__isnull=False) | models.Q(annotator__isnull=False),
                                   name="tasks_flag_about_something"),
        ]

    def __str__(self):
        return f"flag {self.kind} on task {self.task_id or '-'}"


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


class Assignment(models.Model):
    """A task leased to one person by the queue (or pinned to them by a manager).

    One row per (task, annotator), enforced by the database: nobody is ever handed the same task twice.
    A released or expired lease keeps its row; if the task comes back to that person the row is reused.
    """

    class Status(models.TextChoices):
        PINNED = "pinned", "Pinned by a manager"  # holds a slot; served to them first
        ACTIVE = "active", "Active lease"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"  # never served to them again
        RELEASED = "released", "Released"  # given back (or revoked); may come back
        EXPIRED = "expired", "Expired"

    class Kind(models.TextChoices):
        QUEUE = "queue", "Queue"  # counts toward the task's target
        GOLD = "gold", "Gold"  # served by a `tasks.sources` provider, outside the target
        EXAM = "exam", "Exam"
        TRAINING = "training", "Training"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.QUEUE)
    leased_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft = models.JSONField(null=True, blank=True, help_text="autosaved work in progress")
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    annotation = models.OneToOneField(Annotation, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="assignment")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="tasks_assignment_once_per_person"),
            # One lease at a time per person and project: `next` returns it again instead of a second one.
            models.UniqueConstraint(fields=["project", "annotator"], condition=models.Q(status="active"),
                                    name="tasks_assignment_one_active_lease"),
        ]
        indexes = [
            models.Index(fields=["project", "expires_at"], condition=models.Q(status="active"),
                         name="tasks_assignment_expiring"),
            models.Index(fields=["annotator", "project", "id"], condition=models.Q(status="pinned"),
                         name="tasks_assignment_pinned"),
        ]

    def __str__(self):
        return f"assignment {self.pk} ({self.status})"


class Review(models.Model):
    """A reviewer's lease on an annotation, then their decision."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Leased to the reviewer"
        DECIDED = "decided", "Decided"
        EXPIRED = "expired", "Expired"

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        FIX = "fix", "Fix"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True)
    comment = models.TextField(blank=True)
    leased_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation"], condition=models.Q(status="active"),
                                    name="tasks_review_one_active_per_annotation"),
            models.UniqueConstraint(fields=["project", "reviewer"], condition=models.Q(status="active"),
                                    name="tasks_review_one_active_per_reviewer"),
        ]

    def __str__(self):
        return f"review {self.pk} of annotation {self.annotation_id}"


class QueueState(models.Model):
    """Per project: a counter bumped whenever a task becomes leasable again behind people's cursors."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, primary_key=True,
                                   related_name="+")
    reopen_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"queue of project {self.project_id} at {self.reopen_seq}"


class QueueCursor(models.Model):
    """Where one person is in a project's queue (apps.tasks.queue explains the two streams)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The ordinary stream, in queue order (-priority, id): everything at or before it is theirs or was not open.
    order_key = models.IntegerField(null=True, blank=True, help_text="-priority of the cursor's position")
    task_key = models.BigIntegerField(null=True, blank=True, help_text="task id of the cursor's position")
    # The reopened stream, in (reopen_seq, -priority, id) order.
    reopen_seq = models.BigIntegerField(default=0)
    reopen_order_key = models.BigIntegerField(default=2**40)
    reopen_task_key = models.BigIntegerField(default=2**62)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="tasks_queuecursor_unique"),
        ]

    def __str__(self):
        return f"cursor of {self.annotator_id} in project {self.project_id}"


class ProgressCounter(models.Model):
    """Task counts by status per project, kept by database triggers (migration 0004) in shards so that
    concurrent submits do not queue on one row; `GET /projects/{id}/progress` sums them."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    shard = models.SmallIntegerField()
    status = models.CharField(max_length=16)
    tasks = models.BigIntegerField(default=0)
    targets = models.BigIntegerField(default=0, help_text="sum of target_annotations")
    annotations = models.BigIntegerField(default=0, help_text="sum of annotations_count")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "shard", "status"], name="tasks_progress_unique"),
        ]

    def __str__(self):
        return f"{self.status}: {self.tasks} tasks in project {self.project_id}"
