"""Frozen dataset versions (snapshots) and the export files made from them."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone


class DatasetSnapshot(models.Model):
    """Which labels of which tasks, under which schema version and split, as they were when it was made.

    Its items pin annotation versions (AnnotationVersion rows never change) and copy what can change later
    (a consensus, a gold answer, task meta), so exporting it again gives the same bytes. Snapshots never change.
    """

    class Filter(models.TextChoices):
        ACCEPTED = "accepted", "Accepted annotations"
        CONSENSUS = "consensus", "The consensus of each task"
        ALL = "all", "Every annotation but rejected ones"
        LATEST_HUMAN = "latest_human", "The latest human annotation of each task"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="snapshots")
    schema_version = models.PositiveIntegerField()
    filter = models.CharField(max_length=16, choices=Filter.choices, default=Filter.ACCEPTED)
    include_gold = models.BooleanField(default=False)
    split = models.JSONField(default=dict, blank=True, help_text='{"train": 0.8, "val": 0.1, "test": 0.1}')
    seed = models.BigIntegerField(default=0)
    stratify = models.BooleanField(default=False)
    counts = models.JSONField(default=dict)
    checksum = models.CharField(max_length=64, help_text="sha256 over the snapshot's items, in task order")
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"snapshot {self.pk} of project {self.project_id}"


class SnapshotItem(models.Model):
    """One task of a snapshot: its split and the labels chosen for it (an annotation version, or a copy)."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint: items are written only by snapshot_create, in the transaction that makes their
    # snapshot, and checking the key of each of a million rows costs a fifth of the snapshot's time.
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.CASCADE, related_name="items", db_index=False,
                                 db_constraint=False)
    # Not a foreign key: a task deleted later is left out of the snapshot's exports (and counted), it does not
    # block the deletion.
    task_id = models.BigIntegerField()
    split = models.CharField(max_length=8, blank=True)
    annotation_id = models.BigIntegerField(null=True, blank=True)
    annotation_version = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True, help_text="a frozen copy when no annotation version is pinned")
    meta = models.JSONField(null=True, blank=True)
    annotations = models.JSONField(default=list, help_text="[[annotation id, version], …] the snapshot includes")
    quality = models.JSONField(null=True, blank=True,
                               help_text="the task's consensus (result, confidence, method) and agreement then")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "task_id"], name="exports_item_unique_task")]

    def __str__(self):
        return f"task {self.task_id} in snapshot {self.snapshot_id}"


class Export(models.Model):
    """An export file of a snapshot in one format, made by a job and published atomically."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+")
    snapshot = models.ForeignKey(DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="exports", help_text="NULL until the job has made it (large projects)")
    format = models.CharField(max_length=32)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file_key = models.CharField(max_length=500, blank=True, help_text="storage key of the published file")
    file_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="sha256 of the file")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"export {self.pk} ({self.format})"
