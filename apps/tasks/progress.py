"""Project progress (`GET /projects/{id}/progress` and the live `progress` message).

Counts by status come from ProgressCounter, which database triggers keep (migration 0004): reading
them is a sum over at most 16 rows per status, whatever the project's size. `progress_rebuild`
recomputes them from the tasks, for after manual SQL that bypassed the triggers.
"""

import math
import statistics
from datetime import UTC, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from .models import Annotation, ProgressCounter, Task

OPEN_STATUSES = (Task.Status.NEW, Task.Status.IN_PROGRESS, Task.Status.REJECTED)
LEAD_TIME_SAMPLE = 2000
SHARDS = 16  # as the triggers of migration 0004
RATE_WINDOW = timedelta(hours=1)
# A rate measured over less than this would swing wildly with the first few annotations.
RATE_MIN_SPAN = timedelta(minutes=10)


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


def _rate_per_hour(worked, per_hour: dict, now) -> float:
    """Annotations per hour at the current pace.

    The last hour's annotations, over the time work went on in it: the whole hour if there was work in
    the hour before, else since its first annotation (at least RATE_MIN_SPAN), so a project that started
    15 minutes ago is not judged over 60. With nothing in the last hour, the average of the last 24 h.
    """
    window_start = now - RATE_WINDOW
    last = worked.filter(created_at__gte=window_start).aggregate(n=Count("id"), first=Min("created_at"))
    if not last["n"]:
        return sum(per_hour.values()) / 24
    if worked.filter(created_at__gte=window_start - RATE_WINDOW, created_at__lt=window_start).exists():
        span = RATE_WINDOW
    else:
        span = min(RATE_WINDOW, max(RATE_MIN_SPAN, now - last["first"]))
    return last["n"] / (span / timedelta(hours=1))


def project_progress(*, project, now=None) -> dict:
    """Counts by status, annotations per hour over the last 24 h (25 hourly buckets, the current hour
    last), the current rate, the median lead time and the ETA of the remaining annotations.

    Throughput and rate count the work done in Quorum: imported annotations are left out."""
    now = now or timezone.now()
    since = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    worked = Annotation.objects.filter(project=project).exclude(source=Annotation.Source.IMPORT)
    per_hour = {row["hour"]: row["n"] for row in
                worked.filter(created_at__gte=since, created_at__lte=now)
                .annotate(hour=TruncHour("created_at", tzinfo=UTC)).values("hour").annotate(n=Count("id"))}
    throughput = [{"hour": hour.isoformat(), "annotations": per_hour.get(hour, 0)}
                  for hour in (since + timedelta(hours=i) for i in range(25))]
    rate = round(_rate_per_hour(worked, per_hour, now), 2)  # the ETA follows the rate as shown
    lead_times = list(Annotation.objects.filter(project=project, lead_time_ms__isnull=False)
                      .order_by("-created_at").values_list("lead_time_ms", flat=True)[:LEAD_TIME_SAMPLE])
    summary = progress_counts(project_id=project.pk)
    remaining = summary["remaining_annotations"]
    if not remaining:
        eta_seconds = 0
    elif rate:
        eta_seconds = math.ceil(remaining * 3600 / rate)
    else:
        eta_seconds = None
    return {
        **summary,
        "annotations_per_hour": throughput,
        "rate_per_hour": rate,
        "median_lead_time_ms": statistics.median(lead_times) if lead_times else None,
        "eta_seconds": eta_seconds,
        "eta": (now + timedelta(seconds=eta_seconds)).isoformat() if eta_seconds is not None else None,
    }


def progress_rebuild(*, project_id: int | None = None) -> list[dict]:
    """Recompute ProgressCounter from tasks_task (every project, or one); returns what was wrong:
    [{"project", "status", "field", "was", "now"}].

    PostgreSQL: the tasks table is locked against writes (SHARE) meanwhile, so no trigger adds a change
    the recount would miss or count twice; SQLite's IMMEDIATE transaction already keeps writers out."""
    scope, params = ("WHERE project_id = %s", [project_id]) if project_id is not None else ("", [])
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE tasks_task IN SHARE MODE")
        before = _totals(cursor, scope, params)
        cursor.execute(f"DELETE FROM tasks_progresscounter {scope}", params)
        cursor.execute(
            "INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations) "
            f"SELECT project_id, id %% {SHARDS}, status, count(*), sum(target_annotations), sum(annotations_count) "
            f"FROM tasks_task {scope} GROUP BY 1, 2, 3",
            params,
        )
        after = _totals(cursor, scope, params)
    fixed = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key, (0, 0, 0)), after.get(key, (0, 0, 0))
        for field, old, new in zip(("tasks", "targets", "annotations"), was, now, strict=True):
            if old != new:
                fixed.append({"project": key[0], "status": key[1], "field": field, "was": old, "now": new})
    return fixed


def _totals(cursor, scope: str, params: list) -> dict:
    cursor.execute(f"SELECT project_id, status, sum(tasks), sum(targets), sum(annotations) "
                   f"FROM tasks_progresscounter {scope} GROUP BY 1, 2", params)
    return {(p, s): (int(t), int(g), int(a)) for p, s, t, g, a in cursor.fetchall() if (t, g, a) != (0, 0, 0)}
