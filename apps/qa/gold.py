"""Gold tasks: marking them, mixing them into the queue, scoring work against them, and feedback."""

import random

from django.db import connection, transaction
from django.utils import timezone

from apps.live.groups import user_group
from apps.live.services import broadcast_on_commit
from apps.orgs.errors import ApiError, Conflict
from apps.tasks import services as task_services
from apps.tasks.annotations import project_spec
from apps.tasks.models import Assignment, Task
from apps.tasks.sources import Offer

from . import annotator_stats
from .models import QualityScore
from .scoring import score_result
from .statistics import wilson_interval
from .task_consensus import SEP, categorical_key, is_single_categorical

GOLD_KINDS = (Assignment.Kind.GOLD, Assignment.Kind.EXAM, Assignment.Kind.TRAINING)


# --- marking gold -------------------------------------------------------------------------------------------


def _project_task(project, task_id) -> Task:
    task = Task.objects.select_related("project").filter(project=project, pk=task_id).first()
    if task is None:
        raise ApiError(f"task {task_id} is not a task of this project", details={"task": [f"no task {task_id}"]})
    return task


@transaction.atomic
def gold_set_many(*, project, items: list[dict], actor, request=None) -> list[Task]:
    """Make each `{"task", "result"}` gold with its answer, all or none."""
    done = []
    for index, item in enumerate(items):
        task = _project_task(project, item["task"])
        try:
            done.append(task_services.task_gold_set(task=task, result=item["result"], actor=actor, request=request))
        except ApiError as exc:
            if exc.code == "schema_mismatch":
                path = exc.details["path"].replace("result", f"[{index}].result", 1)
                raise ApiError(f"{path}: {exc.details['reason']}", code="schema_mismatch", status_code=422,
                               details={"path": path, "reason": exc.details["reason"]}) from None
            raise
    return done


def gold_from_consensus(*, project, task_id, actor, request=None) -> Task:
    """Promote a task's accepted consensus to its gold answer."""
    task = _project_task(project, task_id)
    if task.consensus_result is None:
        raise Conflict("the task has no consensus to promote yet", code="validation_error",
                       details={"task": ["no consensus"]})
    if task.status != Task.Status.ACCEPTED:
        raise Conflict(f"the task is {task.status}: only an accepted consensus becomes gold",
                       code="validation_error", details={"task": [f"status {task.status}"]})
    return task_services.task_gold_set(task=task, result=task.consensus_result, actor=actor, request=request)


def gold_unset(*, project, task_id, actor, request=None) -> Task:
    task = _project_task(project, task_id)
    if not task.is_gold:
        raise ApiError("the task is not gold", details={"task": ["not gold"]})
    return task_services.task_gold_unset(task=task, actor=actor, request=request)


# --- the gold mix (a `tasks.sources` provider) -----------------------------------------------------------------


def gold_rate_for(*, project, user) -> float:
    """The project's gold rate, raised for new or suspect annotators (settings.gold_adaptive)."""
    settings = project.settings
    rate = float(settings.get("gold_rate") or 0)
    adaptive = settings.get("gold_adaptive") or {}
    multiplier = float(adaptive.get("multiplier", 1))
    if rate <= 0 or multiplier <= 1:
        return rate
    stats = annotator_stats.stats_for(project_id=project.pk, annotator_id=user.pk)
    seen = stats.gold_seen if stats else 0
    suspect = False
    if seen >= int(adaptive.get("min_golds", 0)):
        low, _ = wilson_interval(stats.gold_correct if stats else 0, seen)
        suspect = low < float(adaptive.get("accuracy_threshold", 0))
    if seen < int(adaptive.get("min_golds", 0)) or suspect:
        rate *= multiplier
    return min(rate, 0.9)


# Apps to the right reserve gold tasks for their own use (workforce: the tasks of exams and training sets):
# a function (project id) → task ids the gold mix must not serve.
_reservations: list = []


def register_reserved(reserved) -> None:
    if reserved not in _reservations:
        _reservations.append(reserved)


def _reserved(project_id: int) -> list[int]:
    return sorted({task_id for reserved in _reservations for task_id in reserved(project_id)})


def _unseen_gold(project_id: int, user_id: int, start: int) -> int | None:
    """A gold task of the project this person has no assignment on, from id `start` on (wrapping around)."""
    reserved = _reserved(project_id)
    skip = f"AND t.id NOT IN ({','.join(['%s'] * len(reserved))}) " if reserved else ""
    sql = ("SELECT t.id FROM tasks_task t WHERE t.project_id = %s AND t.is_gold AND t.gold_result IS NOT NULL "
           f"AND t.id {{op}} %s {skip}AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = t.id "
           "AND a.annotator_id = %s) ORDER BY t.id LIMIT 1")
    with connection.cursor() as cursor:
        for op in (">=", "<"):
            cursor.execute(sql.format(op=op), [project_id, start, *reserved, user_id])
            row = cursor.fetchone()
            if row:
                return row[0]
    return None


