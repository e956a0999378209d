"""Workforce performance: per-annotator reports from server times, leaderboards, promotion proposals, appeals and
/me/stats, on real PostgreSQL."""

import csv
import datetime as dt
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.live.groups import user_group
from apps.orgs.models import Membership
from apps.orgs.roles import Role
from apps.qa.models import AnnotatorStats, QualityScore, Suspension
from apps.qa.statistics import wilson_interval
from apps.tasks.models import Annotation, Assignment, Review, Task
from apps.workforce import performance
from apps.workforce.models import Appeal, PromotionProposal, PromotionRule
from tests.conftest import session_client, token_client
from tests.tasks.queue_support import ANSWER, annotators, make_project, next_task, submit, task_ids, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(as_role):
    return as_role(Role.MANAGER)


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def set_work_seconds(user, project, seconds: list[float]) -> None:
    """Make the server-measured lease→submit time of the user's submitted leases `seconds`, oldest first."""
    leases = list(Assignment.objects.filter(project_id=project["id"], annotator=user,
                                            status=Assignment.Status.SUBMITTED).order_by("id"))
    assert len(leases) == len(seconds)
    for lease, s in zip(leases, seconds, strict=True):
        Assignment.objects.filter(pk=lease.pk).update(leased_at=lease.ended_at - dt.timedelta(seconds=s))


def scored(user, project, passed: list[bool], *, at=None, kind="gold") -> None:
    """Gold scores for `user` (one annotation each on the project's first task) created at `at`."""
    task = Task.objects.get(pk=task_ids(project)[0])
    for ok in passed:
        annotation = Annotation.objects.create(
            organization_id=task.organization_id, project_id=task.project_id, task=task, author=user, result=ANSWER,
            schema_version=1)
        QualityScore.objects.create(
            organization_id=task.organization_id, project_id=task.project_id, task=task, annotation=annotation,
            annotator=user, kind=kind, score=1.0 if ok else 0.0, passed=ok, created_at=at or timezone.now())


def stats(tenant, user, project=None, **counters) -> AnnotatorStats:
    return AnnotatorStats.objects.create(organization=tenant.org, project_id=project and project["id"],
                                         annotator=user, **counters)


# --- performance -----------------------------------------------------------------------------------------------


def test_throughput_is_per_hour_worked_from_server_times_capped_per_task(tenant, manager):
    project = make_project(manager, tasks=4, settings={"pay": {"max_seconds_per_task": 600}})
    (member, client), = annotators(tenant, 1)
    assert len(work(client, project)) == 4
    set_work_seconds(member.user, project, [30, 60, 120, 7200])  # the last one left open for two hours

    body = manager.get(f"/api/v1/workforce/annotators/{member.pk}/performance",
                       {"project": project["id"]}).json()

    worked = 30 + 60 + 120 + 600  # capped at the project's 600 s per task, not the wall clock
    assert body["hours_worked"] == pytest.approx(worked / 3600, abs=1e-5)
    assert body["throughput_per_hour"] == pytest.approx(4 / (worked / 3600), rel=1e-3)
    assert body["annotations"] == 4
    lead = body["lead_time"]
    assert lead["count"] == 4
    assert lead["p50_ms"] == pytest.approx(90_000)  # percentile_cont between 60 s and 120 s
    assert lead["p90_ms"] == pytest.approx((120 + 0.7 * (7200 - 120)) * 1000)
    buckets = {(b["from_ms"], b["to_ms"]): b["count"] for b in lead["histogram"]}
    assert buckets[(30_000, 60_000)] == 1 and buckets[(60_000, 120_000)] == 1
    assert buckets[(120_000, 300_000)] == 1 and buckets[(1_800_000, None)] == 1
    assert sum(buckets.values()) == 4
    # The client's own lead_time_ms (1200 in every submit) is not what is measured.
    assert lead["p50_ms"] != 1200


