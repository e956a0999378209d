"""Gold answers never reach annotators (API.md): every route of the OpenAPI schema and /ws/me/, walked as an
annotator holding gold tasks before and after submitting; with gold_feedback on, the answer only in the submit's
answer and the gold.feedback message; gold answers follow label remaps.

The gold answer carries a sentinel string no task data or annotator answer contains, so finding it anywhere is a
leak whatever the shape of the body. Routes come from the schema, so routes that later issues add are walked too;
a new route with a path parameter fails here until it gets an id source below.
"""

import json
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.exports.models import DatasetSnapshot, Export
from apps.jobs.models import Job
from apps.orgs.models import Membership
from apps.orgs.roles import Role
from apps.orgs.services import token_create
from apps.orgs.throttling import ActorRateThrottle
from apps.qa.models import RuleFiring, Suspension
from apps.tasks.models import Annotation, Assignment, Flag, Review, Task
from apps.workforce.models import (
    Appeal,
    BonusRule,
    Exam,
    LedgerEntry,
    OnboardingLink,
    Pool,
    PromotionProposal,
    PromotionRule,
    Skill,
)
from apps.workforce.profiles import profile_for
from tests.conftest import token_client
from tests.factories import MembershipFactory
from tests.live.test_websocket import _serve
from tests.tasks.test_live import Inbox, has, me_socket

SENTINEL = "GOLD-SENTINEL-7f3a"
SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "labels": [{"value": "pos"}, {"value": "neg"}]},
                     "note": {"type": "textarea", "to": "text", "max_length": 200}}}


def answer(choice: str, note: str) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [choice]}},
            {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}}]


GOLD = answer("pos", SENTINEL)
WORK = answer("neg", "an annotator's own note")
EDIT = answer("pos", "an annotator's second thought")
# Keys that would tell a gold task apart or carry its answer (or others' work, which consensus is made of).
# (`gold_feedback` is also a project setting, shown to annotators: submits are checked for it apart.)
LEAKY_KEYS = frozenset({"gold", "gold_result", "is_gold", "consensus", "consensus_result"})
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


# --- fixtures ------------------------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("own_celery_queue")  # tests/conftest.py


@pytest.fixture
def server(transactional_db):
    """Quorum's ASGI application under uvicorn in a thread, with the Redis channel layer (tests/live)."""
    yield from _serve()




@pytest.fixture
def unthrottled(monkeypatch):
    """The walk sends several hundred requests with one token in seconds; the throttle is not under test here
    (and a 429 would only hide routes from the walk)."""
    monkeypatch.setitem(ActorRateThrottle.THROTTLE_RATES, "actor", "1000000/min")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def another_annotator(tenant, email: str):
    """A second annotator of the tenant: (user, API client, token secret)."""
    membership = MembershipFactory(organization=tenant.org, role=Role.ANNOTATOR, user__email=email)
    _, secret = token_create(organization=tenant.org, actor=membership.user, actor_role=Role.ANNOTATOR, name="t",
                             role=Role.ANNOTATOR)
    return membership.user, token_client(secret), secret


# --- what a leak is ------------------------------------------------------------------------------------------


def body_of(response) -> tuple[bytes, object]:
    """The raw body (streamed files included) and its JSON, if it is JSON."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    parsed = None
    if raw and "json" in (response.get("Content-Type") or ""):
        parsed = json.loads(raw)
    return raw, parsed


def leaks(raw: bytes | str, parsed, *, keys=LEAKY_KEYS) -> list[str]:
    """Where a body carries the sentinel or a leaky key with a value. An error's `details` name request fields
    (`{"is_gold": ["not for annotators"]}`): a field-error list there is not a value of that key."""
    found = []
    if SENTINEL in (raw.decode(errors="replace") if isinstance(raw, bytes) else raw):
        found.append(f"the sentinel {SENTINEL}")

    def visit(value, path, in_details):
        if isinstance(value, dict):
            for key, item in value.items():
                field_error = in_details and isinstance(item, list) and all(isinstance(x, str) for x in item)
                if key in keys and item is not None and not field_error:
                    found.append(f"{path}.{key} = {item!r}")
                visit(item, f"{path}.{key}", in_details or (path == "$.error" and key == "details"))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{path}[{index}]", in_details)

    visit(parsed, "$", False)
    return found


@dataclass
class Call:
    phase: str
    method: str
    route: str  # the schema's path template
    url: str
    status: int
    body: object


@dataclass
class Recorder:
    """An annotator's API client whose every answer is checked for leaks as it comes."""

    client: object
    phase: str = "work"
    calls: list[Call] = field(default_factory=list)

    def call(self, method: str, route: str, url: str, body=None, **extra):
        if method in ("get", "delete"):
            response = getattr(self.client, method)(url, **extra)
        else:
            response = getattr(self.client, method)(url, body if body is not None else {}, format="json", **extra)
        raw, parsed = body_of(response)
        assert response.status_code != 429, f"throttled at {method.upper()} {url}"
        assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code} {raw[:500]!r}"
        found = leaks(raw, parsed)
        if route.endswith("/submit/") and isinstance(parsed, dict) and "gold_feedback" in parsed:
            found.append("gold_feedback in a submit's answer, with gold_feedback off")
        assert not found, f"{self.phase}: {method.upper()} {url} ({response.status_code}) leaks {found}"
        self.calls.append(Call(self.phase, method, route, url, response.status_code, parsed))
        return response.status_code, parsed

    def answered_2xx(self, *phases) -> set[tuple[str, str]]:
        return {(c.method, c.route) for c in self.calls if c.phase in phases and 200 <= c.status < 300}

    def statuses(self, method: str, url: str, *phases) -> list[int]:
        return [c.status for c in self.calls if c.method == method and c.url == url and c.phase in phases]


