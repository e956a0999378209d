"""Project progress (`GET /projects/{id}/progress` and the live `progress` message).

Counts by status come from ProgressCounter, which database triggers keep (migration 0004): reading
them is a sum over at most 16 rows per status, whatever the project's size.
"""

import statistics
from datetime import timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from .models import Annotation, ProgressCounter, Task

OPEN_STATUSES = (Task.Status.NEW, Task.Status.IN_PROGRESS, Task.Status.REJECTED)
LEAD_TIME_SAMPLE = 2000


def progress_counts(*, project_id: int) -> dict:
    rows = (ProgressCounter.objects.filter(project_id=project_id).values("status")
            .annotate(tasks=Sum("tasks"), targets=Sum("targets"), annotations=Sum("annotations")))
    counts = {status: 0 for status in Task.Status.values}
    remaining = annotations = 0
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["tasks"]
        annotations += row["annotations"]
        if row["status"] in OPEN_STATUSES:
            remaining += max(0, row["targets"] - row["annotations"])
    return {"counts": counts, "tasks": sum(counts.values()), "annotations": annotations,
            "remaining_annotations": remaining}


def project_progress(*, project) -> dict:
    now = timezone.now()
    since = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    recent = Annotation.objects.filter(project=project, created_at__gte=since)
    per_hour = {row["hour"]: row["n"] for row in
                recent.annotate(hour=TruncHour("created_at")).values("hour").annotate(n=Count("id"))}
    hours = [since + timedelta(hours=i) for i in range(25)]
    throughput = [{"hour": hour.isoformat(), "annotations": per_hour.get(hour, 0)} for hour in hours]
    lead_times = list(Annotation.objects.filter(project=project, lead_time_ms__isnull=False)
                      .order_by("-id").values_list("lead_time_ms", flat=True)[:LEAD_TIME_SAMPLE])
    summary = progress_counts(project_id=project.pk)
    last_hour = recent.filter(created_at__gte=now - timedelta(hours=1)).count()
    rate = last_hour or (sum(per_hour.values()) / 24 if per_hour else 0)  # annotations per hour
    remaining = summary["remaining_annotations"]
    eta_seconds = round(remaining / rate * 3600) if rate and remaining else None
    return {
        **summary,
        "annotations_per_hour": throughput,
        "rate_per_hour": rate,
        "median_lead_time_ms": statistics.median(lead_times) if lead_times else None,
        "eta_seconds": eta_seconds if summary["remaining_annotations"] else 0,
        "eta": (now + timedelta(seconds=eta_seconds)).isoformat() if eta_seconds else None,
    }