def test_python_fallback_gives_the_same_work_numbers(tenant, manager, monkeypatch):
    project = make_project(manager, tasks=3)
    (member, client), = annotators(tenant, 1)
    work(client, project)
    set_work_seconds(member.user, project, [10, 2000, 45])
    scope = {"organization_id": tenant.org.pk, "annotator_ids": [member.user.pk], "project_id": project["id"]}
    in_sql = performance.work_summary(by="annotator", **scope)
    histogram = performance.lead_time_histogram(organization_id=tenant.org.pk, annotator_id=member.user.pk)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    in_python = performance.work_summary(by="annotator", **scope)
    assert performance.lead_time_histogram(organization_id=tenant.org.pk, annotator_id=member.user.pk) == histogram
    assert in_sql.keys() == in_python.keys() == {member.user.pk}
    for key in ("submits", "seconds", "p50_ms", "p90_ms"):
        assert in_python[member.user.pk][key] == pytest.approx(in_sql[member.user.pk][key])
    assert in_sql[member.user.pk]["seconds"] == pytest.approx(10 + 900 + 45)  # the default 900 s cap


def test_weekly_gold_trend_with_wilson_intervals_and_csv(tenant, manager):
    project = make_project(manager, tasks=1)
    (member, _), = annotators(tenant, 1)
    week_2 = dt.datetime(2025, 1, 8, 12, tzinfo=dt.UTC)  # ISO 2025-W02 (Monday the 6th)
    week_3 = dt.datetime(2025, 1, 13, 0, 30, tzinfo=dt.UTC)  # 2025-W03, just after Monday midnight
    scored(member.user, project, [True, False], at=week_2)
    scored(member.user, project, [True, True, True], at=week_3)
    scored(member.user, project, [False, False], at=week_3, kind="training")  # teaches; not counted
    url = f"/api/v1/workforce/annotators/{member.pk}/performance"

    body = manager.get(url).json()
    weeks = {w["week"]: w for w in body["weeks"] if w["gold_seen"]}
    assert set(weeks) == {"2025-W02", "2025-W03"}
    assert weeks["2025-W02"]["week_start"] == "2025-01-06"
    assert (weeks["2025-W02"]["gold_seen"], weeks["2025-W02"]["gold_correct"]) == (2, 1)
    assert weeks["2025-W02"]["accuracy_low"] == pytest.approx(wilson_interval(1, 2)[0])
    assert weeks["2025-W03"]["accuracy"] == 1.0
    assert weeks["2025-W03"]["accuracy_low"] == pytest.approx(wilson_interval(3, 3)[0])
    assert body["gold"]["gold_seen"] == 5 and body["gold"]["gold_correct"] == 4

    only_w3 = manager.get(url, {"since": "2025-01-13", "until": "2025-01-19"}).json()
    assert [w["week"] for w in only_w3["weeks"]] == ["2025-W03"] and only_w3["gold"]["gold_seen"] == 3

    rows = csv_rows(manager.get(url, {"format": "csv", "since": "2025-01-01", "until": "2025-01-31"}))
    assert [(r["week"], r["gold_seen"], r["gold_correct"]) for r in rows] == [("2025-W02", "2", "1"),
                                                                             ("2025-W03", "3", "3")]
    assert float(rows[0]["accuracy"]) == 0.5 and rows[0]["annotator"] == str(member.pk)
    assert manager.get(url, {"since": "yesterday"}).status_code == 400