# --- the project and the work --------------------------------------------------------------------------------

NEXT = "/api/v1/projects/{project_id}/next/"
ACTION = "/api/v1/assignments/{assignment_id}/%s/"


def gold_project(manager, *, tasks: int, golds: int, settings: dict, with_media: bool = False) -> dict:
    """A project whose first `golds` tasks are gold with the sentinel answer: {"id", "tasks", "golds"}."""
    body = {"name": "Gold", "label_schema": SPEC,
            "settings": {"gold_adaptive": {"multiplier": 1}, **settings}}
    response = manager.post("/api/v1/projects", body, format="json")
    assert response.status_code == 201, response.content
    project = response.json()
    media_url = None
    if with_media:  # a file the tasks refer to, so that GET /media/{id} serves it to their holders
        png = (FIXTURES / "digits" / "digit_0000_0.png").read_bytes()
        uploaded = manager.post(f"/api/v1/projects/{project['id']}/media",
                                {"files": [SimpleUploadedFile("attachment.png", png)]}, format="multipart")
        assert uploaded.status_code == 201, uploaded.content
        project["media"] = uploaded.json()["files"][0]["id"]
        media_url = uploaded.json()["files"][0]["url"]
    rows = [{"text": f"review number {i}: fine, I suppose", **({"attachment": media_url} if media_url else {})}
            for i in range(tasks)]
    imported = manager.generic("POST", f"/api/v1/projects/{project['id']}/import?return_ids=true",
                               "\n".join(json.dumps(r) for r in rows), content_type="application/x-ndjson")
    assert imported.status_code == 201 and imported.json()["created"] == tasks, imported.content
    project["tasks"] = imported.json()["task_ids"]
    project["golds"] = project["tasks"][:golds]
    marked = manager.post(f"/api/v1/projects/{project['id']}/gold",
                          [{"task": t, "result": GOLD} for t in project["golds"]], format="json")
    assert marked.status_code == 201, marked.content
    return project


