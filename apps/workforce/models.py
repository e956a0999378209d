"""The crowd workforce: annotator profiles, skills and pools, onboarding links, exams, pay, appeals, promotions."""

from django.conf import settings as django_settings
from django.db import models
from django.utils.timezone import now


class AnnotatorProfile(models.Model):
    """An organization's view of one of its members as a worker (one per membership)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        BANNED = "banned", "Banned"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    membership = models.OneToOneField("orgs.Membership", on_delete=models.CASCADE, related_name="profile")
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    languages = models.JSONField(default=list, blank=True, help_text="language codes, e.g. ['en', 'de']")
    timezone = models.CharField(max_length=64, blank=True, default="UTC")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True, help_text="manager notes, never shown to the annotator")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="workforce_profile_one_per_member"),
        ]

    def __str__(self):
        return f"profile of {self.user_id} in {self.organization_id}"


class Skill(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.SlugField(max_length=64, help_text="used in skill filters as skill.<name>")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="workforce_skill_unique_name")]

    def __str__(self):
        return self.name


class AnnotatorSkill(models.Model):
    """A profile's level (0–100) in a skill, set by a manager or by passing an exam."""

    class Source(models.TextChoices):
        MANAGER = "manager", "Set by a manager"
        EXAM = "exam", "Passed an exam"

    id = models.BigAutoField(primary_key=True)
    profile = models.ForeignKey(AnnotatorProfile, on_delete=models.CASCADE, related_name="skill_levels")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANAGER)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "skill"], name="workforce_annotatorskill_unique"),
            models.CheckConstraint(condition=models.Q(level__lte=100), name="workforce_skill_level_range"),
        ]

    def __str__(self):
        return f"{self.skill_id} = {self.level}"


class Pool(models.Model):
    """A team of annotators; projects open to pools (settings.access.pools)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(AnnotatorProfile, related_name="pools", blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="workforce_pool_unique_name")]

    def __str__(self):
        return self.name


class OnboardingLink(models.Model):
    """An expiring link that makes whoever signs up through it an annotator (crowd onboarding)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    key_hash = models.CharField(max_length=64, unique=True, help_text="sha256 of the link's key")
    pools = models.ManyToManyField(Pool, related_name="+", blank=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)

    def __str__(self):
        return f"onboarding link {self.pk}"


class Exam(models.Model):
    """A set of gold tasks of one project with a pass threshold (kind exam), or training tasks whose answers
    are shown after each submission (kind training: not counted in consensus or pay)."""

    class Kind(models.TextChoices):
        EXAM = "exam", "Qualification exam"
        TRAINING = "training", "Training"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+",
                                help_text="the project whose gold tasks the exam uses and which it opens")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EXAM)
    name = models.CharField(max_length=200)
    tasks = models.ManyToManyField("tasks.Task", related_name="+")
    skill = models.ForeignKey(Skill, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="passing sets this skill")
    skill_level = models.PositiveSmallIntegerField(default=100, help_text="the level passing sets")
    pass_threshold = models.FloatField(default=0.8, help_text="mean score needed to pass (0..1)")
    max_attempts = models.PositiveSmallIntegerField(default=3)
    retry_after_hours = models.FloatField(default=24)
    required = models.BooleanField(default=True, help_text="the project's work needs it passed first")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)

    def __str__(self):
        return self.name


class ExamAttempt(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Completed (training)"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="attempts")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    answered = models.PositiveIntegerField(default=0)
    score_sum = models.FloatField(default=0)
    score = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exam", "annotator"], condition=models.Q(status="in_progress"),
                                    name="workforce_attempt_one_open"),
            models.UniqueConstraint(fields=["exam", "annotator", "number"], name="workforce_attempt_number"),
        ]

    def __str__(self):
        return f"attempt {self.number} of exam {self.exam_id} by {self.annotator_id}"


class LedgerEntry(models.Model):
    """Append-only money movements (the database refuses UPDATE and DELETE); totals are sums of entries."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Per submitted annotation"
        ACCEPTED = "accepted", "Per accepted annotation"
        HOURLY = "hourly", "Server-measured work time"
        BONUS = "bonus", "Bonus"
        REVERSAL = "reversal", "Reversal of an earlier entry"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    annotation = models.ForeignKey("tasks.Annotation", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal")
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "annotator", "created_at"], name="workforce_ledger_annotator"),
            models.Index(fields=["organization", "created_at"], name="workforce_ledger_period"),
        ]
        constraints = [
            # One accrual of each kind per annotation: a replayed event never pays twice.
            models.UniqueConstraint(fields=["annotation", "kind"],
                                    condition=models.Q(annotation__isnull=False) & ~models.Q(kind="reversal"),
                                    name="workforce_ledger_once_per_annotation"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} {self.currency} to {self.annotator_id}"


class Appeal(models.Model):
    """An annotator's note against a suspension or ban (qa.Suspension); a manager decides."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        GRANTED = "granted", "Granted (suspension lifted)"
        DENIED = "denied", "Denied"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    suspension = models.ForeignKey("qa.Suspension", on_delete=models.CASCADE, related_name="appeals")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    response = models.TextField(blank=True)
    decided_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["suspension"], condition=models.Q(status="open"),
                                    name="workforce_appeal_one_open"),
        ]

    def __str__(self):
        return f"appeal {self.pk} ({self.status})"


class PromotionProposal(models.Model):
    """A rule's proposal to make an annotator a reviewer; a manager confirms or dismisses it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    decided_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "annotator"], condition=models.Q(status="proposed"),
                                    name="workforce_promotion_one_open"),
        ]

    def __str__(self):
        return f"promotion of {self.annotator_id} ({self.status})"


class BonusRule(models.Model):
    """A bonus paid per period to the annotators of a project whose metric passes a threshold."""

    class Metric(models.TextChoices):
        GOLD_ACCURACY = "gold_accuracy", "Gold accuracy"
        CONSENSUS_AGREEMENT = "consensus_agreement", "Agreement with consensus"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    threshold = models.FloatField()
    min_samples = models.PositiveIntegerField(default=20)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    period_days = models.PositiveSmallIntegerField(default=7)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now)

    def __str__(self):
        return f"bonus {self.amount} for {self.metric} >= {self.threshold}"


class PromotionRule(models.Model):
    """Who to propose as a reviewer: the top share by gold accuracy among those with enough golds."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", help_text="NULL: across the organization")
    top_fraction = models.FloatField(default=0.1, help_text="0.1 = the top decile")
    min_golds = models.PositiveIntegerField(default=200)
    min_accuracy = models.FloatField(default=0.0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    def __str__(self):
        return f"promotion rule {self.pk}"