def test_review_acceptance_rate_counts_accepted_and_fixed_against_rejected(tenant, manager, as_role):
    project = make_project(manager, tasks=3, settings={"review_policy": {"mode": "all", "fraction": 1}})
    (member, client), = annotators(tenant, 1)
    assert len(work(client, project)) == 3
    reviewer = as_role(Role.REVIEWER)
    review = reviewer.post(f"/api/v1/projects/{project['id']}/reviews/next")
    assert review.status_code == 200, review.content
    decided = reviewer.post(f"/api/v1/reviews/{review.json()['id']}", {"decision": "accept"}, format="json")
    assert decided.status_code == 200, decided.content
    # The other two decisions as rows (a fix, and a rejection, whose side effects belong to other areas).
    now = timezone.now()
    for annotation in Annotation.objects.filter(author=member.user, status="submitted").order_by("id"):
        decision = "fix" if not Review.objects.filter(decision="fix").exists() else "reject"
        Review.objects.create(organization=tenant.org, project_id=project["id"], annotation=annotation,
                              reviewer=tenant.user(Role.REVIEWER), status="decided", decision=decision,
                              expires_at=now, decided_at=now)
    # An undecided (leased) review does not count.
    Review.objects.create(organization=tenant.org, project_id=project["id"],
                          annotation=Annotation.objects.filter(author=member.user).first(),
                          reviewer=tenant.user(Role.MANAGER), expires_at=now + dt.timedelta(hours=1))

    review = manager.get(f"/api/v1/workforce/annotators/{member.pk}/performance").json()["review"]
    assert review == {"decided": 3, "accepted": 1, "fixed": 1, "rejected": 1, "acceptance_rate": pytest.approx(2 / 3)}
    # The reviewer's own numbers are about the work they authored, not the reviews they made.
    reviewer_member = tenant.member(Role.REVIEWER)
    assert manager.get(f"/api/v1/workforce/annotators/{reviewer_member.pk}/performance").json()["review"][
        "decided"] == 0


# --- leaderboard -----------------------------------------------------------------------------------------------


def test_leaderboard_order_min_golds_metrics_and_csv(tenant, manager, as_role, django_assert_max_num_queries):
    project = make_project(manager, tasks=1)
    (a, _), (b, _), (c, _) = annotators(tenant, 3)
    scored(a.user, project, [True] * 11 + [False])  # 11/12
    scored(b.user, project, [True] * 20)  # 20/20
    scored(c.user, project, [True] * 5)  # 5/5: too few golds by default
    stats(tenant, a.user, project, consensus_seen=10, consensus_agreed=9)
    stats(tenant, b.user, project, consensus_seen=10, consensus_agreed=5)
    stats(tenant, c.user, project)
    url = f"/api/v1/projects/{project['id']}/leaderboard"

    with django_assert_max_num_queries(14):
        rows = manager.get(url).json()["results"]
    assert [(r["rank"], r["annotator"]) for r in rows] == [(1, b.pk), (2, a.pk)]
    assert rows[1]["accuracy"] == pytest.approx(11 / 12) and rows[1]["gold_seen"] == 12

    rows = manager.get(url, {"min_golds": 0}).json()["results"]
    assert [r["annotator"] for r in rows] == [b.pk, c.pk, a.pk]  # ties on accuracy: more golds first

    rows = as_role(Role.VIEWER).get(url, {"by": "agreement"}).json()["results"]
    assert [r["annotator"] for r in rows] == [a.pk, b.pk, c.pk]  # no consensus yet: last
    assert rows[0]["agreement"] == pytest.approx(0.9) and rows[2]["agreement"] is None

    rows = manager.get(url, {"by": "annotations"}).json()["results"]
    assert [r["annotator"] for r in rows] == [b.pk, a.pk, c.pk]

    parsed = csv_rows(manager.get(url, {"format": "csv"}))
    assert [int(r["annotator"]) for r in parsed] == [b.pk, a.pk]
    assert parsed[0]["rank"] == "1" and float(parsed[1]["accuracy"]) == pytest.approx(11 / 12)
    assert manager.get(url, {"by": "shoe_size"}).status_code == 400


