"""Qualification exams and training: the API, attempts served through `next`, scoring, retries, the gate."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.qa.models import AnnotatorStats, QualityScore
from apps.tasks.models import Assignment
from apps.workforce.exams import ExamSource
from apps.workforce.models import AnnotatorSkill, ExamAttempt, Skill
from tests.tasks.queue_support import annotators, make_project, next_task, submit, task_ids

A = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
B = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]  # the gold answer
LEAKY_KEYS = {"gold", "is_gold", "gold_result", "consensus", "consensus_result", "gold_feedback", "tasks"}
EXAMS = "/api/v1/workforce/exams"


def keys_in(value) -> set:
    if isinstance(value, dict):
        return set(value) | set().union(*(keys_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_in(v) for v in value)) if value else set()
    return set()


def gold_project(manager, *, golds: int = 3, work: int = 3, settings: dict | None = None):
    """A project whose first `golds` tasks are gold (answer B), then `work` ordinary tasks."""
    project = make_project(manager, tasks=golds + work, settings=settings)
    ids = task_ids(project)
    if golds:
        marked = manager.post(f"/api/v1/projects/{project['id']}/gold",
                              [{"task": t, "result": B} for t in ids[:golds]], format="json")
        assert marked.status_code == 201, marked.content
    return project, ids[:golds], ids[golds:]


def create_exam(manager, project, tasks, **fields):
    body = {"name": "Qualification", "project": project["id"], "tasks": tasks, "required": False, **fields}
    response = manager.post(EXAMS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def start(client, exam):
    return client.post(f"{EXAMS}/{exam['id']}/attempts")


def take(client, project, answers: dict[int, list] | None = None, *, default=B) -> list[dict]:
    """next + submit while `next` serves exam tasks (a queue task is given back); the exam leases served."""
    served = []
    while (response := next_task(client, project)).status_code == 200:
        lease = response.json()
        if Assignment.objects.get(pk=lease["assignment"]["id"]).kind == Assignment.Kind.QUEUE:
            assert client.post(f"/api/v1/assignments/{lease['assignment']['id']}/release").status_code == 200
            break
        served.append(lease)
        assert submit(client, lease, (answers or {}).get(lease["task"]["id"], default)).status_code == 201
    return served


def third_client(tenant):
    """The tenant's own annotator (of the conftest), who never sat the exam."""
    from tests.conftest import token_client

    return token_client(tenant.secrets["annotator"])


@pytest.fixture
def manager(as_role):
    return as_role("manager")


@pytest.fixture
def crowd(tenant):
    (member, client), = annotators(tenant, 1)
    return member, client


