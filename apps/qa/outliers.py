"""The heavy, periodic part of per-annotator statistics: median work times, and flags for outlying annotators.

Run by Celery beat for the projects that had work lately (and at the end of a project consensus job), never
on the request path. Work time is the server's (lease to submit), never the client's lead_time_ms.
"""

from collections import defaultdict
from datetime import timedelta

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from apps.projects.models import Project
from apps.tasks import services as task_services
from apps.tasks.annotations import project_spec
from apps.tasks.models import Annotation, Task

from .models import AnnotatorStats, QualityScore
from .task_consensus import COUNTED_SOURCES, SEP, categorical_key, is_single_categorical

MIN_ANSWERS = 20  # an annotator is compared with the crowd once they gave this many answers
LABEL_RATE_MARGIN = 0.4  # flagged when their share of a label is this far above the crowd's, and twice it
TOO_FAST_RATIO = 1 / 3  # flagged when their median work time is under this share of the crowd's
RECENT_ANSWERS = 2000  # per annotator, the latest answers looked at
GOLD_DISAGREEMENT_MIN = 5  # answers on a gold task before a low pass rate questions the gold itself
GOLD_DISAGREEMENT_RATE = 0.3


def _work_times(project_id: int) -> dict[int, list[float]]:
    """Per annotator, seconds from lease to submit of their latest answers in the project."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT author_id, secs FROM (SELECT a.author_id, "
            "EXTRACT(EPOCH FROM (a.created_at - s.leased_at)) AS secs, "
            "ROW_NUMBER() OVER (PARTITION BY a.author_id ORDER BY a.id DESC) AS n "
            "FROM tasks_annotation a JOIN tasks_assignment s ON s.annotation_id = a.id "
            "WHERE a.project_id = %s AND s.leased_at IS NOT NULL) recent WHERE n <= %s",
            [project_id, RECENT_ANSWERS],
        ) if connection.vendor == "postgresql" else cursor.execute(
            "SELECT a.author_id, (julianday(a.created_at) - julianday(s.leased_at)) * 86400.0 "
            "FROM tasks_annotation a JOIN tasks_assignment s ON s.annotation_id = a.id "
            "WHERE a.project_id = %s AND s.leased_at IS NOT NULL ORDER BY a.id DESC LIMIT %s",
            [project_id, RECENT_ANSWERS * 50],
        )
        times: dict[int, list[float]] = defaultdict(list)
        for author, secs in cursor.fetchall():
            times[author].append(float(secs))
    return times


def _label_rates(project) -> dict[str, dict[int, dict[str, int]]]:
    """Per single-answer categorical control: {annotator: {label: count}} over their latest answers."""
    compiled = project_spec(project)
    controls = [c for c in compiled.controls.values() if is_single_categorical(c)]
    if not controls:
        return {}
    rates: dict[str, dict[int, dict[str, int]]] = {c.name: defaultdict(lambda: defaultdict(int)) for c in controls}
    rows = (Annotation.objects.filter(project=project, source__in=COUNTED_SOURCES, author__isnull=False)
            .order_by("-id").values_list("author_id", "result")[:RECENT_ANSWERS * 50])
    for author, result in rows:
        for control in controls:
            key = categorical_key(control, result)
            if key is not None:
                rates[control.name][author][key] += 1
    return rates


@transaction.atomic
def annotators_refresh(*, project) -> dict:
    """Median work times into AnnotatorStats; outlier flags (too fast, one label far above the crowd's rate)."""
    times = _work_times(project.pk)
    medians = {author: float(np.median(values)) for author, values in times.items() if values}
    for author, median in medians.items():
        AnnotatorStats.objects.filter(project=project, annotator_id=author).update(
            lead_time_median_ms=int(max(0.0, median) * 1000))
    flagged = 0
    counted = {author: len(values) for author, values in times.items()}
    eligible = [m for a, m in medians.items() if counted[a] >= MIN_ANSWERS]
    if len(eligible) >= 3:
        crowd = float(np.median(eligible))
        for author, median in medians.items():
            if counted[author] >= MIN_ANSWERS and median < crowd * TOO_FAST_RATIO:
                task_services.flag_raise(
                    project_id=project.pk, organization_id=project.organization_id, kind="outlier_fast",
                    annotator_id=author,
                    reason=f"median work time {median:.1f} s against the crowd's {crowd:.1f} s "
                           f"over their last {counted[author]} answers")
                flagged += 1
    for control, per_author in _label_rates(project).items():
        totals: dict[str, int] = defaultdict(int)
        for labels in per_author.values():
            for label, n in labels.items():
                totals[label] += n
        grand = sum(totals.values())
        for author, labels in per_author.items():
            answered = sum(labels.values())
            if answered < MIN_ANSWERS or len(per_author) < 3:
                continue
            for label, n in labels.items():
                others = (totals[label] - n) / max(1, grand - answered)  # the crowd without them
                share = n / answered
                if share >= others + LABEL_RATE_MARGIN and share >= 2 * others:
                    task_services.flag_raise(
                        project_id=project.pk, organization_id=project.organization_id, kind="outlier_label",
                        annotator_id=author,
                        reason=f"{control}: '{label.replace(SEP, ' / ')}' in {share:.0%} of their {answered} answers "
                               f"against {others:.0%} for the others")
                    flagged += 1
    return {"annotators": len(medians), "flagged": flagged}


def projects_refresh(*, since_minutes: int = 10) -> int:
    """Beat: refresh the projects that got annotations in the last minutes."""
    since = timezone.now() - timedelta(minutes=since_minutes)
    ids = (Annotation.objects.filter(created_at__gte=since).values_list("project_id", flat=True).distinct())
    count = 0
    for project in Project.objects.filter(pk__in=list(ids), deleted_at__isnull=True):
        annotators_refresh(project=project)
        count += 1
    return count


def predictions_flag(*, project, scores) -> int:
    """Flag the tasks whose new prediction scored under the project's `flag_prediction_below`."""
    below = project.settings.get("flag_prediction_below")
    if below is None:
        return 0
    reasons = {task_id: f"prediction score {score:.2f} is under {below}"
               for task_id, score in scores if score is not None and score < below}
    return task_services.flags_raise_for_tasks(project=project, kind="low_prediction_confidence", reasons=reasons)


def gold_disagreement_check(*, task: Task) -> None:
    """Many annotators failing one gold suggests the gold answer itself is wrong: flag it for a manager."""
    scores = QualityScore.objects.filter(task=task).exclude(kind="training").values_list("passed", flat=True)
    passed = list(scores)
    if len(passed) < GOLD_DISAGREEMENT_MIN:
        return
    rate = sum(passed) / len(passed)
    if rate < GOLD_DISAGREEMENT_RATE:
        task_services.flag_raise(project_id=task.project_id, organization_id=task.organization_id,
                                 kind="gold_disagreement", task_id=task.pk,
                                 reason=f"only {rate:.0%} of {len(passed)} answers pass this gold: check its answer")

