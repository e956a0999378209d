"""Reads of the audit trail, always for one organization."""

from .models import AuditEvent


def audit_events(*, organization_id: int, filters: dict | None = None):
    qs = AuditEvent.objects.filter(organization_id=organization_id)
    filters = filters or {}
    for field in ("action", "object_type", "object_id", "actor_id"):
        if filters.get(field) not in (None, ""):
            qs = qs.filter(**{field: filters[field]})
    if filters.get("action_prefix"):
        qs = qs.filter(action__startswith=filters["action_prefix"])
    if filters.get("since"):
        qs = qs.filter(at__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(at__lt=filters["until"])
    return qs