def test_leaderboard_by_throughput(tenant, manager):
    project = make_project(manager, tasks=4)
    (fast, fast_client), (slow, slow_client) = annotators(tenant, 2)
    for client in (fast_client, slow_client):
        for _ in range(2):
            assert submit(client, next_task(client, project).json()).status_code == 201
    set_work_seconds(fast.user, project, [30, 30])
    set_work_seconds(slow.user, project, [300, 300])
    rows = manager.get(f"/api/v1/projects/{project['id']}/leaderboard", {"by": "throughput"}).json()["results"]
    assert [r["annotator"] for r in rows] == [fast.pk, slow.pk]
    assert rows[0]["throughput_per_hour"] == pytest.approx(120) and rows[1]["throughput_per_hour"] == pytest.approx(12)


# --- promotion -------------------------------------------------------------------------------------------------


def test_promotion_proposes_by_wilson_lower_bound_not_raw_accuracy(tenant, manager):
    (lucky, _), (steady, _), (middling, _) = annotators(tenant, 3)
    (senior, _), = annotators(tenant, 1, role=Role.REVIEWER)
    stats(tenant, lucky.user, gold_seen=10, gold_correct=10)  # 100 %, but lower bound 0.72
    stats(tenant, steady.user, gold_seen=200, gold_correct=190)  # 95 %, lower bound 0.91
    stats(tenant, middling.user, gold_seen=200, gold_correct=150)
    stats(tenant, senior.user, gold_seen=500, gold_correct=500)  # already a reviewer: not a candidate
    created = manager.post("/api/v1/workforce/promotion-rules",
                           {"project": None, "top_fraction": 0.3, "min_golds": 10, "min_accuracy": 0.9},
                           format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["project"] is None and rule["top_fraction"] == 0.3

    ran = manager.post(f"/api/v1/workforce/promotion-rules/{rule['id']}/run")
    assert ran.status_code == 200
    assert [p["annotator"] for p in ran.json()["created"]] == [steady.pk]
    proposal = ran.json()["created"][0]
    assert proposal["evidence"]["gold_seen"] == 200 and proposal["status"] == "proposed"
    assert proposal["evidence"]["accuracy_low"] == pytest.approx(wilson_interval(190, 200)[0])

    # Run again: the open proposal is not repeated, and the database refuses a second one anyway.
    assert manager.post(f"/api/v1/workforce/promotion-rules/{rule['id']}/run").json()["created"] == []
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionProposal.objects.create(organization=tenant.org, annotator=steady.user, reason="again")
    # The beat task runs every active rule, and is idempotent too.
    assert performance.promotions_propose_all() == 0
    assert AuditEvent.objects.filter(organization=tenant.org, action="promotion.propose").count() == 1

    listed = manager.get("/api/v1/workforce/promotions", {"status": "proposed"}).json()["results"]
    assert [p["id"] for p in listed] == [proposal["id"]]


def test_min_golds_and_min_accuracy_hold_back_candidates(tenant):
    (few, _), (weak, _) = annotators(tenant, 2)
    stats(tenant, few.user, gold_seen=50, gold_correct=50)
    stats(tenant, weak.user, gold_seen=300, gold_correct=210)  # 70 %
    rule = PromotionRule.objects.create(organization=tenant.org, top_fraction=1.0, min_golds=200, min_accuracy=0.9)
    assert performance.promotion_run(rule=rule) == []
    rule.min_accuracy = 0.6
    rule.save()
    assert [p.annotator_id for p in performance.promotion_run(rule=rule)] == [weak.user.pk]


def test_confirm_makes_a_reviewer_who_can_then_review(tenant, manager):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all", "fraction": 1}})
    (worker, worker_client), (candidate, _) = annotators(tenant, 2)
    work(worker_client, project)  # something to review
    stats(tenant, candidate.user, gold_seen=300, gold_correct=299)
    rule = PromotionRule.objects.create(organization=tenant.org, top_fraction=1.0, min_golds=200)
    proposal, = performance.promotion_run(rule=rule)
    as_candidate = session_client(candidate.user)
    assert as_candidate.post(f"/api/v1/projects/{project['id']}/reviews/next").status_code == 403

    confirmed = manager.post(f"/api/v1/workforce/promotions/{proposal.pk}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["decided_by"] == tenant.member(Role.MANAGER).pk
    assert Membership.objects.get(pk=candidate.pk).role == Role.REVIEWER
    assert AuditEvent.objects.filter(organization=tenant.org, action="member.role_change",
                                     object_id=str(candidate.pk)).exists()
    assert AuditEvent.objects.filter(action="promotion.confirm", object_id=str(proposal.pk)).exists()
    review = as_candidate.post(f"/api/v1/projects/{project['id']}/reviews/next")
    assert review.status_code == 200, review.content
    assert manager.post(f"/api/v1/workforce/promotions/{proposal.pk}/confirm").status_code == 409
    assert manager.post(f"/api/v1/workforce/promotions/{proposal.pk}/dismiss").status_code == 409


def test_dismissed_proposal_is_not_made_again_soon(tenant, manager):
    (candidate, _), = annotators(tenant, 1)
    stats(tenant, candidate.user, gold_seen=300, gold_correct=299)
    rule = PromotionRule.objects.create(organization=tenant.org, top_fraction=1.0, min_golds=200)
    proposal, = performance.promotion_run(rule=rule)
    dismissed = manager.post(f"/api/v1/workforce/promotions/{proposal.pk}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert Membership.objects.get(pk=candidate.pk).role == Role.ANNOTATOR
    assert performance.promotion_run(rule=rule) == []
    PromotionProposal.objects.filter(pk=proposal.pk).update(decided_at=timezone.now() - dt.timedelta(days=31))
    assert len(performance.promotion_run(rule=rule)) == 1


# --- appeals ---------------------------------------------------------------------------------------------------


def suspend(manager, project, member) -> int:
    response = manager.post(f"/api/v1/projects/{project['id']}/suspensions",
                            {"annotator": member.pk, "kind": "suspend", "reason": "too fast",
                             "until": (timezone.now() + dt.timedelta(days=1)).isoformat()}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_appeal_granted_lifts_the_suspension_and_tells_the_annotator(
        tenant, manager, settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_SEND_IN_BACKGROUND = False
    from channels.layers import get_channel_layer

    project = make_project(manager, tasks=2)
    (member, client), (other, other_client) = annotators(tenant, 2)
    suspension_id = suspend(manager, project, member)
    refused = next_task(client, project)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "suspended"

    assert other_client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "mine?"},
                             format="json").status_code == 404
    made = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "I read carefully"},
                       format="json")
    assert made.status_code == 201, made.content
    appeal = made.json()
    assert appeal["status"] == "open" and appeal["against"]["reason"] == "too fast"
    assert appeal["annotator"] == member.pk
    again = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    assert [a["id"] for a in client.get("/api/v1/me/appeals").json()["results"]] == [appeal["id"]]
    assert other_client.get("/api/v1/me/appeals").json()["results"] == []
    assert [a["id"] for a in manager.get("/api/v1/workforce/appeals", {"status": "open"}).json()["results"]] == [
        appeal["id"]]

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(member.user.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        decided = manager.post(f"/api/v1/workforce/appeals/{appeal['id']}/decide",
                               {"decision": "grant", "response": "fair enough"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "granted" and decided.json()["decided_by"] == tenant.member(Role.MANAGER).pk
    message = async_to_sync(layer.receive)(channel)["payload"]
    assert message == {"type": "appeal.decided", "appeal": appeal["id"], "suspension": suspension_id,
                       "decision": "grant", "status": "granted", "response": "fair enough"}
    assert Suspension.objects.get(pk=suspension_id).lifted_at is not None
    assert AuditEvent.objects.filter(action="suspension.lift", object_id=str(suspension_id)).exists()
    assert AuditEvent.objects.filter(action="appeal.decide", object_id=str(appeal["id"])).exists()
    assert next_task(client, project).status_code == 200  # working again
    assert manager.get("/api/v1/workforce/appeals", {"status": "open"}).json()["results"] == []
    assert manager.post(f"/api/v1/workforce/appeals/{appeal['id']}/decide", {"decision": "deny"},
                        format="json").status_code == 409
    # The suspension is no longer in effect: nothing to appeal.
    lifted = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "x"}, format="json")
    assert lifted.status_code == 400


def test_appeal_denied_keeps_the_suspension_and_csv_lists(tenant, manager):
    project = make_project(manager, tasks=1)
    (member, client), = annotators(tenant, 1)
    suspension_id = suspend(manager, project, member)
    appeal = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "=cmd|calc"},
                         format="json").json()
    denied = manager.post(f"/api/v1/workforce/appeals/{appeal['id']}/decide", {"decision": "deny", "response": "no"},
                          format="json")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert Suspension.objects.get(pk=suspension_id).lifted_at is None
    assert next_task(client, project).status_code == 403
    rows = csv_rows(manager.get("/api/v1/workforce/appeals", {"format": "csv"}))
    assert rows[0]["status"] == "denied" and rows[0]["message"] == "'=cmd|calc"  # formula defused
    assert json.loads(rows[0]["against"])["reason"] == "too fast"
    # Once denied, a new appeal against the same suspension may be made.
    assert client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "please"},
                       format="json").status_code == 201
    assert Appeal.objects.filter(suspension_id=suspension_id).count() == 2


