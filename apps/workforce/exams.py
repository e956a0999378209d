"""Workforce: qualification exams and training sets — services, the exam source, the gate, the receivers.

How it plugs in (DESIGN §3):
* `tasks.sources` (ExamSource): a person with an open attempt on an exam or training set of the project is
  served its next task they do not hold done (kind "exam" or "training"), before the ordinary queue. A
  *required* active training set is also started automatically for whoever never attempted it: their first
  `next` opens attempt 1 and serves its first task. Optional training sets, and every exam, are started by the
  person (POST /workforce/exams/{id}/attempts).
* `tasks.eligibility` (ExamGate): while a person has not passed a required active exam of the project (an
  attempt passed, or a skill level at least the exam's from elsewhere, e.g. set by a manager), the queue may
  only lease them the exam's own tasks. Those are gold tasks, which the ordinary queue never serves, so in
  effect they get no ordinary work: `next` serves the exam's tasks through the source while an attempt is
  open and answers 204 otherwise (not started, or failed), until they pass. No refusal (403), so exam tasks
  are still served.
* `tasks.signals.annotation_submitted` / `lease_ended` (skipped): an answer (a skip scores 0) on a task of an
  exam with an open attempt counts toward it. qa's receiver runs first (qa is before workforce in
  INSTALLED_APPS, so it connected first) and has stored the QualityScore that is read here. When every task of
  the exam is done the attempt closes: exam → passed (mean score ≥ pass_threshold; the skill is set to the
  exam's level, never lowered) or failed; training → completed. Audited; `exam.finished` on /ws/me/.

Every attempt serves all of the exam's tasks. A task is served to a person once (one Assignment per task and
person), so starting an attempt gives the person's ended gold/exam/training leases on the exam's tasks back
(status released, rows and annotations kept), which lets the queue lease them again for this attempt.

Cost: the project's active exams are cached (invalidated on every exam write), so `next` in a project without
exams asks nothing of the database; with exams, the source and the gate each make one indexed query, and the
source one more to pick the task when an attempt is open.
"""

import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from apps.audit.services import record
from apps.live.groups import user_group
from apps.live.services import broadcast_on_commit
from apps.orgs.errors import ApiError, Conflict
from apps.orgs.models import Membership
from apps.orgs.rows import in_list
from apps.tasks.models import Assignment, Task
from apps.tasks.sources import Offer

from .models import AnnotatorSkill, Exam, ExamAttempt, Skill
from .profiles import profile_for, skill_level_set

