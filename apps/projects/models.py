"""Projects and their versioned label schemas."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone


class Project(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"  # serves no work
        ARCHIVED = "archived", "Archived"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True, help_text="Markdown; rendered without raw HTML")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    settings = models.JSONField(default=dict, help_text="DESIGN §4; always complete (defaults filled)")
    schema_version = models.PositiveIntegerField(default=0, help_text="the current LabelSchemaVersion.version")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="deleted projects are kept, hidden")

    class Meta:
        indexes = [models.Index(fields=["organization", "status"], name="projects_project_org_status")]
        # Object-level grant (django-guardian): this reviewer or annotator may work on this project.
        permissions = [("work_on_project", "May work on the project")]

    def __str__(self):
        return self.name

    @property
    def current_schema(self):
        return self.schema_versions.filter(version=self.schema_version).first()


class LabelSchemaVersion(models.Model):
    class Source(models.TextChoices):
        SPEC = "spec", "Quorum spec"
        LABEL_STUDIO = "label_studio", "Label Studio config"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schema_versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="the normalized label spec (apps.projects.label_spec)")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SPEC)
    label_config = models.TextField(blank=True, help_text="the Label Studio XML it came from, if any")
    remap = models.JSONField(default=dict, blank=True, help_text="label remap from the previous version")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="projects_schema_unique_version"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="projects_schema_version_positive"),
        ]
        ordering = ["project", "-version"]

    def __str__(self):
        return f"{self.project} schema v{self.version}"