def work_through_queue(annotator: Recorder, manager, project, *, gold_rate: float) -> int:
    """next → submit, with one skip, release, report and draft on ordinary work and on gold, one ordinary lease
    revoked by a manager; ends holding a gold lease with a draft, not submitted. Returns that assignment's id.

    The ordinary plan runs first, without gold (one lease at a time, and the held gold must come last); then the
    manager turns the gold mix on and the gold plan runs, ordinary work between golds being submitted."""
    pid, golds = project["id"], set(project["golds"])
    gold_plan = ["submit", "skip", "release", "report", "hold"]
    ordinary_plan = ["revoked", "skip", "release", "draft", "report"]
    for _ in range(80):
        if not ordinary_plan and not project["settings"]["gold_rate"]:
            patched = manager.patch(f"/api/v1/projects/{pid}", {"settings": {"gold_rate": gold_rate}}, format="json")
            assert patched.status_code == 200, patched.content
            project["settings"] = patched.json()["settings"]
        status, lease = annotator.call("post", NEXT, f"/api/v1/projects/{pid}/next")
        assert status == 200, f"the queue ran dry before the plan was done: {gold_plan} {ordinary_plan}"
        assignment, task = lease["assignment"]["id"], lease["task"]["id"]
        actions = f"/api/v1/assignments/{assignment}"
        annotator.call("get", "/api/v1/tasks/{id}/", f"/api/v1/tasks/{task}")
        if task in golds:
            step = gold_plan.pop(0)
        else:
            step = ordinary_plan.pop(0) if ordinary_plan else "submit"
        if step == "revoked":
            assert manager.post(f"{actions}/revoke").status_code == 200
            continue
        if step in ("skip", "release"):
            assert annotator.call("post", ACTION % step, f"{actions}/{step}")[0] == 200
            continue
        if step in ("draft", "hold"):
            assert annotator.call("put", ACTION % "draft", f"{actions}/draft", {"draft": WORK})[0] == 200
            assert annotator.call("get", ACTION % "draft", f"{actions}/draft")[0] == 200
        if step == "report":
            assert annotator.call("post", ACTION % "report", f"{actions}/report", {"reason": "blurry"})[0] == 201
        if step == "hold":
            again = annotator.call("post", NEXT, f"/api/v1/projects/{pid}/next")[1]  # the same lease, its draft
            assert again["assignment"]["id"] == assignment and again["draft"] == WORK
            return assignment
        status, made = annotator.call("post", ACTION % "submit", f"{actions}/submit",
                                      {"result": WORK, "lead_time_ms": 4000})
        assert status == 201
        annotator.call("get", "/api/v1/annotations/{annotation_id}/", f"/api/v1/annotations/{made['id']}")
    raise AssertionError("the plan did not finish")


# --- the walk over the schema --------------------------------------------------------------------------------


@dataclass
class Reach:
    """Ids of what the annotator can reach (and of the project's gold, which they must not)."""

    project: int
    slug: str
    tasks: list[int]
    assignments: list[int]
    annotations: list[int]
    jobs: list[int]
    members: list[int]
    tokens: list[int]
    media: list[int]
    flags: list[int]
    rules: list[int]
    firings: list[int]
    suspensions: list[int]
    reviews: list[int]
    workforce: dict[str, list]  # path parameter of a /workforce/ route → ids



def reach_of(*, project, user, tenant, extra) -> Reach:
    mine = Assignment.objects.filter(project_id=project["id"], annotator=user)
    held_tasks = set(mine.values_list("task_id", flat=True))
    return Reach(
        project=project["id"], slug=tenant.org.slug,
        # Their tasks, and every gold task (held or not) with one ordinary task they never held.
        tasks=sorted(held_tasks | set(project["golds"])
                     | set(Task.objects.filter(project_id=project["id"]).exclude(pk__in=held_tasks)
                           .values_list("pk", flat=True)[:1])),
        assignments=list(mine.order_by("id").values_list("pk", flat=True)),
        annotations=list(Annotation.objects.filter(author=user).order_by("id").values_list("pk", flat=True)),
        jobs=extra["jobs"], members=[Membership.objects.get(organization=tenant.org, user=user).pk],
        tokens=extra["tokens"], media=[project["media"]] if "media" in project else [],
        flags=list(Flag.objects.filter(project_id=project["id"]).values_list("pk", flat=True)),
        rules=extra["rules"], firings=extra["firings"], suspensions=extra["suspensions"], reviews=extra["reviews"],
        workforce=extra.get("workforce", {}),
    )


# Path parameter → the values to walk it with (by route prefix; a tuple gives one value per parameter).
ID_SOURCES = {
    "/api/v1/projects/{project_id}/gold/{task_id}/": lambda r: [(r.project, t) for t in r.tasks],
    "/api/v1/orgs/{slug}/": lambda r: [r.slug],
    "/api/v1/members/{id}/": lambda r: r.members,
    "/api/v1/tokens/{id}/": lambda r: r.tokens,
    "/api/v1/jobs/{id}/": lambda r: r.jobs,
    "/api/v1/projects/{id}/": lambda r: [r.project],
    "/api/v1/projects/{project_id}/": lambda r: [r.project],
    "/api/v1/tasks/{id}/": lambda r: r.tasks,
    "/api/v1/tasks/{task_id}/": lambda r: r.tasks,
    "/api/v1/media/{media_id}/": lambda r: r.media,
    "/api/v1/assignments/{assignment_id}/": lambda r: r.assignments,
    "/api/v1/annotations/{annotation_id}/": lambda r: r.annotations,
    "/api/v1/reviews/{review_id}/": lambda r: r.reviews,
    "/api/v1/quality-rules/{rule_id}/": lambda r: r.rules,
    "/api/v1/rule-firings/{firing_id}/": lambda r: r.firings,
    "/api/v1/suspensions/{suspension_id}/": lambda r: r.suspensions,
    "/api/v1/flags/{flag_id}/": lambda r: r.flags,
    "/api/v1/workforce/promotions/{proposal_id}/{action}/": lambda r: [
        (p, action) for p in r.workforce.get("proposal_id", []) for action in ("confirm", "dismiss")],
    "/api/v1/exports/{export_id}/": lambda r: r.workforce.get("export_id", []),
    "/api/v1/snapshots/{snapshot_id}/": lambda r: r.workforce.get("snapshot_id", []),
    **{f"/api/v1/workforce/{prefix}/{{{param}}}/": (lambda r, param=param: r.workforce.get(param, []))
       for prefix, param in (("skills", "skill_id"), ("pools", "pool_id"), ("annotators", "member_id"),
                             ("onboarding-links", "link_id"), ("exams", "exam_id"), ("appeals", "appeal_id"),
                             ("bonus-rules", "rule_id"), ("promotion-rules", "rule_id"), ("ledger", "entry_id"))},
}