CACHE_SECONDS = 300
NOT_QUEUE = (Assignment.Kind.GOLD, Assignment.Kind.EXAM, Assignment.Kind.TRAINING)
DONE = (Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


# --- the project's active exams (cached) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExamInfo:
    id: int
    kind: str
    required: bool
    task_ids: tuple[int, ...]


def _exams_key(project_id: int) -> str:
    return f"workforce:exams:{project_id}"


def project_exams(project_id: int) -> list[ExamInfo]:
    """The project's active exams and training sets, oldest first (cached; every exam write invalidates)."""
    key = _exams_key(project_id)
    found = cache.get(key)
    if found is None:
        found = []
        for exam in Exam.objects.filter(project_id=project_id, active=True).order_by("id").prefetch_related("tasks"):
            found.append((exam.pk, exam.kind, exam.required, tuple(sorted(t.pk for t in exam.tasks.all()))))
        cache.set(key, found, CACHE_SECONDS)
    return [ExamInfo(*row) for row in found]


def exams_for(project) -> list[ExamInfo]:
    """project_exams(), asked once per project object (a `next` asks for the exams' tasks and for its gate)."""
    found = project.__dict__.get("_workforce_exams")
    if found is None:
        found = project.__dict__["_workforce_exams"] = project_exams(project.pk)
    return found


def exam_task_ids(project_id: int) -> list[int]:
    """The tasks of the project's active exams and training sets (cached with them)."""
    return [task_id for exam in project_exams(project_id) for task_id in exam.task_ids]


def _exams_changed(project_id: int) -> None:
    cache.delete(_exams_key(project_id))
    transaction.on_commit(lambda: cache.delete(_exams_key(project_id)))


# --- managing exams -------------------------------------------------------------------------------------------


def _checked_tasks(project, task_ids: list[int]) -> list[int]:
    """The ids, each a gold task (with an answer) of `project`; else a 400 naming the others."""
    ids = list(dict.fromkeys(int(t) for t in task_ids))
    if not ids:
        raise ApiError("an exam needs at least one gold task", details={"tasks": ["at least one gold task"]})
    good = set(Task.objects.filter(project=project, pk__in=ids, is_gold=True, gold_result__isnull=False)
               .values_list("pk", flat=True))
    bad = [t for t in ids if t not in good]
    if bad:
        raise ApiError(f"not gold tasks of project {project.pk}: {', '.join(map(str, bad))}",
                       details={"tasks": [f"task {t} is not a gold task of this project" for t in bad]})
    return ids


def _checked_skill(organization_id: int, skill_id) -> Skill | None:
    if skill_id is None:
        return None
    skill = Skill.objects.filter(organization_id=organization_id, pk=skill_id).first()
    if skill is None:
        raise ApiError(f"no skill {skill_id}", details={"skill": [f"no skill {skill_id}"]})
    return skill


def exam_state(exam: Exam) -> dict:
    return {"name": exam.name, "project": exam.project_id, "kind": exam.kind, "skill": exam.skill_id,
            "skill_level": exam.skill_level, "pass_threshold": exam.pass_threshold,
            "max_attempts": exam.max_attempts, "retry_after_hours": exam.retry_after_hours,
            "required": exam.required, "active": exam.active,
            "tasks": sorted(exam.tasks.values_list("pk", flat=True))}


FIELDS = ("name", "kind", "skill_level", "pass_threshold", "max_attempts", "retry_after_hours", "required",
          "active")


@transaction.atomic
def exam_create(*, project, actor, data: dict, request=None) -> Exam:
    tasks = _checked_tasks(project, data.get("tasks") or [])
    skill = _checked_skill(project.organization_id, data.get("skill"))
    exam = Exam(organization_id=project.organization_id, project=project, skill=skill, created_by=actor,
                **{k: data[k] for k in FIELDS if k in data})
    exam.full_clean(exclude=["tasks"])
    exam.save()
    exam.tasks.set(tasks)
    _exams_changed(project.pk)
    record(action="exam.create", organization=project.organization_id, actor=actor, object_type="exam",
           object_id=exam.pk, after=exam_state(exam), request=request)
    return exam


@transaction.atomic
def exam_update(*, exam: Exam, actor, data: dict, request=None) -> Exam:
    before = exam_state(exam)
    if "project" in data and data["project"] != exam.project_id:
        raise ApiError("an exam stays in its project", details={"project": ["cannot be changed"]})
    if "skill" in data:
        exam.skill = _checked_skill(exam.organization_id, data["skill"])
    for key in FIELDS:
        if key in data:
            setattr(exam, key, data[key])
    exam.full_clean(exclude=["tasks"])
    exam.save()
    if "tasks" in data:
        exam.tasks.set(_checked_tasks(exam.project, data["tasks"] or []))
    _exams_changed(exam.project_id)
    record(action="exam.update", organization=exam.organization_id, actor=actor, object_type="exam",
           object_id=exam.pk, before=before, after=exam_state(exam), request=request)
    return exam


@transaction.atomic
def exam_delete(*, exam: Exam, actor, request=None) -> None:
    """The exam and its attempts go; skill levels it set stay."""
    record(action="exam.delete", organization=exam.organization_id, actor=actor, object_type="exam",
           object_id=exam.pk, before=exam_state(exam), request=request)
    _exams_changed(exam.project_id)
    exam.delete()


# --- reading --------------------------------------------------------------------------------------------------


def exams_with_counts(qs):
    """Exams with `tasks_total` (their gold tasks)."""
    return qs.annotate(tasks_total=Count("tasks", filter=Q(tasks__gold_result__isnull=False), distinct=True))


def attempts_with_members(qs):
    """Attempts with `member_id` (the annotator's membership id, as API.md refers to people) and their exam's
    `tasks_total`."""
    member = Membership.objects.filter(organization_id=OuterRef("organization_id"), user_id=OuterRef("annotator_id"))
    total = (Exam.tasks.through.objects.filter(exam_id=OuterRef("exam_id"), task__gold_result__isnull=False)
             .values("exam_id").annotate(n=Count("task_id")).values("n"))
    return qs.annotate(member_id=Subquery(member.values("id")[:1]), tasks_total=Subquery(total[:1]))


def retry_at(exam: Exam, last_failed: ExamAttempt | None):
    if last_failed is None or last_failed.finished_at is None or not exam.retry_after_hours:
        return None
    return last_failed.finished_at + timedelta(hours=exam.retry_after_hours)


def my_standing(exam: Exam, user, now=None) -> dict:
    """What the annotator sees of their own progress on an exam (no answers, no task ids)."""
    now = now or timezone.now()
    attempts = list(ExamAttempt.objects.filter(exam=exam, annotator=user).order_by("-number"))
    open_attempt = next((a for a in attempts if a.status == ExamAttempt.Status.IN_PROGRESS), None)
    last_failed = next((a for a in attempts if a.status == ExamAttempt.Status.FAILED), None)
    passed = any(a.status in (ExamAttempt.Status.PASSED, ExamAttempt.Status.COMPLETED) for a in attempts)
    at = retry_at(exam, last_failed)
    return {"status": attempts[0].status if attempts else None, "passed": passed,
            "attempts_used": len(attempts), "attempts_left": max(0, exam.max_attempts - len(attempts)),
            "open_attempt": open_attempt.pk if open_attempt else None,
            "retry_at": at if at is not None and at > now and not passed else None}


# --- attempts -------------------------------------------------------------------------------------------------


def _lock(exam_id: int, user_id: int) -> None:
    """Serialize one person's attempt starts on one exam."""
    if connection.vendor == "postgresql":
        _fetch("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"exam:{exam_id}:{user_id}".encode()) - 2**31])


@transaction.atomic
def attempt_start(*, exam: Exam, user, now=None, request=None) -> tuple[ExamAttempt, bool]:
    """Start the person's next attempt: (attempt, created). An open one is returned as it is."""
    now = now or timezone.now()
    _lock(exam.pk, user.pk)
    attempts = list(ExamAttempt.objects.filter(exam=exam, annotator=user).order_by("-number"))
    open_attempt = next((a for a in attempts if a.status == ExamAttempt.Status.IN_PROGRESS), None)
    if open_attempt is not None:
        return open_attempt, False
    if not exam.active:
        raise Conflict("this exam is not active", code="exam_inactive")
    if any(a.status == ExamAttempt.Status.PASSED for a in attempts):
        raise Conflict("you have passed this exam already", code="exam_passed")
    if len(attempts) >= exam.max_attempts:
        raise Conflict(f"all {exam.max_attempts} attempts are used", code="attempts_exhausted",
                       details={"max_attempts": exam.max_attempts, "attempts_used": len(attempts)})
    last_failed = next((a for a in attempts if a.status == ExamAttempt.Status.FAILED), None)
    at = retry_at(exam, last_failed)
    if at is not None and at > now:
        raise Conflict(f"you may try again from {at.isoformat()}", code="retry_too_soon",
                       details={"retry_at": at.isoformat()})
    task_ids = list(exam.tasks.filter(gold_result__isnull=False).values_list("pk", flat=True))
    if not task_ids:
        raise Conflict("this exam has no gold tasks", code="exam_empty")
    # The person's earlier answers on these tasks (an attempt, the gold mix) are given back, so this attempt serves
    # every task again; ordinary queue work is never touched.
    Assignment.objects.filter(annotator=user, task_id__in=task_ids, kind__in=NOT_QUEUE, status__in=DONE).update(
        status=Assignment.Status.RELEASED)
    attempt = ExamAttempt.objects.create(organization_id=exam.organization_id, exam=exam, annotator=user,
                                         number=(attempts[0].number + 1) if attempts else 1, started_at=now)
    record(action="exam.attempt_start", organization=exam.organization_id, actor=user, object_type="exam_attempt",
           object_id=attempt.pk, data={"exam": exam.pk, "number": attempt.number}, request=request)
    return attempt, True


def _progress(exam_id: int, user_id: int) -> tuple[int, int]:
    """(tasks of the exam this person can be served, those of them they have answered or skipped)."""
    rows = _fetch(
        "SELECT count(*) FILTER (WHERE a.id IS NULL OR a.kind <> 'queue'), "
        "count(*) FILTER (WHERE a.kind <> 'queue' AND a.status IN ('submitted', 'skipped')) "
        "FROM workforce_exam_tasks et JOIN tasks_task t ON t.id = et.task_id AND t.gold_result IS NOT NULL "
        "LEFT JOIN tasks_assignment a ON a.task_id = et.task_id AND a.annotator_id = %s WHERE et.exam_id = %s",
        [user_id, exam_id])
    return rows[0]


def _score_of(annotation) -> float:
    """The annotation's gold score, as qa's receiver (which ran first) stored it; computed if it did not."""
    from apps.qa.models import QualityScore

    score = QualityScore.objects.filter(annotation_id=annotation.pk).values_list("score", flat=True).first()
    if score is not None:
        return float(score)
    task = annotation.task
    if task.gold_result is None:
        return 0.0
    from apps.qa.scoring import score_result
    from apps.tasks.annotations import project_spec

    project = annotation.project
    scored = score_result(project_spec(project), annotation.result, task.gold_result,
                          iou_threshold=float(project.settings.get("iou_threshold", 0.5)))
    return min(1.0, max(0.0, float(scored.score)))


def answer_record(*, project_id: int, user_id: int, task_id: int, annotation=None) -> ExamAttempt | None:
    """An answer (annotation) or a skip (None, scores 0) of a task: counts toward the person's open attempt on
    an exam of the project holding that task, and closes the attempt when every task is done."""
    if not any(task_id in exam.task_ids for exam in project_exams(project_id)):
        return None
    attempt = (ExamAttempt.objects.select_for_update(of=("self",)).select_related("exam")
               .filter(annotator_id=user_id, status=ExamAttempt.Status.IN_PROGRESS, exam__project_id=project_id,
                       exam__tasks=task_id).order_by("id").first())
    if attempt is None:
        return None
    score = _score_of(annotation) if annotation is not None else 0.0
    attempt.answered += 1
    attempt.score_sum += score
    total, done = _progress(attempt.exam_id, user_id)
    if done >= total:
        _finish(attempt)
    else:
        attempt.save(update_fields=["answered", "score_sum"])
    return attempt


def _finish(attempt: ExamAttempt) -> None:
    exam, now = attempt.exam, timezone.now()
    attempt.score = attempt.score_sum / attempt.answered if attempt.answered else 0.0
    attempt.finished_at = now
    if exam.kind == Exam.Kind.TRAINING:
        attempt.status = ExamAttempt.Status.COMPLETED
    elif attempt.score >= exam.pass_threshold:
        attempt.status = ExamAttempt.Status.PASSED
    else:
        attempt.status = ExamAttempt.Status.FAILED
    attempt.save(update_fields=["answered", "score_sum", "score", "finished_at", "status"])
    skill_set = None
    if attempt.status == ExamAttempt.Status.PASSED and exam.skill_id is not None:
        profile = profile_for(organization=exam.organization, user=attempt.annotator)
        current = AnnotatorSkill.objects.filter(profile=profile, skill_id=exam.skill_id).first()
        if current is None or current.level < exam.skill_level:  # passing never lowers a level
            skill_level_set(profile=profile, skill=exam.skill, level=exam.skill_level,
                            source=AnnotatorSkill.Source.EXAM)
            skill_set = exam.skill_level
    action = {"passed": "exam.passed", "failed": "exam.failed", "completed": "training.completed"}[attempt.status]
    record(action=action, organization=exam.organization_id, actor=attempt.annotator, object_type="exam_attempt",
           object_id=attempt.pk, data={"exam": exam.pk, "number": attempt.number, "score": round(attempt.score, 4),
                                       "answered": attempt.answered, "skill": exam.skill_id, "skill_level": skill_set})
    broadcast_on_commit(user_group(attempt.annotator_id), {
        "type": "exam.finished", "exam": exam.pk, "project": exam.project_id, "kind": exam.kind,
        "attempt": attempt.pk, "number": attempt.number, "status": attempt.status,
        "score": round(attempt.score, 4), "at": now.isoformat()})


# --- the person's standing in a project, for the source and the gate --------------------------------------------


@dataclass
class Standing:
    exam: ExamInfo
    open_attempt: int | None
    qualified: bool  # passed (or completed, for training), or holds the exam's skill level
    attempted: bool


def standings(project, user, exams: list[ExamInfo]) -> list[Standing]:
    """One indexed query: per active exam of the project, the person's open attempt and whether they qualify."""
    rows = _fetch(
        "SELECT e.id, "
        "(SELECT a.id FROM workforce_examattempt a WHERE a.exam_id = e.id AND a.annotator_id = %s "
        " AND a.status = 'in_progress' LIMIT 1), "
        "EXISTS (SELECT 1 FROM workforce_examattempt a WHERE a.exam_id = e.id AND a.annotator_id = %s "
        " AND a.status IN ('passed', 'completed')) "
        "OR (e.skill_id IS NOT NULL AND EXISTS (SELECT 1 FROM workforce_annotatorskill s "
        " JOIN workforce_annotatorprofile p ON p.id = s.profile_id WHERE p.organization_id = e.organization_id "
        " AND p.user_id = %s AND s.skill_id = e.skill_id AND s.level >= e.skill_level)), "
        "EXISTS (SELECT 1 FROM workforce_examattempt a WHERE a.exam_id = e.id AND a.annotator_id = %s) "
        "FROM workforce_exam e WHERE e.project_id = %s AND e.active ORDER BY e.id",
        [user.pk, user.pk, user.pk, user.pk, project.pk])
    by_id = {exam.id: exam for exam in exams}
    return [Standing(by_id[exam_id], open_id, bool(qualified), bool(attempted))
            for exam_id, open_id, qualified, attempted in rows if exam_id in by_id]


def _next_exam_task(exam_id: int, user_id: int) -> int | None:
    """The exam's first gold task the person holds no live or finished assignment on."""
    rows = _fetch(
        "SELECT et.task_id FROM workforce_exam_tasks et JOIN tasks_task t ON t.id = et.task_id "
        "AND t.gold_result IS NOT NULL WHERE et.exam_id = %s AND NOT EXISTS (SELECT 1 FROM tasks_assignment a "
        "WHERE a.task_id = et.task_id AND a.annotator_id = %s AND a.status NOT IN ('released', 'expired')) "
        "ORDER BY et.task_id LIMIT 1", [exam_id, user_id])
    return rows[0][0] if rows else None


class ExamSource:
    """Serves the tasks of the person's open attempts (and starts required training for newcomers)."""

    name = "workforce.exams"
    priority = 10  # before the gold mix: an exam in progress is finished first

    def offer(self, *, project, user, now) -> Offer | None:
        exams = exams_for(project)
        if not exams:
            return None  # the common case: no query at all
        found = standings(project, user, exams)
        for standing in found:
            if standing.open_attempt is not None:
                task_id = _next_exam_task(standing.exam.id, user.pk)
                if task_id is not None:
                    return Offer(task_id=task_id, kind=standing.exam.kind)
        for standing in found:
            exam = standing.exam
            if exam.kind == Exam.Kind.TRAINING and exam.required and not standing.attempted:
                task_id = _next_exam_task(exam.id, user.pk)
                if task_id is None:
                    continue
                # inside `next`'s transaction (and its per-person lock): the attempt commits with the lease
                attempt_start(exam=Exam.objects.get(pk=exam.id), user=user, now=now)
                return Offer(task_id=task_id, kind=Assignment.Kind.TRAINING)
        return None


class ExamGate:
    """Keeps people who have not passed a required exam of the project from its ordinary work."""

    name = "workforce.exam_gate"

    def refusal(self, *, project, user):
        return None  # not a refusal: the exam's own tasks must still be served

    def task_filter(self, *, project, user) -> Q | None:
        ids = self._only(project, user)
        return None if ids is None else Q(pk__in=ids)

    def task_sql(self, *, project, user, vendor) -> tuple[str, list] | None:
        ids = self._only(project, user)
        return None if ids is None else in_list("tasks_task.id", ids)

    @staticmethod
    def _only(project, user) -> list[int] | None:
        """The only tasks the person may be served while a required exam is pending, else None (no limit)."""
        required = [e for e in exams_for(project) if e.kind == Exam.Kind.EXAM and e.required]
        if not required:
            return None
        pending = [s.exam for s in standings(project, user, required) if not s.qualified]
        if not pending:
            return None
        # Only the exam's tasks (gold tasks, which the ordinary queue never leases): an equality on the primary
        # key, so the queue's scan is a few index lookups, not a walk through the project.
        return sorted({t for exam in pending for t in exam.task_ids}) or [0]


# --- receivers ------------------------------------------------------------------------------------------------


def on_annotation_submitted(sender, annotation, assignment, actor, **kwargs):
    if assignment is None or assignment.kind not in NOT_QUEUE or annotation.author_id is None:
        return
    answer_record(project_id=annotation.project_id, user_id=annotation.author_id, task_id=annotation.task_id,
                  annotation=annotation)


def on_lease_ended(sender, assignment, reason, **kwargs):
    if reason != "skipped" or assignment.kind not in NOT_QUEUE:
        return
    answer_record(project_id=assignment.project_id, user_id=assignment.annotator_id, task_id=assignment.task_id)


def ready() -> None:
    """Register this area's registry entries and signal receivers."""
    from apps.qa.gold import register_reserved
    from apps.tasks import eligibility, signals, sources

    sources.register(ExamSource())
    eligibility.register(ExamGate())
    register_reserved(exam_task_ids)  # the gold mix leaves exam and training tasks to the exams
    signals.annotation_submitted.connect(on_annotation_submitted, dispatch_uid="workforce.exams.submitted")
    signals.lease_ended.connect(on_lease_ended, dispatch_uid="workforce.exams.lease_ended")