def test_create_validates_the_tasks_and_the_fields(tenant, other_tenant, manager):
    project, golds, work = gold_project(manager)
    other, other_golds, _ = gold_project(manager)
    skill = Skill.objects.create(organization=tenant.org, name="medical")
    foreign_skill = Skill.objects.create(organization=other_tenant.org, name="medical")
    exam = create_exam(manager, project, golds, skill=skill.pk, skill_level=70, pass_threshold=0.6)
    assert exam["tasks"] == golds and exam["tasks_total"] == 3 and exam["skill"] == skill.pk
    assert (exam["kind"], exam["max_attempts"], exam["active"]) == ("exam", 3, True)

    def refused(body, field):
        response = manager.post(EXAMS, {"name": "x", "project": project["id"], "tasks": golds, **body}, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["details"], response.json()
        return response.json()["error"]["details"][field]

    named = refused({"tasks": [golds[0], work[0], other_golds[0]]}, "tasks")
    assert len(named) == 2 and str(work[0]) in named[0] and str(other_golds[0]) in named[1]
    refused({"tasks": []}, "tasks")
    refused({"tasks": [999_999_999]}, "tasks")
    refused({"pass_threshold": 1.5}, "pass_threshold")
    refused({"skill_level": 101}, "skill_level")
    refused({"kind": "quiz"}, "kind")
    refused({"max_attempts": 0}, "max_attempts")
    refused({"skill": foreign_skill.pk}, "skill")
    refused({"project": Project.objects.create(organization=other_tenant.org, name="theirs").pk}, "project")
    # edits: tasks checked the same way, the project stays
    url = f"{EXAMS}/{exam['id']}"
    assert manager.patch(url, {"tasks": [work[0]]}, format="json").status_code == 400
    assert manager.patch(url, {"project": other["id"]}, format="json").status_code == 400
    edited = manager.patch(url, {"tasks": golds[:2], "pass_threshold": 0.9, "name": "Q2"}, format="json")
    assert edited.status_code == 200, edited.content
    assert (edited.json()["tasks"], edited.json()["pass_threshold"], edited.json()["name"]) == (golds[:2], 0.9, "Q2")
    assert AuditEvent.objects.filter(action="exam.update", object_id=str(exam["id"])).exists()
    listed = manager.get(f"{EXAMS}?project={project['id']}").json()["results"]
    assert [e["id"] for e in listed] == [exam["id"]]
    assert manager.delete(url).status_code == 204
    assert manager.get(url).status_code == 404


def test_passing_through_the_workspace_sets_the_skill_and_tells_the_annotator(
        tenant, manager, crowd, settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_SEND_IN_BACKGROUND = False
    from channels.layers import get_channel_layer

    from apps.live.groups import user_group

    member, client = crowd
    project, golds, work = gold_project(manager)
    skill = Skill.objects.create(organization=tenant.org, name="medical")
    exam = create_exam(manager, project, golds, skill=skill.pk, skill_level=70, pass_threshold=0.6)
    started = start(client, exam)
    assert started.status_code == 201, started.content
    attempt = started.json()
    assert (attempt["number"], attempt["status"], attempt["tasks_total"], attempt["exam"]) == (
        1, "in_progress", 3, exam["id"])
    again = start(client, exam)  # an open attempt comes back, not a second one
    assert again.status_code == 200 and again.json()["id"] == attempt["id"]

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(member.user_id), channel)
    served = []
    for _ in golds:
        lease = next_task(client, project).json()
        assert not (keys_in(lease) & LEAKY_KEYS), lease  # nothing before the submit carries the answer
        served.append(lease["task"]["id"])
        assert Assignment.objects.get(pk=lease["assignment"]["id"]).kind == "exam"
        with django_capture_on_commit_callbacks(execute=True):
            answer = A if lease["task"]["id"] == golds[0] else B  # 2 of 3 right: 0.67 ≥ 0.6
            assert submit(client, lease, answer).status_code == 201
    assert sorted(served) == golds
    done = ExamAttempt.objects.get(pk=attempt["id"])
    assert done.status == "passed" and done.answered == 3 and done.score == pytest.approx(2 / 3)
    level = AnnotatorSkill.objects.get(profile__user=member.user, skill=skill)
    assert (level.level, level.source) == (70, "exam")
    messages = []
    while True:
        try:
            messages.append(async_to_sync(layer.receive)(channel)["payload"])
        except Exception:
            break
        if messages[-1]["type"] == "exam.finished":
            break
    finished = messages[-1]
    assert finished["type"] == "exam.finished" and finished["status"] == "passed" and finished["attempt"] == done.pk
    assert AuditEvent.objects.filter(action="exam.passed", object_id=str(done.pk)).exists()
    assert start(client, exam).json()["error"]["code"] == "exam_passed"
    # after the exam, ordinary work; exam tasks are not served again
    assert next_task(client, project).json()["task"]["id"] in work
    mine = client.get(f"{EXAMS}/{exam['id']}/attempts").json()["results"]
    assert [(a["status"], a["annotator"]) for a in mine] == [("passed", member.pk)]


def test_failing_is_recorded_and_retries_wait_then_run_out(tenant, manager, crowd):
    member, client = crowd
    project, golds, _ = gold_project(manager)
    skill = Skill.objects.create(organization=tenant.org, name="medical")
    exam = create_exam(manager, project, golds, skill=skill.pk, pass_threshold=0.6, max_attempts=2,
                       retry_after_hours=12)
    first = start(client, exam).json()
    served = take(client, project, default=A)  # all wrong
    assert len(served) == 3
    failed = ExamAttempt.objects.get(pk=first["id"])
    assert failed.status == "failed" and failed.score == 0 and failed.finished_at is not None
    assert not AnnotatorSkill.objects.filter(profile__user=member.user).exists()
    assert AuditEvent.objects.filter(action="exam.failed", object_id=str(failed.pk)).exists()
    too_soon = start(client, exam)
    assert too_soon.status_code == 409 and too_soon.json()["error"]["code"] == "retry_too_soon"
    retry_at = too_soon.json()["error"]["details"]["retry_at"]
    assert retry_at.startswith((failed.finished_at + timedelta(hours=12)).isoformat()[:16])
    mine = client.get(EXAMS).json()["results"][0]["me"]
    assert (mine["status"], mine["attempts_left"], mine["retry_at"] is not None) == ("failed", 1, True)
    # time moves on: 13 hours later the second attempt serves every task again
    ExamAttempt.objects.filter(pk=failed.pk).update(finished_at=timezone.now() - timedelta(hours=13))
    second = start(client, exam)
    assert second.status_code == 201 and second.json()["number"] == 2
    served = take(client, project, default=B)
    assert sorted(lease["task"]["id"] for lease in served) == golds
    assert ExamAttempt.objects.get(pk=second.json()["id"]).status == "passed"
    # a second exam in the same project, failed twice: the attempts run out
    other = create_exam(manager, project, golds[:1], max_attempts=2, retry_after_hours=0)
    for number in (1, 2):
        assert start(client, other).json()["number"] == number
        take(client, project, default=A)
    out = start(client, other)
    assert out.status_code == 409 and out.json()["error"]["code"] == "attempts_exhausted"
    assert ExamAttempt.objects.filter(exam_id=other["id"], status="failed").count() == 2


def test_a_skipped_exam_task_scores_zero(manager, crowd):
    _, client = crowd
    project, golds, _ = gold_project(manager, golds=2)
    exam = create_exam(manager, project, golds, pass_threshold=0.5)
    attempt = start(client, exam).json()
    lease = next_task(client, project).json()
    assert client.post(f"/api/v1/assignments/{lease['assignment']['id']}/skip").status_code == 200
    lease = next_task(client, project).json()
    assert lease["task"]["id"] == golds[1]
    assert submit(client, lease, B).status_code == 201
    done = ExamAttempt.objects.get(pk=attempt["id"])
    assert (done.answered, done.score, done.status) == (2, 0.5, "passed")


def test_training_shows_the_answer_after_each_submit_and_does_not_count(manager, crowd):
    member, client = crowd
    project, golds, work = gold_project(manager, settings={"gold_feedback": False})
    # a required training set is started automatically on the first `next`
    training = create_exam(manager, project, golds[:2], kind="training", required=True)
    served = []
    for _ in range(2):
        lease = next_task(client, project).json()
        assert not (keys_in(lease) & LEAKY_KEYS)
        assert Assignment.objects.get(pk=lease["assignment"]["id"]).kind == "training"
        answer = A if not served else B
        done = submit(client, lease, answer)
        assert done.status_code == 201
        feedback = done.json()["gold_feedback"]
        assert feedback["result"] == B and feedback["passed"] is bool(served)
        served.append(lease["task"]["id"])
    assert sorted(served) == golds[:2]
    attempt = ExamAttempt.objects.get(exam_id=training["id"], annotator=member.user)
    assert (attempt.status, attempt.number, attempt.score) == ("completed", 1, 0.5)
    assert QualityScore.objects.filter(annotator=member.user, kind="training").count() == 2
    stats = AnnotatorStats.objects.get(project_id=project["id"], annotator=member.user)
    assert stats.gold_seen == 0 and stats.gold_correct == 0
    assert next_task(client, project).json()["task"]["id"] in work  # completed: ordinary work, no more training


def test_a_required_exam_gates_ordinary_work_until_passed(tenant, manager, crowd):
    member, client = crowd
    project, golds, work = gold_project(manager)
    exam = create_exam(manager, project, golds, required=True, pass_threshold=0.6, retry_after_hours=0)
    assert next_task(client, project).status_code == 204  # not started: nothing ordinary
    start(client, exam)
    served = take(client, project, default=A)  # served the exam's tasks only, and fails
    assert sorted(lease["task"]["id"] for lease in served) == golds
    assert ExamAttempt.objects.get(exam_id=exam["id"]).status == "failed"
    assert next_task(client, project).status_code == 204  # failed: still no ordinary work
    # someone else of the project is gated as well, not only those who tried
    (newcomer_member, newcomer), = annotators(tenant, 1, role="reviewer")
    assert next_task(newcomer, project).status_code == 204
    start(client, exam)
    take(client, project, default=B)
    lease = next_task(client, project)
    assert lease.status_code == 200 and lease.json()["task"]["id"] in work  # passed: ordinary work
    # a skill level held from elsewhere (set by a manager) qualifies too, when the exam grants a skill
    skill = Skill.objects.create(organization=tenant.org, name="medical")
    assert manager.patch(f"{EXAMS}/{exam['id']}", {"skill": skill.pk, "skill_level": 60},
                         format="json").status_code == 200
    assert next_task(newcomer, project).status_code == 204
    from apps.workforce.profiles import profile_for, skill_level_set

    skill_level_set(profile=profile_for(organization=tenant.org, user=newcomer_member.user), skill=skill, level=60)
    assert next_task(newcomer, project).status_code == 200
    # an inactive exam gates nobody
    assert next_task(third_client(tenant), project).status_code == 204
    assert manager.patch(f"{EXAMS}/{exam['id']}", {"active": False}, format="json").status_code == 200
    assert next_task(third_client(tenant), project).status_code == 200


def test_the_source_is_cheap_when_nobody_sits_an_exam(tenant, manager, django_assert_max_num_queries):
    project, golds, _ = gold_project(manager)
    model = Project.objects.get(pk=project["id"])
    source, user = ExamSource(), tenant.user("annotator")
    source.offer(project=model, user=user, now=timezone.now())  # warms the project's exam cache
    with django_assert_max_num_queries(0):
        assert source.offer(project=model, user=user, now=timezone.now()) is None
    create_exam(manager, project, golds)
    source.offer(project=model, user=user, now=timezone.now())
    with django_assert_max_num_queries(1):
        assert source.offer(project=model, user=user, now=timezone.now()) is None


def test_annotators_see_no_task_ids_nor_answers(tenant, manager, as_role, crowd):
    _, client = crowd
    project, golds, _ = gold_project(manager)
    exam = create_exam(manager, project, golds)
    for body in (client.get(EXAMS).json(), client.get(f"{EXAMS}/{exam['id']}").json(),
                 start(client, exam).json(), client.get(f"{EXAMS}/{exam['id']}/attempts").json()):
        assert not (keys_in(body) & LEAKY_KEYS), body
        assert "GOLD" not in str(body) and "'b'" not in str(body)
    listed = client.get(EXAMS).json()["results"]
    assert [e["id"] for e in listed] == [exam["id"]] and listed[0]["tasks_total"] == 3
    # inactive exams are not offered to annotators at all
    manager.patch(f"{EXAMS}/{exam['id']}", {"active": False}, format="json")
    assert client.get(EXAMS).json()["results"] == []
    assert client.get(f"{EXAMS}/{exam['id']}").status_code == 404


def test_attempt_lists_are_own_for_annotators_and_filterable_for_managers(tenant, manager, as_role):
    project, golds, _ = gold_project(manager)
    exam = create_exam(manager, project, golds)
    (one, c1), (two, c2) = annotators(tenant, 2)
    start(c1, exam), start(c2, exam)
    url = f"{EXAMS}/{exam['id']}/attempts"
    assert [a["annotator"] for a in c1.get(url).json()["results"]] == [one.pk]
    assert sorted(a["annotator"] for a in manager.get(url).json()["results"]) == sorted([one.pk, two.pk])
    assert [a["annotator"] for a in manager.get(f"{url}?annotator={two.pk}").json()["results"]] == [two.pk]
    assert manager.get(f"{url}?annotator=abc").status_code == 400


def test_another_tenant_sees_nothing(tenant, other_tenant, manager):
    from tests.conftest import token_client

    project, golds, _ = gold_project(manager)
    exam = create_exam(manager, project, golds)
    for role in ("owner", "manager", "annotator", "viewer"):
        stranger = token_client(other_tenant.secrets[role])
        assert stranger.get(f"{EXAMS}/{exam['id']}").status_code == 404, role
        assert stranger.patch(f"{EXAMS}/{exam['id']}", {"name": "x"}, format="json").status_code == 404, role
        assert stranger.delete(f"{EXAMS}/{exam['id']}").status_code == 404, role
        assert stranger.post(f"{EXAMS}/{exam['id']}/attempts").status_code == 404, role
        assert stranger.get(f"{EXAMS}/{exam['id']}/attempts").status_code == 404, role
        assert stranger.get(EXAMS).json()["results"] == [], role
    owner = token_client(other_tenant.secrets["owner"])
    theirs = owner.post(EXAMS, {"name": "x", "project": project["id"], "tasks": golds}, format="json")
    assert theirs.status_code == 400 and "project" in theirs.json()["error"]["details"]


# The role table: (method, route, body) → the status per role (other roles: the default).
OW, M, R, AN, V = "owner", "manager", "reviewer", "annotator", "viewer"
ROLE_TABLE = [
    ("get", "list", None, {OW: 200, M: 200, R: 200, AN: 200, V: 200}),
    ("post", "list", "create", {OW: 201, M: 201, R: 403, AN: 403, V: 403}),
    ("get", "detail", None, {OW: 200, M: 200, R: 200, AN: 200, V: 200}),
    ("patch", "detail", {"name": "renamed"}, {OW: 200, M: 200, R: 403, AN: 403, V: 403}),
    ("post", "attempts", None, {OW: 201, M: 201, R: 201, AN: 201, V: 403}),
    ("get", "attempts", None, {OW: 200, M: 200, R: 200, AN: 200, V: 200}),
    ("delete", "detail", None, {OW: 204, M: 204, R: 403, AN: 403, V: 403}),
]
CASES = [(method, route, body, role, expected[role])
         for method, route, body, expected in ROLE_TABLE for role in (OW, M, R, AN, V)]


@pytest.mark.parametrize(("method", "route", "body", "role", "expected"), CASES,
                         ids=[f"{m}-{r}-{role}" for m, r, _, role, _ in CASES])
def test_role_table(manager, as_role, method, route, body, role, expected):
    project, golds, _ = gold_project(manager, work=0)
    exam = create_exam(manager, project, golds)
    url = {"list": EXAMS, "detail": f"{EXAMS}/{exam['id']}", "attempts": f"{EXAMS}/{exam['id']}/attempts"}[route]
    if body == "create":
        body = {"name": "another", "project": project["id"], "tasks": golds}
    response = getattr(as_role(role), method)(url, body, format="json")
    assert response.status_code == expected, response.content