# A few list routes are also asked with filters (an annotator's filter by gold is refused, and says so).
QUERIES = {"/api/v1/projects/{project_id}/tasks/": ["", "?page_size=1000", "?is_gold=true", "?has_prediction=false"]}


def harmless_body(method: str, route: str, values: tuple):
    """What an annotator would send where they may act; elsewhere an empty body (the role check answers first)."""
    if route.endswith("/submit/"):
        return {"result": WORK, "lead_time_ms": 3000}
    if route.endswith("/draft/"):
        return {"draft": WORK}
    if route.endswith("/report/"):
        return {"reason": "the text is cut off"}
    if route == "/api/v1/annotations/{annotation_id}/" and method == "patch":
        return {"result": EDIT, "version": Annotation.objects.get(pk=values[0]).version}
    if route == "/api/v1/tokens/" and method == "post":
        return {"name": "walk", "role": "annotator"}
    return {}


METHOD_ORDER = {"get": 0, "put": 1, "patch": 2, "post": 3, "delete": 4}
# A lease's own actions in the order a person uses them: the held gold gets its heartbeat and report, then its
# submit (the first sight of a gold after submitting, in the walk); release, skip and revoke come after.
LEASE_ACTION_ORDER = {"heartbeat": 0, "report": 1, "submit": 2, "release": 3, "skip": 4, "revoke": 5}


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = [(path, method) for path, operations in schema["paths"].items() for method in operations
             if method in METHOD_ORDER]

    def order(operation):
        path, method = operation
        action = path.rstrip("/").rsplit("/", 1)[-1]
        lease_action = LEASE_ACTION_ORDER.get(action, -1) if path.startswith("/api/v1/assignments/") else -1
        return METHOD_ORDER[method], lease_action, path

    return sorted(found, key=order)


def walk(recorder: Recorder, reach: Reach, *, methods=tuple(METHOD_ORDER), only=None) -> int:
    """Call every schema operation (of `methods`, or the (method, route) pairs in `only`) with every id the
    annotator can reach; returns how many requests it made."""
    made = 0
    for route, method in schema_operations():
        if method not in methods and (only is None or (method, route) not in only):
            continue
        if "{" in route:
            source = next((fn for prefix, fn in ID_SOURCES.items() if route.startswith(prefix)), None)
            assert source is not None, f"add an id source for {route} to ID_SOURCES"
            values = [v if isinstance(v, tuple) else (v,) * route.count("{") for v in source(reach)]
        else:
            values = [()]
        template = re.sub(r"\{[^}]+\}", "{}", route)
        for value in values:
            for query in QUERIES.get(route, [""]) if method == "get" else [""]:
                url = template.format(*value) + query
                recorder.call(method, route, url, harmless_body(method, route, value))
                made += 1
    return made


