"""Background jobs: what was asked, how far it got, and how it ended."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # A deterministic key for user-triggered jobs: a second identical request joins the running job.
    dedupe_key = models.CharField(max_length=200, blank=True)
    time_limit = models.PositiveIntegerField(help_text="seconds before the job is considered lost")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0) & models.Q(progress__lte=1),
                                   name="jobs_job_progress_range"),
            models.UniqueConstraint(
                fields=["organization", "dedupe_key"],
                condition=models.Q(status__in=["queued", "running"]) & ~models.Q(dedupe_key=""),
                name="jobs_job_one_live_per_key",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-id"], name="jobs_job_org_recent"),
            models.Index(fields=["status", "started_at"], name="jobs_job_status_started"),
        ]

    def __str__(self):
        return f"job {self.pk} {self.kind} ({self.status})"

    @property
    def is_finished(self):
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
