"""Pay: accruals on accepted work, reversals, bonuses and bonus rules, the ledger, statements and own earnings."""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.qa.models import AnnotatorStats
from apps.tasks import signals
from apps.tasks.models import Annotation, Assignment, Review, Task
from apps.workforce.models import BonusRule, LedgerEntry
from apps.workforce.pay import bonus_rule_run, rule_period
from apps.workforce.pay_tasks import pay_bonuses_task
from tests.conftest import make_tenant, token_client
from tests.tasks.queue_support import annotators, make_project, next_task, submit

PAY = {"per_submitted": "0.01", "per_accepted": "0.05", "per_hour": "0.00", "currency": "EUR"}


@pytest.fixture
def manager(as_role):
    return as_role("manager")


def pay_project(manager, *, tasks=3, review="none", **pay):
    return make_project(manager, tasks=tasks, settings={"pay": {**PAY, **pay}, "review_policy": {"mode": review}})


def lease(client, project):
    response = next_task(client, project)
    assert response.status_code == 200, response.content
    return response.json()


def do_one(client, project, **extra):
    leased = lease(client, project)
    response = submit(client, leased, **extra)
    assert response.status_code == 201, response.content
    return response.json()


def entries(annotation_id) -> dict[str, Decimal]:
    return dict(LedgerEntry.objects.filter(annotation_id=annotation_id).values_list("kind", "amount"))


def all_pages(client, url) -> list[dict]:
    out = []
    while url:
        body = client.get(url).json()
        out.extend(body["results"])
        url = body["next"]
    return out


# --- accrual -------------------------------------------------------------------------------------------------

def test_without_review_submit_pays_submitted_and_accepted_in_the_project_currency(tenant, manager, as_role):
    project = pay_project(manager)
    annotation = do_one(as_role("annotator"), project)
    assert Annotation.objects.get(pk=annotation["id"]).status == "accepted"
    assert entries(annotation["id"]) == {"submitted": Decimal("0.0100"), "accepted": Decimal("0.0500")}
    rows = LedgerEntry.objects.filter(annotation_id=annotation["id"])
    assert {r.currency for r in rows} == {"EUR"}
    assert {r.annotator_id for r in rows} == {tenant.user("annotator").pk}
    assert {r.project_id for r in rows} == {project["id"]}


def test_with_review_accept_and_fix_pay_accepted_and_reject_does_not(tenant, manager, as_role):
    project = pay_project(manager, review="all")
    (_, alice), (_, bob), (_, carol) = annotators(tenant, 3)
    made = [do_one(client, project)["id"] for client in (alice, bob, carol)]
    for annotation_id in made:  # waiting for review: only the per-submitted pay so far
        assert entries(annotation_id) == {"submitted": Decimal("0.0100")}
    reviewer = as_role("reviewer")
    decisions = {}
    for decision in ("accept", "reject", "fix"):
        review = reviewer.post(f"/api/v1/projects/{project['id']}/reviews/next").json()
        body = {"decision": decision}
        if decision == "fix":
            body["result"] = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]
        assert reviewer.post(f"/api/v1/reviews/{review['id']}", body, format="json").status_code == 200
        decisions[decision] = review["annotation"]["id"]
    assert entries(decisions["accept"]) == {"submitted": Decimal("0.0100"), "accepted": Decimal("0.0500")}
    assert entries(decisions["fix"]) == {"submitted": Decimal("0.0100"), "accepted": Decimal("0.0500")}
    assert entries(decisions["reject"]) == {"submitted": Decimal("0.0100")}  # unpaid beyond the submission
    assert not LedgerEntry.objects.filter(kind="reversal").exists()