def walk_extras(*, tenant, project, manager, annotator_user) -> dict:
    """Objects of the annotator's that the queue does not make: a job of theirs, a spare token (the walk's DELETE
    revokes it, not the one it walks with), a quality rule, a firing and a lifted suspension, a review."""
    job = Job.objects.create(organization=tenant.org, created_by=annotator_user, kind="t", time_limit=60)
    spare, _ = token_create(organization=tenant.org, actor=annotator_user, actor_role=Role.ANNOTATOR, name="spare",
                            role=Role.ANNOTATOR)
    rule = manager.post(f"/api/v1/projects/{project['id']}/quality-rules",
                        {"collector": "gold_accuracy", "min_samples": 1000, "op": "<", "threshold": 0.1,
                         "action": "warn"}, format="json")
    assert rule.status_code == 201, rule.content
    firing = RuleFiring.objects.create(organization=tenant.org, project_id=project["id"], rule_id=rule.json()["id"],
                                       annotator=annotator_user, value=0.05, samples=1000, action="warn")
    now = timezone.now()
    suspension = Suspension.objects.create(organization=tenant.org, project_id=project["id"],
                                           annotator=annotator_user, reason="old", source="manager",
                                           until=now - timedelta(hours=1), lifted_at=now - timedelta(hours=2))
    annotation = Annotation.objects.filter(author=annotator_user, project_id=project["id"]).exclude(
        task_id__in=project["golds"]).first()
    review = Review.objects.create(organization=tenant.org, project_id=project["id"], annotation=annotation,
                                   reviewer=tenant.user("reviewer"), expires_at=now + timedelta(hours=1))
    # The workforce's objects around them: an (inactive) exam made of the project's golds, a pool they are in,
    # an appeal of theirs, a bonus paid to them, a promotion proposed for them, and the managers' rules and links.
    member = Membership.objects.get(organization=tenant.org, user=annotator_user)
    skill = Skill.objects.create(organization=tenant.org, name="walk")
    pool = Pool.objects.create(organization=tenant.org, name="walk")
    pool.members.add(profile_for(organization=tenant.org, user=annotator_user))
    exam = Exam.objects.create(organization=tenant.org, project_id=project["id"], name="walk", skill=skill,
                               active=False)
    exam.tasks.set(project["golds"])
    link = OnboardingLink.objects.create(organization=tenant.org, key_hash="walk" * 16,
                                         expires_at=now + timedelta(days=1))
    appeal = Appeal.objects.create(organization=tenant.org, suspension=suspension, annotator=annotator_user,
                                   message="it was a mistake")
    bonus = BonusRule.objects.create(organization=tenant.org, project_id=project["id"], metric="gold_accuracy",
                                     threshold=0.99, amount="1.00")
    promotion_rule = PromotionRule.objects.create(organization=tenant.org, project_id=project["id"])
    proposal = PromotionProposal.objects.create(organization=tenant.org, annotator=annotator_user, reason="top")
    entry = LedgerEntry.objects.create(organization=tenant.org, annotator=annotator_user, amount="1.0000",
                                       currency="USD", kind="bonus", note="walk")
    snapshot = DatasetSnapshot.objects.create(organization=tenant.org, project_id=project["id"], schema_version=1,
                                              checksum="")
    export = Export.objects.create(organization=tenant.org, project_id=project["id"], snapshot=snapshot,
                                   format="jsonl")
    workforce = {"snapshot_id": [snapshot.pk], "export_id": [export.pk], "skill_id": [skill.pk],
                 "pool_id": [pool.pk], "member_id": [member.pk], "link_id": [link.pk],
                 "exam_id": [exam.pk], "appeal_id": [appeal.pk], "rule_id": [bonus.pk, promotion_rule.pk],
                 "proposal_id": [proposal.pk], "entry_id": [entry.pk]}
    return {"jobs": [job.pk], "tokens": [spare.pk], "rules": [rule.json()["id"]], "firings": [firing.pk],
            "suspensions": [suspension.pk], "reviews": [review.pk], "workforce": workforce}


# Operations an annotator may use, each of which must have answered 2xx in the walk itself.
WALK_MUST_ANSWER = {
    ("get", "/api/v1/me/"), ("get", "/api/v1/projects/"), ("get", "/api/v1/projects/{id}/"),
    ("get", "/api/v1/projects/{id}/schema/"), ("get", "/api/v1/projects/{project_id}/tasks/"),
    ("post", NEXT), ("get", "/api/v1/tasks/{id}/"), ("get", "/api/v1/media/{media_id}/"),
    ("get", "/api/v1/annotations/{annotation_id}/"), ("patch", "/api/v1/annotations/{annotation_id}/"),
    ("get", "/api/v1/annotations/{annotation_id}/history/"),
    ("get", ACTION % "draft"), ("put", ACTION % "draft"), ("post", ACTION % "heartbeat"),
    ("post", ACTION % "report"), ("post", ACTION % "submit"),
    ("get", "/api/v1/jobs/"), ("get", "/api/v1/jobs/{id}/"), ("get", "/api/v1/members/{id}/"),
    ("get", "/api/v1/tokens/"), ("post", "/api/v1/tokens/"), ("delete", "/api/v1/tokens/{id}/"),
}


