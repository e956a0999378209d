"""What quality control keeps: scores against gold, per-annotator statistics, worker models, rules, suspensions."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone


class QualityScore(models.Model):
    """An annotation scored against the gold answer of its task (gold, exam and training work)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    task = models.ForeignKey("tasks.Task", on_delete=models.CASCADE, related_name="+")
    annotation = models.OneToOneField("tasks.Annotation", on_delete=models.CASCADE, related_name="quality_score")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, help_text="the assignment kind: gold, exam, training or queue")
    score = models.FloatField(help_text="0..1, the mean of the per-control scores")
    passed = models.BooleanField()
    per_control = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "annotator", "id"], name="qa_score_project_annotator")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=0) & models.Q(score__lte=1), name="qa_score_range"),
        ]

    def __str__(self):
        return f"score {self.score:.2f} of annotation {self.annotation_id}"


class AnnotatorStats(models.Model):
    """Counters per annotator and project (project NULL: the whole organization), moved in SQL on each event."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", db_index=False)
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    annotations = models.PositiveIntegerField(default=0, help_text="submitted annotations (every kind)")
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    gold_score_sum = models.FloatField(default=0)
    consensus_seen = models.PositiveIntegerField(default=0, help_text="annotations compared with a consensus")
    consensus_agreed = models.PositiveIntegerField(default=0)
    skips = models.PositiveIntegerField(default=0)
    skips_in_a_row = models.PositiveIntegerField(default=0)
    lead_time_sum_ms = models.BigIntegerField(default=0)
    lead_time_count = models.PositiveIntegerField(default=0)
    lead_time_median_ms = models.PositiveIntegerField(null=True, blank=True, help_text="refreshed by a job")
    weight = models.FloatField(default=1.0, help_text="weight in consensus; 0 after a zero_weight rule")
    review_all = models.BooleanField(default=False, help_text="route all their work to review (a review rule)")
    dawid_skene_accuracy = models.FloatField(null=True, blank=True, help_text="from the last Dawid-Skene run")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], condition=models.Q(project__isnull=False),
                                    name="qa_stats_one_per_project"),
            models.UniqueConstraint(fields=["organization", "annotator"], condition=models.Q(project__isnull=True),
                                    name="qa_stats_one_per_org"),
        ]
        indexes = [models.Index(fields=["organization", "annotator"], name="qa_stats_org_annotator")]

    def __str__(self):
        return f"stats of {self.annotator_id} in {self.project_id or 'organization'}"


class GoldConfusion(models.Model):
    """How often an annotator answered `answer` where the gold said `truth` (categorical controls)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    control = models.CharField(max_length=200)
    truth = models.CharField(max_length=500)
    answer = models.CharField(max_length=500, help_text="empty: no answer for that control")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator", "control", "truth", "answer"],
                                    name="qa_goldconfusion_unique"),
        ]

    def __str__(self):
        return f"{self.control}: {self.truth} → {self.answer} × {self.count}"


class WorkerModel(models.Model):
    """An annotator's confusion matrix for one categorical control, as the last Dawid-Skene run estimated it."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    control = models.CharField(max_length=200)
    labels = models.JSONField(help_text="the label order of the matrix")
    confusion = models.JSONField(help_text="rows: true label, columns: the answer; rows sum to 1")
    class_priors = models.JSONField(help_text="the class priors of the same run")
    accuracy = models.FloatField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "control", "annotator"], name="qa_workermodel_unique"),
        ]

    def __str__(self):
        return f"worker model of {self.annotator_id} for {self.control}"


class QualityRule(models.Model):
    """A rule as data (API.md): collector, condition, action, acting within its project."""

    class Collector(models.TextChoices):
        GOLD_ACCURACY = "gold_accuracy"
        GOLD_ACCURACY_UPPER_BOUND = "gold_accuracy_upper_bound"
        GOLD_ACCURACY_LOWER_BOUND = "gold_accuracy_lower_bound"
        FAST_RESPONSES = "fast_responses"
        SKIPS_IN_A_ROW = "skips_in_a_row"
        CONSENSUS_AGREEMENT = "consensus_agreement"

    class Action(models.TextChoices):
        WARN = "warn"
        SUSPEND = "suspend"
        BAN = "ban"
        REVIEW = "review"
        ZERO_WEIGHT = "zero_weight"

    OPS = ("<", "<=", ">", ">=")

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="quality_rules")
    collector = models.CharField(max_length=40, choices=Collector.choices)
    params = models.JSONField(default=dict, blank=True)
    min_samples = models.PositiveIntegerField(default=1)
    op = models.CharField(max_length=2)
    threshold = models.FloatField()
    action = models.CharField(max_length=16, choices=Action.choices)
    duration_hours = models.FloatField(null=True, blank=True, help_text="suspend: how long")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(op__in=["<", "<=", ">", ">="]), name="qa_rule_op"),
        ]

    def __str__(self):
        return f"rule {self.pk}: {self.collector} {self.op} {self.threshold} → {self.action}"


class Suspension(models.Model):
    """An annotator kept from work: in one project or (project NULL) every project of the organization."""

    class Kind(models.TextChoices):
        SUSPEND = "suspend", "Suspended until a time"
        BAN = "ban", "Banned"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SUSPEND)
    reason = models.TextField()
    source = models.CharField(max_length=16, help_text="rule or manager")
    rule = models.ForeignKey(QualityRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    until = models.DateTimeField(null=True, blank=True, help_text="NULL: until lifted (bans)")
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    lift_reason = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["annotator", "organization"], condition=models.Q(lifted_at__isnull=True),
                         name="qa_suspension_open"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind="ban") | models.Q(until__isnull=False),
                                   name="qa_suspension_has_end"),
        ]

    def __str__(self):
        return f"{self.kind} of {self.annotator_id} ({self.reason})"


class RuleFiring(models.Model):
    """One time a rule's condition held for an annotator, and what it did; a manager may revert it."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    rule = models.ForeignKey(QualityRule, on_delete=models.CASCADE, related_name="firings")
    annotator = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    value = models.FloatField()
    samples = models.PositiveIntegerField()
    action = models.CharField(max_length=16)
    suspension = models.ForeignKey(Suspension, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="qa_firing_project")]

    def __str__(self):
        return f"rule {self.rule_id} fired for {self.annotator_id}: {self.action}"