def test_a_replayed_submit_or_resent_signal_never_pays_twice(tenant, manager, as_role):
    project = pay_project(manager, per_hour="3.60")
    client = as_role("annotator")
    leased = lease(client, project)
    first = submit(client, leased, HTTP_IDEMPOTENCY_KEY="k-1")
    again = submit(client, leased, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    annotation = Annotation.objects.get(pk=first.json()["id"])
    assignment = Assignment.objects.get(annotation=annotation)
    before = LedgerEntry.objects.count()
    assert before == 2  # submitted + accepted (a sub-second lease earns no hourly cent)
    with transaction.atomic():
        signals.annotation_submitted.send(sender=Annotation, annotation=annotation, assignment=assignment,
                                          actor=annotation.author)
        review = Review.objects.create(organization=tenant.org, project_id=project["id"], annotation=annotation,
                                       reviewer=tenant.user("reviewer"), expires_at=timezone.now())
        signals.review_decided.send(sender=Review, review=review, annotation=annotation, decision="accept")
    assert LedgerEntry.objects.count() == before


def test_hourly_pay_is_server_measured_from_the_lease_and_capped(tenant, manager, as_role):
    project = pay_project(manager, per_submitted="0.00", per_accepted="0.00", per_hour="3.60")
    capped = pay_project(manager, per_submitted="0.00", per_accepted="0.00", per_hour="3.60",
                         max_seconds_per_task=300)
    client = as_role("annotator")
    results = []
    for p in (project, capped):
        leased = lease(client, p)
        Assignment.objects.filter(pk=leased["assignment"]["id"]).update(
            leased_at=timezone.now() - timedelta(minutes=10))
        # The client claims 10 hours: ignored.
        response = client.post(f"/api/v1/assignments/{leased['assignment']['id']}/submit",
                               {"result": [{"from_name": "s", "to_name": "text", "type": "choices",
                                            "value": {"choices": ["a"]}}], "lead_time_ms": 36_000_000},
                               format="json")
        assert response.status_code == 201
        results.append(entries(response.json()["id"]))
    assert results[0] == {"hourly": Decimal("0.6000")}  # 3.60/h × 600 s
    assert results[1] == {"hourly": Decimal("0.3000")}  # capped at 300 s


def test_with_review_hourly_is_paid_on_acceptance(tenant, manager, as_role):
    project = pay_project(manager, review="all", per_hour="3.60")
    client = as_role("annotator")
    leased = lease(client, project)
    Assignment.objects.filter(pk=leased["assignment"]["id"]).update(leased_at=timezone.now() - timedelta(minutes=10))
    annotation_id = submit(client, leased).json()["id"]
    assert entries(annotation_id) == {"submitted": Decimal("0.0100")}
    reviewer = as_role("reviewer")
    review = reviewer.post(f"/api/v1/projects/{project['id']}/reviews/next").json()
    reviewer.post(f"/api/v1/reviews/{review['id']}", {"decision": "accept"}, format="json")
    assert entries(annotation_id) == {"submitted": Decimal("0.0100"), "accepted": Decimal("0.0500"),
                                      "hourly": Decimal("0.6000")}


@pytest.mark.parametrize(("kind", "paid"), [("training", False), ("gold", True), ("exam", True)])
def test_training_is_never_paid_gold_and_exam_are_paid_like_work(tenant, manager, as_role, kind, paid):
    project = pay_project(manager, tasks=1)
    task = Task.objects.get(project_id=project["id"])
    annotator = tenant.user("annotator")
    now = timezone.now()
    assignment = Assignment.objects.create(organization=tenant.org, project_id=project["id"], task=task,
                                           annotator=annotator, kind=kind, status="active", leased_at=now,
                                           expires_at=now + timedelta(hours=1))
    response = submit(as_role("annotator"), {"assignment": {"id": assignment.pk}})
    assert response.status_code == 201, response.content
    expected = {"submitted": Decimal("0.0100"), "accepted": Decimal("0.0500")} if paid else {}
    assert entries(response.json()["id"]) == expected


def test_annotations_attached_outside_the_queue_are_not_paid(tenant, manager):
    project = pay_project(manager, tasks=1)
    task = Task.objects.get(project_id=project["id"])
    response = manager.post(f"/api/v1/tasks/{task.pk}/annotations",
                            {"result": [{"from_name": "s", "to_name": "text", "type": "choices",
                                         "value": {"choices": ["a"]}}]}, format="json")
    assert response.status_code == 201
    assert entries(response.json()["id"]) == {}


def test_rejecting_accepted_work_reverses_accepted_and_hourly_once(tenant, manager, as_role):
    project = pay_project(manager, per_hour="3.60")
    client = as_role("annotator")
    leased = lease(client, project)
    Assignment.objects.filter(pk=leased["assignment"]["id"]).update(leased_at=timezone.now() - timedelta(minutes=10))
    annotation = Annotation.objects.get(pk=submit(client, leased).json()["id"])
    review = Review.objects.create(organization=tenant.org, project_id=project["id"], annotation=annotation,
                                   reviewer=tenant.user("reviewer"), expires_at=timezone.now())
    for _ in range(2):  # a re-sent rejection reverses nothing twice
        with transaction.atomic():
            signals.review_decided.send(sender=Review, review=review, annotation=annotation, decision="reject")
    rows = list(LedgerEntry.objects.filter(annotation=annotation).order_by("id"))
    reversals = [r for r in rows if r.kind == "reversal"]
    assert sorted(r.amount for r in reversals) == [Decimal("-0.6000"), Decimal("-0.0500")]
    assert {r.reverses.kind for r in reversals} == {"accepted", "hourly"}
    net = sum(r.amount for r in rows)
    assert net == Decimal("0.0100")  # the submission's pay stays


def test_zero_rates_make_no_entries(tenant, manager, as_role):
    project = pay_project(manager, per_submitted="0.00", per_accepted="0.00")
    assert entries(do_one(as_role("annotator"), project)["id"]) == {}


def test_the_database_refuses_update_and_delete_of_entries(tenant, manager, as_role):
    project = pay_project(manager)
    annotation = do_one(as_role("annotator"), project)
    entry = LedgerEntry.objects.filter(annotation_id=annotation["id"]).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("100"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("0.0100")


# --- manual reversal and bonuses ------------------------------------------------------------------------------

def test_a_manager_reverses_an_entry_once(tenant, manager, as_role):
    project = pay_project(manager)
    annotation = do_one(as_role("annotator"), project)
    entry = LedgerEntry.objects.get(annotation_id=annotation["id"], kind="accepted")
    response = manager.post(f"/api/v1/workforce/ledger/{entry.pk}/reverse", {"reason": "duplicate task"},
                            format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["kind"], body["reverses"], body["note"]) == ("-0.0500", "reversal", entry.pk,
                                                                             "duplicate task")
    assert body["annotator"] == tenant.member("annotator").pk
    again = manager.post(f"/api/v1/workforce/ledger/{entry.pk}/reverse", {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    of_reversal = manager.post(f"/api/v1/workforce/ledger/{body['id']}/reverse", {"reason": "x"}, format="json")
    assert of_reversal.status_code == 400
    assert manager.post(f"/api/v1/workforce/ledger/{entry.pk}/reverse", {}, format="json").status_code in (400, 409)
    listed = manager.get(f"/api/v1/workforce/ledger?kind=accepted&annotator={tenant.member('annotator').pk}")
    assert listed.json()["results"][0]["reversed_by"] == body["id"]
    assert AuditEvent.objects.filter(action="ledger.reverse", object_id=str(body["id"])).exists()


def test_manual_bonus_and_its_validation(tenant, other_tenant, manager):
    member = tenant.member("annotator")
    project = pay_project(manager)
    ok = manager.post("/api/v1/workforce/bonuses", {"annotator": member.pk, "amount": "5.00", "note": "thanks",
                                                    "project": project["id"]}, format="json")
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert (body["amount"], body["currency"], body["kind"], body["annotator"]) == ("5.0000", "EUR", "bonus",
                                                                                   member.pk)
    usd = manager.post("/api/v1/workforce/bonuses", {"annotator": member.pk, "amount": "1.5", "currency": "GBP"},
                       format="json")
    assert usd.status_code == 201 and usd.json()["currency"] == "GBP"
    assert AuditEvent.objects.filter(action="ledger.bonus").count() == 2
    for bad in ({"amount": "-5.00"}, {"amount": "0"}, {"amount": 5.0}, {"amount": "five"}, {"amount": "1.00001"},
                {"amount": "NaN"}, {"amount": "1e3"}, {"amount": "5.00", "currency": "usd"},
                {"amount": "5.00", "currency": "DOLLAR"}, {"annotator": "x", "amount": "5"}):
        response = manager.post("/api/v1/workforce/bonuses", {"annotator": member.pk, **bad}, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"]["code"] == "validation_error"
    other_member = other_tenant.member("annotator")
    assert manager.post("/api/v1/workforce/bonuses", {"annotator": other_member.pk, "amount": "5"},
                        format="json").status_code == 404
    other_project = make_project(token_client(other_tenant.secrets["manager"]), tasks=0)
    assert manager.post("/api/v1/workforce/bonuses", {"annotator": member.pk, "amount": "5",
                                                      "project": other_project["id"]}, format="json").status_code == 404
    assert LedgerEntry.objects.filter(kind="bonus").count() == 2


# --- bonus rules -----------------------------------------------------------------------------------------------

def _stats(tenant, project_id, user, *, seen, correct):
    AnnotatorStats.objects.update_or_create(organization=tenant.org, project_id=project_id, annotator=user,
                                            defaults={"gold_seen": seen, "gold_correct": correct})


def test_a_bonus_rule_pays_once_per_annotator_and_period(tenant, manager, as_role):
    project = pay_project(manager, tasks=5, per_submitted="0.00", per_accepted="0.00")
    (good_member, good), (weak_member, weak), (idle_member, _) = annotators(tenant, 3)
    do_one(good, project)
    do_one(weak, project)
    _stats(tenant, project["id"], good_member.user, seen=25, correct=24)
    _stats(tenant, project["id"], weak_member.user, seen=25, correct=10)
    _stats(tenant, project["id"], idle_member.user, seen=25, correct=25)  # good, but did no work this period
    created = manager.post("/api/v1/workforce/bonus-rules", {"project": project["id"], "metric": "gold_accuracy",
                                                             "threshold": 0.9, "min_samples": 20, "amount": "2.50",
                                                             "period_days": 7}, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["amount"] == "2.5000"
    run = manager.post(f"/api/v1/workforce/bonus-rules/{rule['id']}/run")
    assert run.status_code == 200, run.content
    paid = run.json()["paid"]
    assert [(p["annotator"], p["amount"], p["currency"]) for p in paid] == [(good_member.pk, "2.5000", "EUR")]
    assert manager.post(f"/api/v1/workforce/bonus-rules/{rule['id']}/run").json()["paid"] == []
    assert pay_bonuses_task() == 0  # the periodic task: nothing twice either
    assert LedgerEntry.objects.filter(kind="bonus").count() == 1
    # The next period: paid again, once, for work done in it.
    obj = BonusRule.objects.get(pk=rule["id"])
    _, end = rule_period(obj, timezone.now())
    later = end + timedelta(hours=1)
    Annotation.objects.filter(author=good_member.user).update(created_at=later)
    assert len(bonus_rule_run(rule=obj, now=later)) == 1
    assert len(bonus_rule_run(rule=obj, now=later + timedelta(minutes=5))) == 0
    notes = list(LedgerEntry.objects.filter(kind="bonus").order_by("id").values_list("note", flat=True))
    assert len(set(notes)) == 2 and all(n.startswith(f"bonus rule {rule['id']} period ") for n in notes)
    assert AuditEvent.objects.filter(action="bonus_rule.run").exists()


def test_bonus_rule_crud_validation_and_the_periodic_task(tenant, manager, as_role):
    project = pay_project(manager, per_submitted="0.00", per_accepted="0.00")
    base = {"project": project["id"], "metric": "consensus_agreement", "threshold": 0.8, "amount": "1.00"}
    for bad in ({"threshold": 2}, {"amount": "-1"}, {"amount": 1}, {"metric": "speed"}, {"period_days": 0}):
        response = manager.post("/api/v1/workforce/bonus-rules", {**base, **bad}, format="json")
        assert response.status_code == 400, (bad, response.content)
    rule = manager.post("/api/v1/workforce/bonus-rules", base, format="json").json()
    assert manager.get("/api/v1/workforce/bonus-rules").json()["results"][0]["id"] == rule["id"]
    patched = manager.patch(f"/api/v1/workforce/bonus-rules/{rule['id']}", {"min_samples": 1, "amount": "0.75"},
                            format="json")
    assert patched.status_code == 200 and patched.json()["amount"] == "0.7500"
    assert manager.patch(f"/api/v1/workforce/bonus-rules/{rule['id']}", {"threshold": -1},
                         format="json").status_code == 400
    member, client = annotators(tenant, 1)[0]
    do_one(client, project)
    AnnotatorStats.objects.update_or_create(organization=tenant.org, project_id=project["id"], annotator=member.user,
                                            defaults={"consensus_seen": 4, "consensus_agreed": 4})
    assert pay_bonuses_task() == 1
    assert pay_bonuses_task() == 0
    assert LedgerEntry.objects.get(kind="bonus").amount == Decimal("0.7500")
    manager.patch(f"/api/v1/workforce/bonus-rules/{rule['id']}", {"active": False}, format="json")
    assert manager.post(f"/api/v1/workforce/bonus-rules/{rule['id']}/run").status_code == 400
    assert manager.delete(f"/api/v1/workforce/bonus-rules/{rule['id']}").status_code == 204
    assert not BonusRule.objects.filter(pk=rule["id"]).exists()
    assert LedgerEntry.objects.filter(kind="bonus").count() == 1  # what it paid stays
    assert {"bonus_rule.create", "bonus_rule.update", "bonus_rule.delete"} <= set(
        AuditEvent.objects.values_list("action", flat=True))


# --- ledger, statements, CSV, earnings ----------------------------------------------------------------------------

def _mixed_ledger(tenant, manager):
    project = pay_project(manager, tasks=6, per_hour="3.60")
    crowd = annotators(tenant, 2)
    for _, client in crowd:
        for _ in range(2):
            leased = lease(client, project)
            Assignment.objects.filter(pk=leased["assignment"]["id"]).update(
                leased_at=timezone.now() - timedelta(seconds=77))
            assert submit(client, leased).status_code == 201
    manager.post("/api/v1/workforce/bonuses", {"annotator": crowd[0][0].pk, "amount": "3.3333"}, format="json")
    accepted = LedgerEntry.objects.filter(kind="accepted", annotator=crowd[1][0].user).first()
    manager.post(f"/api/v1/workforce/ledger/{accepted.pk}/reverse", {"reason": "spam"}, format="json")
    return project, crowd


def test_statement_totals_equal_the_sum_of_the_ledger_entries(tenant, manager):
    _, crowd = _mixed_ledger(tenant, manager)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    until = (timezone.now() + timedelta(days=1)).isoformat()
    period = urlencode({"since": since, "until": until})
    ledger = all_pages(manager, f"/api/v1/workforce/ledger?page_size=3&{period}")
    assert len(ledger) == LedgerEntry.objects.count() == 2 * 2 * 3 + 1 + 1
    recomputed: dict = {}
    for e in ledger:
        line = recomputed.setdefault((e["annotator"], e["currency"]), {})
        line[e["kind"]] = line.get(e["kind"], Decimal(0)) + Decimal(e["amount"])
        line["net"] = line.get("net", Decimal(0)) + Decimal(e["amount"])
    response = manager.get("/api/v1/workforce/statements", {"since": since, "until": until})
    assert response.status_code == 200, response.content
    statements = response.json()["results"]
    assert {(s["annotator"], s["currency"]) for s in statements} == set(recomputed)
    for s in statements:
        expected = recomputed[(s["annotator"], s["currency"])]
        for kind in ("submitted", "accepted", "hourly", "bonus", "reversal", "net"):
            assert Decimal(s[kind]) == expected.get(kind, Decimal(0)), (s, kind)
    first = next(s for s in statements if s["annotator"] == crowd[0][0].pk and s["currency"] == "USD")
    assert first["net"] == "3.3333" and first["bonus"] == "3.3333"
    # hourly: 3.60/h × 77 s = 0.0770 a task
    second = next(s for s in statements if s["annotator"] == crowd[1][0].pk)
    assert (second["hourly"], second["accepted"], second["reversal"]) == ("0.1540", "0.1000", "-0.0500")
    # An empty period has no lines; a backwards one is a 400.
    past = (timezone.now() - timedelta(days=30)).isoformat()
    assert manager.get("/api/v1/workforce/statements", {"since": past, "until": since}).json()["results"] == []
    assert manager.get("/api/v1/workforce/statements", {"since": until, "until": since}).status_code == 400
    assert manager.get("/api/v1/workforce/statements", {"since": "yesterday"}).status_code == 400


def test_payout_and_ledger_csv_parse_back(tenant, manager):
    _, crowd = _mixed_ledger(tenant, manager)
    response = manager.get("/api/v1/workforce/statements?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    json_rows = manager.get("/api/v1/workforce/statements").json()["results"]
    assert len(rows) == len(json_rows) == 3
    for row, expected in zip(rows, json_rows, strict=True):
        assert int(row["annotator"]) == expected["annotator"]
        for kind in ("submitted", "accepted", "hourly", "bonus", "reversal", "net"):
            assert Decimal(row[kind]) == Decimal(expected[kind])  # negative money stays a number, unquoted
    ledger = manager.get("/api/v1/workforce/ledger?format=csv")
    assert ledger.status_code == 200
    lines = list(csv.DictReader(io.StringIO(b"".join(ledger.streaming_content).decode())))
    assert len(lines) == LedgerEntry.objects.count()
    assert sum(Decimal(line["amount"]) for line in lines) == sum(LedgerEntry.objects.values_list("amount", flat=True))
    assert {line["note"] for line in lines if line["kind"] == "reversal"} == {"spam"}


def test_ledger_filters(tenant, manager):
    project, crowd = _mixed_ledger(tenant, manager)
    member = crowd[0][0]
    mine = all_pages(manager, f"/api/v1/workforce/ledger?annotator={member.pk}")
    assert mine and {e["annotator"] for e in mine} == {member.pk}
    in_project = all_pages(manager, f"/api/v1/workforce/ledger?project={project['id']}")
    assert len(in_project) == LedgerEntry.objects.filter(project_id=project["id"]).count()
    bonuses = all_pages(manager, "/api/v1/workforce/ledger?kind=bonus")
    assert [e["amount"] for e in bonuses] == ["3.3333"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert manager.get("/api/v1/workforce/ledger", {"since": future}).json()["results"] == []
    assert manager.get("/api/v1/workforce/ledger?kind=tip").status_code == 400


def test_my_earnings_show_only_my_entries_with_totals(tenant, manager, as_role):
    project = pay_project(manager)
    client = as_role("annotator")
    do_one(client, project)
    do_one(as_role("reviewer"), project)  # someone else's pay
    user = tenant.user("annotator")
    last_month = timezone.now().replace(day=1) - timedelta(days=3)
    LedgerEntry.objects.create(organization=tenant.org, annotator=user, amount=Decimal("2.0000"), currency="EUR",
                               kind="bonus", created_at=last_month)
    response = client.get("/api/v1/me/earnings")
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["results"]) == 3 and "created_by" not in body["results"][0]
    assert body["totals"]["this_month"] == {"EUR": "0.0600"}
    assert body["totals"]["last_month"] == {"EUR": "2.0000"}
    assert body["totals"]["all_time"] == {"EUR": "2.0600"}
    viewer = as_role("viewer").get("/api/v1/me/earnings").json()
    assert viewer["results"] == [] and viewer["totals"]["all_time"] == {}


# --- tenancy and roles ------------------------------------------------------------------------------------------

ROLE_TABLE = [
    # (method, route, {role: expected status})
    ("get", "/api/v1/workforce/ledger", {"owner": 200, "manager": 200, "reviewer": 403, "annotator": 403,
                                         "viewer": 403}),
    ("get", "/api/v1/workforce/statements", {"owner": 200, "manager": 200, "reviewer": 403, "annotator": 403,
                                             "viewer": 403}),
    ("post", "/api/v1/workforce/bonuses", {"owner": 201, "manager": 201, "reviewer": 403, "annotator": 403,
                                           "viewer": 403}),
    ("get", "/api/v1/workforce/bonus-rules", {"owner": 200, "manager": 200, "reviewer": 403, "annotator": 403,
                                              "viewer": 403}),
    ("post", "/api/v1/workforce/bonus-rules", {"owner": 201, "manager": 201, "reviewer": 403, "annotator": 403,
                                               "viewer": 403}),
    ("patch", "/api/v1/workforce/bonus-rules/{rule}", {"owner": 200, "manager": 200, "reviewer": 403,
                                                       "annotator": 403, "viewer": 403}),
    ("post", "/api/v1/workforce/bonus-rules/{rule}/run", {"owner": 200, "manager": 200, "reviewer": 403,
                                                          "annotator": 403, "viewer": 403}),
    ("post", "/api/v1/workforce/ledger/{entry}/reverse", {"owner": 201, "manager": 201, "reviewer": 403,
                                                          "annotator": 403, "viewer": 403}),
    ("get", "/api/v1/me/earnings", {"owner": 200, "manager": 200, "reviewer": 200, "annotator": 200,
                                    "viewer": 200}),
    ("delete", "/api/v1/workforce/bonus-rules/{rule}", {"owner": 204, "manager": 204, "reviewer": 403,
                                                        "annotator": 403, "viewer": 403}),
]


def _role_cases():
    for method, route, expected in ROLE_TABLE:
        for role, code in expected.items():
            yield pytest.param(method, route, role, code, id=f"{method} {route} as {role}")


@pytest.mark.parametrize(("method", "route", "role", "expected"), list(_role_cases()))
def test_role_table(tenant, manager, as_role, method, route, role, expected):
    project = pay_project(manager, tasks=0)
    rule = BonusRule.objects.create(organization=tenant.org, project_id=project["id"], metric="gold_accuracy",
                                    threshold=0.9, amount=Decimal("1"))
    entry = LedgerEntry.objects.create(organization=tenant.org, annotator=tenant.user("annotator"),
                                       amount=Decimal("1"), currency="USD", kind="bonus")
    bodies = {"/api/v1/workforce/bonuses": {"annotator": tenant.member("viewer").pk, "amount": "1.00"},
              "/api/v1/workforce/bonus-rules": {"project": project["id"], "metric": "gold_accuracy",
                                                "threshold": 0.5, "amount": "1.00"},
              "/api/v1/workforce/bonus-rules/{rule}": {"threshold": 0.7},
              "/api/v1/workforce/ledger/{entry}/reverse": {"reason": "test"}}
    url = route.format(rule=rule.pk, entry=entry.pk)
    response = getattr(as_role(role), method)(url, bodies.get(route, {}), format="json")
    assert response.status_code == expected, response.content


def test_another_organizations_ids_are_404_and_its_entries_never_show(tenant, manager, as_role):
    other = make_tenant("globex")
    other_manager = token_client(other.secrets["manager"])
    other_project = pay_project(other_manager)
    do_one(token_client(other.secrets["annotator"]), other_project)
    their_entry = LedgerEntry.objects.filter(organization=other.org).first()
    their_rule = BonusRule.objects.create(organization=other.org, project_id=other_project["id"],
                                          metric="gold_accuracy", threshold=0.9, amount=Decimal("1"))
    owner = as_role("owner")
    assert owner.post(f"/api/v1/workforce/ledger/{their_entry.pk}/reverse", {"reason": "x"},
                      format="json").status_code == 404
    assert owner.patch(f"/api/v1/workforce/bonus-rules/{their_rule.pk}", {"threshold": 0.1},
                       format="json").status_code == 404
    assert owner.delete(f"/api/v1/workforce/bonus-rules/{their_rule.pk}").status_code == 404
    assert owner.post(f"/api/v1/workforce/bonus-rules/{their_rule.pk}/run").status_code == 404
    assert owner.get(f"/api/v1/workforce/ledger?annotator={other.member('annotator').pk}").status_code == 404
    assert owner.get(f"/api/v1/workforce/ledger?project={other_project['id']}").status_code == 404
    assert owner.post("/api/v1/workforce/bonus-rules", {"project": other_project["id"], "metric": "gold_accuracy",
                                                        "threshold": 0.5, "amount": "1.00"},
                      format="json").status_code == 404
    assert owner.get("/api/v1/workforce/ledger").json()["results"] == []
    assert owner.get("/api/v1/workforce/statements").json()["results"] == []
    assert owner.get("/api/v1/workforce/bonus-rules").json()["results"] == []
    assert as_role("annotator").get("/api/v1/me/earnings").json()["results"] == []
    # By header, into an organization the caller is not in: 404.
    assert owner.get("/api/v1/workforce/ledger", HTTP_X_ORGANIZATION="globex").status_code == 404
    assert LedgerEntry.objects.filter(organization=other.org, kind="reversal").count() == 0
    assert BonusRule.objects.filter(pk=their_rule.pk, threshold=0.9).exists()


# --- query counts -------------------------------------------------------------------------------------------------

def test_paying_costs_a_submit_one_insert_and_the_ledger_a_fixed_number_of_queries(
        tenant, manager, as_role, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    unpaid = pay_project(manager, per_submitted="0.00", per_accepted="0.00")
    paid = pay_project(manager, per_hour="3.60")
    client = as_role("annotator")
    counts = []
    for project in (unpaid, paid):
        leased = lease(client, project)
        with CaptureQueriesContext(connection) as queries:
            assert submit(client, leased).status_code == 201
        counts.append(len(queries))
    assert counts[1] == counts[0] + 1
    for member, worker in annotators(tenant, 2):
        do_one(worker, paid)
        manager.post("/api/v1/workforce/bonuses", {"annotator": member.pk, "amount": "1"}, format="json")
    with django_assert_max_num_queries(8):
        assert len(manager.get("/api/v1/workforce/ledger?page_size=100").json()["results"]) >= 7
    with django_assert_max_num_queries(8):
        assert manager.get("/api/v1/workforce/statements").status_code == 200
    with django_assert_max_num_queries(8):
        assert as_role("annotator").get("/api/v1/me/earnings").status_code == 200