def test_no_route_and_no_socket_message_shows_an_annotator_the_gold(server, tenant, as_role, gold_source,
                                                                     unthrottled, media_root):
    manager = as_role("manager")
    project = gold_project(manager, tasks=20, golds=8, settings={"gold_rate": 0, "gold_feedback": False},
                           with_media=True)
    pid, golds = project["id"], set(project["golds"])
    user = tenant.user("annotator")
    annotator = Recorder(as_role("annotator"))
    # The detector finds what it looks for: a manager's reads of the same gold carry both.
    raw, parsed = body_of(manager.get(f"/api/v1/tasks/{project['golds'][0]}"))
    assert any("sentinel" in f for f in leaks(raw, parsed)) and any(".is_gold" in f for f in leaks(raw, parsed))

    with me_socket(server, tenant.secrets["annotator"]) as ws:
        inbox = Inbox(ws)
        # A manager pins ordinary work to them: it is served first, and /ws/me/ hears of it.
        pinned = manager.post(f"/api/v1/tasks/{project['tasks'][-1]}/assign",
                              {"annotator": tenant.member("annotator").pk}, format="json")
        assert pinned.status_code == 201, pinned.content
        held = work_through_queue(annotator, manager, project, gold_rate=0.9)

        gold_states = set(Assignment.objects.filter(annotator=user, project_id=pid, kind="gold")
                          .values_list("status", flat=True))
        assert gold_states >= {"submitted", "skipped", "released", "active"}  # gold before and after submitting
        held_task = Assignment.objects.get(pk=held).task_id
        assert held_task in golds
        gold_annotations = list(Annotation.objects.filter(author=user, task_id__in=golds).values_list("pk", flat=True))
        assert len(gold_annotations) >= 2

        extras = walk_extras(tenant=tenant, project=project, manager=manager, annotator_user=user)
        annotator.phase = "walk"
        first = walk(annotator, reach_of(project=project, user=user, tenant=tenant, extra=extras))
        annotator.phase = "walk after submits"  # the held gold is submitted by now: read everything again
        second = walk(annotator, reach_of(project=project, user=user, tenant=tenant, extra=extras),
                      methods=("get",), only={("post", NEXT)})
        inbox.until_quiet(quiet=1.0)

    # The walk was not one of 403s and 404s.
    walked = annotator.answered_2xx("walk", "walk after submits")
    assert not WALK_MUST_ANSWER - walked, f"never 2xx in the walk: {sorted(WALK_MUST_ANSWER - walked)}"
    assert len(walked) >= 25, sorted(walked)
    assert annotator.answered_2xx("work") >= {("post", ACTION % "skip"), ("post", ACTION % "release")}
    # …and it read the gold tasks themselves, before and after their submit.
    assert 200 in annotator.statuses("get", f"/api/v1/tasks/{held_task}/", "walk")  # held, not yet submitted
    assert 201 in annotator.statuses("post", f"/api/v1/assignments/{held}/submit/", "walk")
    assert 200 in annotator.statuses("get", f"/api/v1/tasks/{held_task}/", "walk after submits")
    for annotation in gold_annotations:
        assert 200 in annotator.statuses("get", f"/api/v1/annotations/{annotation}/history/", "walk")
    assert Annotation.objects.filter(author=user, task_id__in=golds).count() > len(gold_annotations)
    every = set(schema_operations())
    assert {(c.method, c.route) for c in annotator.calls if c.phase == "walk"} == {(m, r) for r, m in every}
    assert first > len(every) and second > 0

    # /ws/me/ carried their events during all that, and never the gold.
    assert {m["type"] for m in inbox.messages} >= {"task.assigned", "lease.revoked"}, inbox.messages
    for frame in inbox.frames:
        assert not leaks(frame, json.loads(frame)), frame