# --- /me/stats -------------------------------------------------------------------------------------------------


def test_me_stats_are_the_callers_own_and_show_no_gold_answers(tenant, manager):
    project = make_project(manager, tasks=4)
    Task.objects.filter(pk=task_ids(project)[0]).update(
        gold_result=[{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["secret"]}}])
    (me, my_client), (other, other_client) = annotators(tenant, 2)
    for _ in range(3):
        assert submit(my_client, next_task(my_client, project).json()).status_code == 201
    assert submit(other_client, next_task(other_client, project).json()).status_code == 201
    set_work_seconds(me.user, project, [60, 60, 60])
    yesterday = timezone.now() - dt.timedelta(days=1)
    scored(me.user, project, [True, False], at=yesterday)
    scored(me.user, project, [True])  # today's check: not shown yet, or the annotator could tell the gold task
    scored(other.user, project, [True] * 7, at=yesterday)

    response = my_client.get("/api/v1/me/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["annotator"] == me.pk
    overall = body["overall"]
    assert overall["hours_worked"] == pytest.approx(180 / 3600, abs=1e-5)
    assert overall["throughput_per_hour"] == pytest.approx(60)
    assert overall["quality"]["gold_seen"] == 2 and overall["quality"]["gold_correct"] == 1
    assert "gold" not in overall and all("gold_seen" not in week for week in overall["weeks"])
    mine, = body["projects"]
    assert mine["project"] == project["id"] and mine["annotations"] == 3 and mine["quality"]["gold_seen"] == 2
    text = response.content.decode()
    assert "secret" not in text and '"result"' not in text and str(other.pk) not in json.dumps(body["projects"])
    assert other_client.get("/api/v1/me/stats").json()["overall"]["quality"]["gold_seen"] == 7


# --- tenancy and roles -----------------------------------------------------------------------------------------


def test_other_tenants_objects_are_404(tenant, other_tenant, manager):
    project = make_project(manager, tasks=1)
    (member, client), = annotators(tenant, 1)
    suspension_id = suspend(manager, project, member)
    appeal = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "m"}, format="json").json()
    stats(tenant, member.user, gold_seen=300, gold_correct=300)
    rule = PromotionRule.objects.create(organization=tenant.org, top_fraction=1.0, min_golds=200)
    proposal, = performance.promotion_run(rule=rule)
    outsider = token_client(other_tenant.secrets[str(Role.MANAGER)])
    outsider_annotator = token_client(other_tenant.secrets[str(Role.ANNOTATOR)])

    assert outsider.get(f"/api/v1/workforce/annotators/{member.pk}/performance").status_code == 404
    assert manager.get(f"/api/v1/workforce/annotators/{member.pk}/performance",
                       {"project": 10**12}).status_code == 404
    assert outsider.get(f"/api/v1/projects/{project['id']}/leaderboard").status_code == 404
    assert outsider.post(f"/api/v1/workforce/promotion-rules/{rule.pk}/run").status_code == 404
    assert outsider.post(f"/api/v1/workforce/promotions/{proposal.pk}/confirm").status_code == 404
    assert outsider.post(f"/api/v1/workforce/promotions/{proposal.pk}/dismiss").status_code == 404
    assert outsider.post(f"/api/v1/workforce/appeals/{appeal['id']}/decide", {"decision": "grant"},
                         format="json").status_code == 404
    assert outsider_annotator.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "m"},
                                   format="json").status_code == 404
    assert outsider.get("/api/v1/workforce/promotions").json()["results"] == []
    assert outsider.get("/api/v1/workforce/appeals").json()["results"] == []
    assert outsider.get("/api/v1/workforce/promotion-rules").json()["results"] == []
    project_elsewhere = outsider.post("/api/v1/workforce/promotion-rules", {"project": project["id"]}, format="json")
    assert project_elsewhere.status_code == 400 and "project" in project_elsewhere.json()["error"]["details"]
    assert Membership.objects.get(pk=member.pk).role == Role.ANNOTATOR


