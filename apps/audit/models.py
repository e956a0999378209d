"""The append-only audit trail: events, and the seals that chain them per organization."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing someone did or saw. Never updated or deleted (a database trigger refuses it)."""

    id = models.BigAutoField(primary_key=True)
    # Orgs are never deleted, so PROTECT never fires in practice; null = the platform chain.
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    via = models.CharField(max_length=32, blank=True, help_text="API token prefix when acting by token")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before_digest = models.CharField(max_length=64, blank=True)
    after_digest = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    digest = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "id"], name="audit_event_org_id"),
            models.Index(fields=["organization", "action", "id"], name="audit_event_org_action"),
            models.Index(fields=["organization", "object_type", "object_id"], name="audit_event_org_object"),
        ]

    def __str__(self):
        who = self.actor_label or "-"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_type}:{self.object_id}"


class AuditSeal(models.Model):
    """Seals a run of one chain's events: ids, digests and a hash over the previous seal's hash."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_seal"
    )
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    event_count = models.PositiveIntegerField()
    # Every event with id <= upto_event_id, in any chain, was sealed by this run or an earlier one.
    upto_event_id = models.BigIntegerField()
    event_ids = models.JSONField(help_text="covered event ids as [first, last] ranges")
    digests = models.BinaryField(help_text="the covered events' sha256 digests, 32 bytes each, in id order")
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "first_event_id"], name="audit_seal_unique_start"),
            models.CheckConstraint(
                condition=models.Q(last_event_id__gte=models.F("first_event_id")), name="audit_seal_range"
            ),
        ]
        indexes = [models.Index(fields=["organization", "id"], name="audit_seal_org_id")]

    def __str__(self):
        return f"seal {self.id}: events {self.first_event_id}–{self.last_event_id} ({self.event_count})"