class FeedbackRecorder(Recorder):
    """A recorder for a project with gold_feedback on: a submit's answer may carry the gold answer, and only in
    its `gold_feedback` field."""

    def submit(self, assignment: int) -> dict:
        response = self.client.post(f"/api/v1/assignments/{assignment}/submit",
                                    {"result": WORK, "lead_time_ms": 3000}, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        feedback = body.pop("gold_feedback", None)
        found = leaks(json.dumps(body), body)
        assert not found, f"a submit's answer leaks {found} outside gold_feedback"
        self.calls.append(Call(self.phase, "post", ACTION % "submit", f"/api/v1/assignments/{assignment}/submit/",
                               201, body))
        return {**body, "gold_feedback": feedback}


def work_watching_feedback(annotator: FeedbackRecorder, inbox: Inbox, project, *, others: list[Inbox]) -> list[int]:
    """next → draft → submit until 204, checking at each step where the gold answer may be: nowhere before the
    submit, in the submit's gold_feedback and then a gold.feedback message for gold, on no other person's socket.
    Returns the gold tasks they submitted."""
    pid, golds, submitted_gold = project["id"], set(project["golds"]), []

    def told_others() -> list[int]:
        return [sum(SENTINEL in frame for frame in other.frames) for other in others]

    others_before = told_others()
    for _ in range(60):
        status, lease = annotator.call("post", NEXT, f"/api/v1/projects/{pid}/next")
        if status == 204:
            return submitted_gold
        assignment, task = lease["assignment"]["id"], lease["task"]["id"]
        annotator.call("get", "/api/v1/tasks/{id}/", f"/api/v1/tasks/{task}")
        annotator.call("put", ACTION % "draft", f"/api/v1/assignments/{assignment}/draft", {"draft": WORK})
        annotator.call("get", ACTION % "draft", f"/api/v1/assignments/{assignment}/draft")
        # Before the submit, their socket carried the answer of no task but the golds they submitted already.
        assert {m["task"] for m in inbox.messages if SENTINEL in json.dumps(m)} <= set(submitted_gold)
        assert all(m["type"] == "gold.feedback" for m in inbox.messages if SENTINEL in json.dumps(m))
        told_before = len(inbox.of("gold.feedback"))
        sent = time.monotonic()
        made = annotator.submit(assignment)
        if task in golds:
            assert made["gold_feedback"]["result"] == GOLD and SENTINEL in json.dumps(made["gold_feedback"])
            inbox.wait_for(has("gold.feedback", task=task))
            message = inbox.of("gold.feedback")[-1]
            assert message["task"] == task and message["result"] == GOLD and message["annotation"] == made["id"]
            arrived = [m["_at"] for m in inbox.messages if m["type"] == "gold.feedback" and m["task"] == task]
            assert len(arrived) == 1 and arrived[0] >= sent  # told once, and only after the submit was sent
            submitted_gold.append(task)
        else:
            assert made["gold_feedback"] is None
            assert len(inbox.of("gold.feedback")) == told_before
        # Afterwards the answer is in the submit's answer only: reading the task or the annotation never shows it.
        annotator.call("get", "/api/v1/tasks/{id}/", f"/api/v1/tasks/{task}")
        annotator.call("get", "/api/v1/annotations/{annotation_id}/", f"/api/v1/annotations/{made['id']}")
        annotator.call("get", "/api/v1/annotations/{annotation_id}/history/",
                       f"/api/v1/annotations/{made['id']}/history")
        assert told_others() == others_before, "another annotator's socket was told this gold answer"
    raise AssertionError("the queue did not run dry")


def test_with_gold_feedback_the_answer_comes_only_with_the_submit_and_only_to_its_author(
        server, tenant, as_role, gold_source, unthrottled):
    manager = as_role("manager")
    # Two annotations per ordinary task, so that the second annotator has work around the golds too.
    project = gold_project(manager, tasks=10, golds=4, settings={"gold_rate": 0.8, "gold_feedback": True,
                                                                  "overlap": 2})
    golds = set(project["golds"])
    first_user, first = tenant.user("annotator"), FeedbackRecorder(as_role("annotator"))
    second_user, second_client, second_secret = another_annotator(tenant, "second@acme.test")
    second = FeedbackRecorder(second_client)

    with me_socket(server, tenant.secrets["annotator"]) as ws1, me_socket(server, second_secret) as ws2:
        inbox1, inbox2 = Inbox(ws1), Inbox(ws2)
        first_golds = work_watching_feedback(first, inbox1, project, others=[inbox2])
        assert first_golds, "the first annotator was served no gold"
        told_first = len(inbox1.of("gold.feedback"))
        # The second annotator is served the same golds (each person gets each gold once), after the first was
        # told their answers: nothing they read or hear carries it before their own submit.
        second_golds = work_watching_feedback(second, inbox2, project, others=[inbox1])
        assert set(second_golds) & set(first_golds), "the second annotator got none of the golds the first saw"
        inbox1.until_quiet(quiet=1.0)
        inbox2.until_quiet(quiet=1.0)
    assert len(inbox1.of("gold.feedback")) == told_first == len(first_golds)  # nothing of the second's work
    assert sorted(m["task"] for m in inbox2.of("gold.feedback")) == sorted(second_golds)
    for inbox in (inbox1, inbox2):
        for message in inbox.messages:
            frame = json.dumps({k: v for k, v in message.items() if k != "_at"})
            if message["type"] != "gold.feedback":
                assert not leaks(frame, message), message
    assert all(t in golds for t in first_golds + second_golds)
    # Once they are done, every read of theirs is clean: the answer stays in the submit's answer.
    for recorder, user in ((first, first_user), (second, second_user)):
        recorder.phase = "reads afterwards"
        extras = {"jobs": [], "tokens": [], "rules": [], "firings": [], "suspensions": [], "reviews": []}
        walk(recorder, reach_of(project=project, user=user, tenant=tenant, extra=extras), methods=("get",))
        assert ("get", "/api/v1/tasks/{id}/") in recorder.answered_2xx("reads afterwards")


# --- gold answers follow label remaps ------------------------------------------------------------------------

def labels_spec(*values) -> dict:
    return {"data": {"text": {"type": "text"}},
            "controls": {"sentiment": {"type": "choices", "to": "text", "labels": [{"value": v} for v in values]}}}


def choice(value: str) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def test_gold_answers_follow_a_label_remap_and_a_gold_label_is_not_dropped_without_one(as_role):
    manager = as_role("manager")
    created = manager.post("/api/v1/projects", {"name": "Remap", "label_schema": labels_spec("pos", "neg", "meh")},
                           format="json")
    assert created.status_code == 201, created.content
    pid = created.json()["id"]
    imported = manager.generic("POST", f"/api/v1/projects/{pid}/import?return_ids=true",
                               '{"text": "so-so"}\n{"text": "great"}', content_type="application/x-ndjson")
    meh, other = imported.json()["task_ids"]
    assert manager.post(f"/api/v1/projects/{pid}/gold", [{"task": meh, "result": choice("meh")}],
                        format="json").status_code == 201

    renamed = manager.post(f"/api/v1/projects/{pid}/schema",
                           {"label_schema": labels_spec("pos", "neg", "neutral"),
                            "remap": {"sentiment": {"meh": "neutral"}}}, format="json")
    assert renamed.status_code == 201, renamed.content
    assert renamed.json()["version"] == 2
    gold = manager.get(f"/api/v1/projects/{pid}/gold").json()["results"]
    assert [(g["task"], g["result"]) for g in gold] == [(meh, choice("neutral"))]
    assert Task.objects.get(pk=other).gold_result is None

    # Dropping an unused label is free; dropping the one the gold answer uses, without a remap, is refused.
    assert manager.post(f"/api/v1/projects/{pid}/schema", {"label_schema": labels_spec("pos", "neutral")},
                        format="json").status_code == 201
    refused = manager.post(f"/api/v1/projects/{pid}/schema", {"label_schema": labels_spec("pos")}, format="json")
    assert refused.status_code == 409, refused.content
    error = refused.json()["error"]
    assert error["code"] == "labels_in_use"
    assert error["details"]["labels"] == [{"control": "sentiment", "label": "neutral"}]
    assert manager.get(f"/api/v1/projects/{pid}").json()["schema_version"] == 3  # nothing changed
    assert manager.get(f"/api/v1/projects/{pid}/gold").json()["results"][0]["result"] == choice("neutral")



# --- what an annotation's status tells -----------------------------------------------------------------------


def test_with_review_on_an_annotations_status_does_not_tell_an_annotator_which_task_was_gold(as_role,
                                                                                                gold_source):
    manager = as_role("manager")
    project = gold_project(manager, tasks=8, golds=3, settings={"gold_rate": 0.5, "gold_feedback": False,
                                                                 "review_policy": {"mode": "all"}})
    annotator = Recorder(as_role("annotator"))
    seen: dict[bool, set[tuple]] = {True: set(), False: set()}
    while (served := annotator.call("post", NEXT, f"/api/v1/projects/{project['id']}/next"))[0] == 200:
        lease = served[1]
        status, made = annotator.call("post", ACTION % "submit",
                                      f"/api/v1/assignments/{lease['assignment']['id']}/submit",
                                      {"result": WORK, "lead_time_ms": 3000})
        assert status == 201
        detail = annotator.call("get", "/api/v1/tasks/{id}/", f"/api/v1/tasks/{lease['task']['id']}")[1]
        read = annotator.call("get", "/api/v1/annotations/{annotation_id}/", f"/api/v1/annotations/{made['id']}")[1]
        seen[lease["task"]["id"] in project["golds"]].add(
            (made["status"], detail["annotations"][0]["status"], read["status"]))
    assert seen[True] and seen[False], "the annotator was served both kinds"
    assert seen[True] == seen[False]  # what they read of a gold task is what they read of any other