M, R = "manager-only", "readers"
ALLOWED = {M: {Role.OWNER, Role.MANAGER}, R: {Role.OWNER, Role.MANAGER, Role.VIEWER}, "all": set(Role.values)}
ROUTES = [
    ("GET", "/api/v1/workforce/annotators/{member}/performance", M),
    ("GET", "/api/v1/workforce/annotators/{member}/performance?format=csv", M),
    ("GET", "/api/v1/projects/{project}/leaderboard", R),
    ("GET", "/api/v1/workforce/promotion-rules", M),
    ("POST", "/api/v1/workforce/promotion-rules", M),
    ("POST", "/api/v1/workforce/promotion-rules/{rule}/run", M),
    ("GET", "/api/v1/workforce/promotions", M),
    ("POST", "/api/v1/workforce/promotions/{proposal}/dismiss", M),
    ("GET", "/api/v1/workforce/appeals", M),
    ("POST", "/api/v1/workforce/appeals/{appeal}/decide", M),
    ("GET", "/api/v1/me/stats", "all"),
    ("GET", "/api/v1/me/appeals", "all"),
]
CASES = [(method, route, role, role in ALLOWED[who]) for method, route, who in ROUTES for role in Role.values]


@pytest.mark.parametrize(("method", "route", "role", "allowed"), CASES)
def test_role_table(tenant, as_role, method, route, role, allowed):
    manager = as_role(Role.MANAGER)
    project = make_project(manager, tasks=1)
    (member, client), = annotators(tenant, 1)
    suspension_id = suspend(manager, project, member)
    appeal = client.post("/api/v1/me/appeals", {"suspension": suspension_id, "message": "m"}, format="json").json()
    stats(tenant, member.user, gold_seen=300, gold_correct=300)
    rule = PromotionRule.objects.create(organization=tenant.org, top_fraction=1.0, min_golds=200)
    proposal, = performance.promotion_run(rule=rule)
    url = route.format(member=member.pk, project=project["id"], rule=rule.pk, proposal=proposal.pk,
                       appeal=appeal["id"])
    body = {"decision": "deny"} if "decide" in url else {"top_fraction": 0.2} if url.endswith("rules") else None
    response = as_role(role).generic(method, url, json.dumps(body) if body else "", content_type="application/json")
    if allowed:
        assert response.status_code in (200, 201), (role, url, response.content)
    else:
        assert response.status_code == 403, (role, url, response.content)
        assert json.loads(response.content)["error"]["code"] == "permission_denied"