class GoldSource:
    """Serves a gold task at the (adaptive) gold rate; each gold reaches a person at most once, because an
    assignment is one row per task and person."""

    name = "qa.gold"

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or random.SystemRandom()

    def offer(self, *, project, user, now) -> Offer | None:
        if not project.settings.get("gold_rate"):
            return None  # the common case costs nothing
        if self.rng.random() >= gold_rate_for(project=project, user=user):
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id), max(id) FROM tasks_task WHERE project_id = %s AND is_gold",
                           [project.pk])
            low, high = cursor.fetchone()
        if low is None:
            return None
        task_id = _unseen_gold(project.pk, user.pk, self.rng.randint(low, high))
        return Offer(task_id=task_id, kind=Assignment.Kind.GOLD) if task_id else None


# --- scoring against gold -----------------------------------------------------------------------------------


def _categorical_answers(compiled, result) -> dict[str, str]:
    """Per single-answer categorical control: its answer as one string (a path shown as 'a / b')."""
    answers = {}
    for control in compiled.controls.values():
        if is_single_categorical(control):
            key = categorical_key(control, result)
            if key is not None:
                answers[control.name] = key.replace(SEP, " / ")
    return answers


def score_submission(*, annotation, assignment) -> tuple[QualityScore | None, dict]:
    """Score an annotation of a task with a gold answer: (its QualityScore, the counters to add to the
    annotator's stats). Runs inside the submit's transaction (a receiver of `annotation_submitted`)."""
    task = annotation.task
    if task.gold_result is None or annotation.author_id is None:
        return None, {}
    if assignment is not None and assignment.kind not in GOLD_KINDS and not task.is_gold:
        return None, {}
    project = annotation.project
    compiled = project_spec(project)
    scored = score_result(compiled, annotation.result, task.gold_result,
                          iou_threshold=float(project.settings.get("iou_threshold", 0.5)))
    passed = scored.score >= float(project.settings.get("gold_pass_score", 0.5))
    kind = assignment.kind if assignment is not None else "gold"
    quality = QualityScore.objects.create(
        organization_id=annotation.organization_id, project_id=annotation.project_id, task_id=task.pk,
        annotation=annotation, annotator_id=annotation.author_id, kind=kind,
        score=min(1.0, max(0.0, scored.score)), passed=passed, per_control=scored.per_control,
    )
    if kind == Assignment.Kind.TRAINING:
        return quality, {}  # training work teaches; it does not count toward accuracy
    _count_confusion(annotation, compiled, task.gold_result)
    if not passed:
        from .outliers import gold_disagreement_check

        gold_disagreement_check(task=task)
    return quality, {"gold_seen": 1, "gold_correct": int(passed), "gold_score_sum": quality.score}


def _count_confusion(annotation, compiled, gold_result) -> None:
    truth = _categorical_answers(compiled, gold_result)
    if not truth:
        return
    given = _categorical_answers(compiled, annotation.result)
    for control, label in truth.items():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO qa_goldconfusion (organization_id, project_id, annotator_id, control, truth, answer, "
                "count) VALUES (%s, %s, %s, %s, %s, %s, 1) ON CONFLICT (project_id, annotator_id, control, truth, "
                "answer) DO UPDATE SET count = qa_goldconfusion.count + 1",
                [annotation.organization_id, annotation.project_id, annotation.author_id, control, label,
                 given.get(control, "")],
            )


# --- feedback after a gold submission (a `tasks.feedback` provider) --------------------------------------------


def shows_answer(annotation, assignment) -> bool:
    """Training always shows its answer; gold where the project's gold_feedback is on; an exam never (a retry
    would be answered from memory)."""
    if assignment is None or assignment.kind not in GOLD_KINDS or assignment.kind == Assignment.Kind.EXAM:
        return False
    return assignment.kind == Assignment.Kind.TRAINING or bool(annotation.project.settings.get("gold_feedback"))


def feedback_body(quality: QualityScore, task: Task) -> dict:
    return {"score": round(quality.score, 4), "passed": quality.passed, "result": task.gold_result}


class GoldFeedback:
    """Where the project shows it (`gold_feedback`), the right answer after a gold, exam or training submit."""

    name = "qa.gold_feedback"

    def for_submit(self, *, annotation, assignment) -> dict | None:
        if not shows_answer(annotation, assignment):
            return None
        quality = QualityScore.objects.filter(annotation=annotation).first()
        if quality is None:
            return None
        return {"gold_feedback": feedback_body(quality, annotation.task)}


def feedback_send(*, annotation, assignment, quality: QualityScore) -> None:
    """The same feedback on /ws/me/, after commit."""
    if not shows_answer(annotation, assignment):
        return
    broadcast_on_commit(user_group(annotation.author_id), {
        "type": "gold.feedback", "project": annotation.project_id, "task": annotation.task_id,
        "annotation": annotation.pk, **feedback_body(quality, annotation.task), "at": timezone.now().isoformat(),
    })
