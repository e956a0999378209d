"""Per-annotator statistics, moved in SQL on each event (no read-modify-write, no recount on the request path).

Each event updates two rows: the annotator's in the project and their organization-wide one (project NULL).
"""

from django.db import connection
from django.utils import timezone

from apps.orgs.rows import fetch

from .models import AnnotatorStats
from .statistics import wilson_interval

COUNTERS = ("annotations", "gold_seen", "gold_correct", "gold_score_sum", "consensus_seen", "consensus_agreed",
            "skips", "skips_in_a_row", "lead_time_sum_ms", "lead_time_count")


def stats_add(*, organization_id: int, project_id: int, annotator_id: int, reset_skips_in_a_row: bool = False,
              **deltas) -> AnnotatorStats:
    """Add `deltas` (counter → amount) to the annotator's project and organization rows, creating them; returns
    the project row as it now is (the same statement reads it back)."""
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    columns = sorted(deltas)
    now = timezone.now()
    sets = [f"{c} = qa_annotatorstats.{c} + excluded.{c}" for c in columns if c != "skips_in_a_row"]
    if reset_skips_in_a_row:
        sets.append("skips_in_a_row = 0")
    elif "skips_in_a_row" in deltas:
        sets.append("skips_in_a_row = qa_annotatorstats.skips_in_a_row + excluded.skips_in_a_row")
    sets.append("updated_at = excluded.updated_at")
    names = ", ".join(["organization_id", "project_id", "annotator_id", *columns, *_defaults(columns), "updated_at"])
    values_one = ", ".join(["%s"] * (3 + len(columns) + len(_defaults(columns)) + 1))
    fields = [f.column for f in AnnotatorStats._meta.concrete_fields]
    upserts, params = [], []
    for scope, conflict in ((project_id, "(project_id, annotator_id) WHERE project_id IS NOT NULL"),
                            (None, "(organization_id, annotator_id) WHERE project_id IS NULL")):
        params += [organization_id, scope, annotator_id, *(deltas[c] for c in columns), *_default_values(columns),
                   now]
        returning = f" RETURNING {', '.join(fields)}" if scope is not None else ""
        upserts.append(f"INSERT INTO qa_annotatorstats ({names}) VALUES ({values_one}) "
                       f"ON CONFLICT {conflict} DO UPDATE SET {', '.join(sets)}{returning}")
    if connection.vendor == "postgresql":  # both rows in one statement: this is every submit
        row = fetch(f"WITH project_row AS ({upserts[0]}), organization_row AS ({upserts[1]}) "
                    f"SELECT {', '.join(fields)} FROM project_row", params)[0]
    else:
        half = len(params) // 2
        row = fetch(upserts[0], params[:half])[0]
        fetch(upserts[1], params[half:])
    return AnnotatorStats.from_db(connection.alias, fields, row)


# Columns without a database default that an INSERT must name.
_REQUIRED = {"annotations": 0, "gold_seen": 0, "gold_correct": 0, "gold_score_sum": 0.0, "consensus_seen": 0,
             "consensus_agreed": 0, "skips": 0, "skips_in_a_row": 0, "lead_time_sum_ms": 0, "lead_time_count": 0,
             "weight": 1.0, "review_all": False}


def _defaults(columns) -> list[str]:
    return [c for c in _REQUIRED if c not in columns]


def _default_values(columns) -> list:
    return [_REQUIRED[c] for c in _REQUIRED if c not in columns]


def stats_set(*, organization_id: int, project_id: int | None, annotator_id: int, **values) -> None:
    """Set fields of one stats row (project or, with project_id None, organization), creating it."""
    AnnotatorStats.objects.update_or_create(
        organization_id=organization_id, project_id=project_id, annotator_id=annotator_id,
        defaults={**values, "updated_at": timezone.now()},
    )


def stats_for(*, project_id: int, annotator_id: int) -> AnnotatorStats | None:
    return AnnotatorStats.objects.filter(project_id=project_id, annotator_id=annotator_id).first()


def accuracy(stats: AnnotatorStats | None) -> dict:
    """Gold accuracy with its Wilson 95% interval; None values before any gold."""
    if stats is None or not stats.gold_seen:
        return {"accuracy": None, "low": None, "high": None, "gold_seen": 0, "gold_correct": 0}
    low, high = wilson_interval(stats.gold_correct, stats.gold_seen)
    return {"accuracy": stats.gold_correct / stats.gold_seen, "low": low, "high": high,
            "gold_seen": stats.gold_seen, "gold_correct": stats.gold_correct}


def reliability(stats: AnnotatorStats | None) -> float:
    """The weight of an annotator's answer in a consensus: their consensus weight times a smoothed gold
    accuracy (a Beta(2, 1) prior: 2/3 before any gold), or their last Dawid-Skene accuracy."""
    if stats is None:
        return 2 / 3
    if stats.weight == 0:
        return 0.0
    if stats.gold_seen:
        base = (stats.gold_correct + 2) / (stats.gold_seen + 3)
    elif stats.dawid_skene_accuracy is not None:
        base = stats.dawid_skene_accuracy
    else:
        base = 2 / 3
    return stats.weight * base
