"""Workforce performance: per-annotator reports, leaderboards, promotion proposals and appeals against suspensions.

Reports are aggregate SQL over the rows other apps keep (assignments for server-measured work time, QualityScore for
gold, Review decisions, AnnotatorStats for agreement, the ledger for earnings). Work time is PostgreSQL's business
(percentile_cont, width_bucket); on SQLite the same numbers are computed in Python so nothing crashes.
"""

import bisect
import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from apps.audit.services import record
from apps.live.groups import user_group
from apps.live.services import broadcast_on_commit
from apps.orgs.errors import ApiError, Conflict, NotFound
from apps.orgs.models import Membership
from apps.orgs.roles import Role
from apps.orgs.services import membership_change_role
from apps.projects.models import Project
from apps.qa.models import AnnotatorStats, QualityScore, Suspension
from apps.qa.rules import suspension_lift
from apps.qa.statistics import wilson_interval
from apps.tasks.models import Annotation, Assignment, Review

from .models import Appeal, LedgerEntry, PromotionProposal, PromotionRule

# The per-task cap on counted work time when a project's settings.pay does not say (its default there too).
DEFAULT_MAX_SECONDS_PER_TASK = 900
# Lead-time histogram edges in milliseconds: buckets [0, 5 s), [5 s, 10 s), … [30 min, ∞).
LEAD_TIME_EDGES_MS = (5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000)
# A dismissed proposal is not made again for this long (the rule runs nightly).
DISMISSED_QUIET_DAYS = 30
LEADERBOARD_METRICS = ("accuracy", "throughput", "annotations", "agreement")


# --- small pieces ----------------------------------------------------------------------------------------------


def _gold(seen: int, correct: int) -> dict:
    if not seen:
        return {"gold_seen": 0, "gold_correct": 0, "accuracy": None, "accuracy_low": None, "accuracy_high": None}
    low, high = wilson_interval(correct, seen)
    return {"gold_seen": seen, "gold_correct": correct, "accuracy": correct / seen, "accuracy_low": low,
            "accuracy_high": high}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 6)


def _throughput(submits: int, seconds: float) -> float | None:
    return round(submits / (seconds / 3600), 4) if seconds > 0 else None


def _iso_week(start) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def _week_start(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def _window(field: str, since, until) -> Q:
    q = Q()
    if since is not None:
        q &= Q(**{f"{field}__gte": since})
    if until is not None:
        q &= Q(**{f"{field}__lt": until})
    return q


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the closest ranks."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def member_ids(*, organization, user_ids) -> dict[int, int]:
    """user id → membership id (how API.md names people) in the organization."""
    return dict(Membership.objects.filter(organization=organization, user_id__in=set(user_ids))
                .values_list("user_id", "id"))


# --- server-measured work time ---------------------------------------------------------------------------------


def _work_filters(*, organization_id, annotator_ids, project_id, since, until) -> tuple[str, list]:
    where = ["a.organization_id = %s", "a.status = 'submitted'", "a.annotation_id IS NOT NULL",
             "a.leased_at IS NOT NULL", "a.ended_at IS NOT NULL"]
    params: list = [organization_id]
    if annotator_ids is not None:
        where.append(f"a.annotator_id IN ({', '.join(['%s'] * len(annotator_ids))})")
        params += list(annotator_ids)
    if project_id is not None:
        where.append("a.project_id = %s")
        params.append(project_id)
    if since is not None:
        where.append("a.ended_at >= %s")
        params.append(since)
    if until is not None:
        where.append("a.ended_at < %s")
        params.append(until)
    return " AND ".join(where), params


def _durations_cte(where: str) -> str:
    # Milliseconds from lease to submit; counted work is capped per task at the project's pay cap.
    return (
        "WITH d AS (SELECT a.annotator_id, a.project_id, "
        "date_trunc('week', a.ended_at AT TIME ZONE 'UTC') AS week, "
        "GREATEST(EXTRACT(EPOCH FROM (a.ended_at - a.leased_at)) * 1000, 0)::float8 AS ms, "
        "COALESCE((p.settings -> 'pay' ->> 'max_seconds_per_task')::float8, %s) * 1000 AS cap_ms "
        f"FROM tasks_assignment a JOIN {Project._meta.db_table} p ON p.id = a.project_id WHERE {where})"
    )


def _python_durations(*, organization_id, annotator_ids, project_id, since, until) -> list[tuple]:
    """SQLite: (annotator, project, week start, ms, cap ms) per submitted lease, read once."""
    qs = Assignment.objects.filter(organization_id=organization_id, status=Assignment.Status.SUBMITTED,
                                   annotation__isnull=False, leased_at__isnull=False, ended_at__isnull=False)
    if annotator_ids is not None:
        qs = qs.filter(annotator_id__in=annotator_ids)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    qs = qs.filter(_window("ended_at", since, until))
    rows = list(qs.values_list("annotator_id", "project_id", "leased_at", "ended_at"))
    caps = {pk: float((s or {}).get("pay", {}).get("max_seconds_per_task") or DEFAULT_MAX_SECONDS_PER_TASK) * 1000
            for pk, s in Project.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "settings")}
    return [(annotator, project, _week_start(ended), max((ended - leased).total_seconds() * 1000, 0.0),
             caps[project]) for annotator, project, leased, ended in rows]


def work_summary(*, organization_id: int, by: str, annotator_ids=None, project_id=None, since=None,
                 until=None) -> dict:
    """Per annotator or per project (`by`): {key: {submits, seconds (capped), p50_ms, p90_ms}} — one query."""
    assert by in ("annotator", "project", "week")
    if annotator_ids is not None and not annotator_ids:
        return {}
    args = {"organization_id": organization_id, "annotator_ids": annotator_ids, "project_id": project_id,
            "since": since, "until": until}
    if connection.vendor == "postgresql":
        where, params = _work_filters(**args)
        key = "week" if by == "week" else f"{by}_id"
        sql = (f"{_durations_cte(where)} SELECT {key}, count(*), COALESCE(sum(LEAST(ms, cap_ms)), 0) / 1000, "
               "percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) "
               f"FROM d GROUP BY {key}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [DEFAULT_MAX_SECONDS_PER_TASK, *params])
            rows = cursor.fetchall()
        out = {}
        for key_value, submits, seconds, p50, p90 in rows:
            if by == "week":
                key_value = key_value.date() if isinstance(key_value, dt.datetime) else key_value
            out[key_value] = {"submits": submits, "seconds": float(seconds), "p50_ms": p50, "p90_ms": p90}
        return out
    groups: dict = defaultdict(list)
    index = {"annotator": 0, "project": 1, "week": 2}[by]
    for row in _python_durations(**args):
        groups[row[index]].append(row)
    out = {}
    for key_value, rows in groups.items():
        values = sorted(r[3] for r in rows)
        out[key_value] = {"submits": len(rows), "seconds": sum(min(r[3], r[4]) for r in rows) / 1000,
                          "p50_ms": _percentile(values, 0.5), "p90_ms": _percentile(values, 0.9)}
    return out


def lead_time_histogram(*, organization_id: int, annotator_id: int, project_id=None, since=None,
                        until=None) -> list[dict]:
    """Server-measured lead times in LEAD_TIME_EDGES_MS buckets."""
    args = {"organization_id": organization_id, "annotator_ids": [annotator_id], "project_id": project_id,
            "since": since, "until": until}
    counts = [0] * (len(LEAD_TIME_EDGES_MS) + 1)
    if connection.vendor == "postgresql":
        where, params = _work_filters(**args)
        with connection.cursor() as cursor:
            cursor.execute(f"{_durations_cte(where)} SELECT width_bucket(ms, %s::float8[]), count(*) FROM d GROUP BY 1",
                           [DEFAULT_MAX_SECONDS_PER_TASK, *params, list(map(float, LEAD_TIME_EDGES_MS))])
            for bucket, n in cursor.fetchall():
                counts[bucket] = n
    else:
        for row in _python_durations(**args):
            counts[bisect.bisect_right(LEAD_TIME_EDGES_MS, row[3])] += 1
    edges = (0, *LEAD_TIME_EDGES_MS)
    return [{"from_ms": edges[i], "to_ms": LEAD_TIME_EDGES_MS[i] if i < len(LEAD_TIME_EDGES_MS) else None,
             "count": counts[i]} for i in range(len(counts))]


# --- the other numbers, grouped ---------------------------------------------------------------------------------


def _gold_scores(*, organization_id, annotator_ids=None, project_id=None, since=None, until=None):
    qs = QualityScore.objects.filter(organization_id=organization_id).exclude(kind=Assignment.Kind.TRAINING)
    if annotator_ids is not None:
        qs = qs.filter(annotator_id__in=annotator_ids)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.filter(_window("created_at", since, until))


def _decided_reviews(*, organization_id, annotator_ids=None, project_id=None, since=None, until=None):
    qs = Review.objects.filter(organization_id=organization_id, status=Review.Status.DECIDED)
    if annotator_ids is not None:
        qs = qs.filter(annotation__author_id__in=annotator_ids)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.filter(_window("decided_at", since, until))


_GOLD_COUNTS = {"seen": Count("id"), "correct": Count("id", filter=Q(passed=True))}
_REVIEW_COUNTS = {"accepted": Count("id", filter=Q(decision=Review.Decision.ACCEPT)),
                  "fixed": Count("id", filter=Q(decision=Review.Decision.FIX)),
                  "rejected": Count("id", filter=Q(decision=Review.Decision.REJECT))}


def _review(accepted: int = 0, fixed: int = 0, rejected: int = 0) -> dict:
    decided = accepted + fixed + rejected
    return {"decided": decided, "accepted": accepted, "fixed": fixed, "rejected": rejected,
            "acceptance_rate": _rate(accepted + fixed, decided)}


def _agreement(stats: AnnotatorStats | None) -> dict:
    seen, agreed = (stats.consensus_seen, stats.consensus_agreed) if stats else (0, 0)
    return {"consensus_seen": seen, "consensus_agreed": agreed, "rate": _rate(agreed, seen)}


def performance_for(*, organization, user, member_id: int, project=None, since=None, until=None) -> dict:
    """One annotator's dashboard: throughput per hour worked, lead times, weekly gold accuracy, agreement,
    review acceptance and earnings, for a project or (project None) the whole organization."""
    org_id, project_id = organization.pk, getattr(project, "pk", None)
    scope = {"organization_id": org_id, "annotator_ids": [user.pk], "project_id": project_id,
             "since": since, "until": until}
    work = work_summary(by="annotator", **scope).get(user.pk, {"submits": 0, "seconds": 0.0, "p50_ms": None,
                                                               "p90_ms": None})
    weekly_work = work_summary(by="week", **scope)
    weekly_gold = {_week_start(row["week"]): row for row in (
        _gold_scores(**scope).annotate(week=TruncWeek("created_at", tzinfo=dt.UTC)).values("week")
        .annotate(**_GOLD_COUNTS).order_by())}
    weekly_reviews = {_week_start(row["week"]): row for row in (
        _decided_reviews(**scope).annotate(week=TruncWeek("decided_at", tzinfo=dt.UTC)).values("week")
        .annotate(**_REVIEW_COUNTS).order_by())}
    annotations = Annotation.objects.filter(organization_id=org_id, author_id=user.pk,
                                            source=Annotation.Source.HUMAN).filter(_window("created_at", since, until))
    if project_id is not None:
        annotations = annotations.filter(project_id=project_id)
    stats = AnnotatorStats.objects.filter(organization_id=org_id, annotator_id=user.pk)
    stats = (stats.filter(project_id=project_id) if project_id else stats.filter(project__isnull=True)).first()
    earnings = LedgerEntry.objects.filter(organization_id=org_id, annotator_id=user.pk).filter(
        _window("created_at", since, until))
    if project_id is not None:
        earnings = earnings.filter(project_id=project_id)

    weeks = []
    for start in sorted({*weekly_work, *weekly_gold, *weekly_reviews}):
        w, g, r = weekly_work.get(start, {}), weekly_gold.get(start, {}), weekly_reviews.get(start, {})
        review = _review(r.get("accepted", 0), r.get("fixed", 0), r.get("rejected", 0))
        weeks.append({
            "week": _iso_week(start), "week_start": start.isoformat(),
            "submits": w.get("submits", 0), "hours_worked": _hours(w.get("seconds", 0.0)),
            "throughput_per_hour": _throughput(w.get("submits", 0), w.get("seconds", 0.0)),
            "lead_time_p50_ms": w.get("p50_ms"),
            **_gold(g.get("seen", 0), g.get("correct", 0)),
            "reviews_decided": review["decided"], "reviews_accepted": review["accepted"],
            "reviews_fixed": review["fixed"], "reviews_rejected": review["rejected"],
            "review_acceptance_rate": review["acceptance_rate"],
        })
    gold = _gold(sum(g["seen"] for g in weekly_gold.values()), sum(g["correct"] for g in weekly_gold.values()))
    return {
        "annotator": member_id, "project": project_id,
        "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
        "annotations": annotations.count(),
        "submits_timed": work["submits"], "hours_worked": _hours(work["seconds"]),
        "throughput_per_hour": _throughput(work["submits"], work["seconds"]),
        "lead_time": {"count": work["submits"], "p50_ms": work["p50_ms"], "p90_ms": work["p90_ms"],
                      "histogram": lead_time_histogram(organization_id=org_id, annotator_id=user.pk,
                                                       project_id=project_id, since=since, until=until)},
        "gold": gold,
        "weeks": weeks,
        "agreement": _agreement(stats),  # all-time: AnnotatorStats keeps counters, not events
        "review": _review(*(sum(r[k] for r in weekly_reviews.values()) for k in ("accepted", "fixed", "rejected"))),
        "earnings": [{"currency": row["currency"], "amount": str(row["total"] or Decimal("0"))}
                     for row in earnings.values("currency").annotate(total=Sum("amount")).order_by("currency")],
    }


def leaderboard(*, project, by: str = "accuracy", min_golds: int | None = None, since=None, until=None,
                limit: int = 1000) -> list[dict]:
    """The project's annotators ranked by `by` (None values last); `min_golds` (default 10 for accuracy, else 0)
    keeps out those with too few golds. A fixed number of queries, whatever the number of annotators."""
    if by not in LEADERBOARD_METRICS:
        raise ApiError(f"by is one of {', '.join(LEADERBOARD_METRICS)}", details={"by": ["unknown metric"]})
    if min_golds is None:
        min_golds = 10 if by == "accuracy" else 0
    org_id = project.organization_id
    stats = {s.annotator_id: s for s in AnnotatorStats.objects.filter(project=project)}
    members = {m.user_id: m for m in Membership.objects.filter(
        organization_id=org_id, user_id__in=list(stats), status=Membership.Status.ACTIVE).select_related("user")}
    users = list(members)
    scope = {"organization_id": org_id, "annotator_ids": users, "project_id": project.pk, "since": since,
             "until": until}
    work = work_summary(by="annotator", **scope)
    gold = {r["annotator_id"]: r for r in _gold_scores(**scope).values("annotator_id").annotate(**_GOLD_COUNTS)
            .order_by()} if users else {}
    reviews = {r["annotation__author_id"]: r for r in _decided_reviews(**scope).values("annotation__author_id")
               .annotate(**_REVIEW_COUNTS).order_by()} if users else {}
    annotations = dict(Annotation.objects.filter(project=project, author_id__in=users,
                                                 source=Annotation.Source.HUMAN)
                       .filter(_window("created_at", since, until)).values("author_id")
                       .annotate(n=Count("id")).values_list("author_id", "n").order_by()) if users else {}
    rows = []
    for user_id, member in members.items():
        g, w, r = gold.get(user_id, {}), work.get(user_id, {}), reviews.get(user_id, {})
        if g.get("seen", 0) < min_golds:
            continue
        review = _review(r.get("accepted", 0), r.get("fixed", 0), r.get("rejected", 0))
        agreement = _agreement(stats[user_id])
        rows.append({
            "annotator": member.pk, "email": member.user.email, "role": member.role,
            "annotations": annotations.get(user_id, 0),
            "submits_timed": w.get("submits", 0), "hours_worked": _hours(w.get("seconds", 0.0)),
            "throughput_per_hour": _throughput(w.get("submits", 0), w.get("seconds", 0.0)),
            "lead_time_p50_ms": w.get("p50_ms"), "lead_time_p90_ms": w.get("p90_ms"),
            **_gold(g.get("seen", 0), g.get("correct", 0)),
            "agreement": agreement["rate"], "consensus_seen": agreement["consensus_seen"],
            "reviews_decided": review["decided"], "review_acceptance_rate": review["acceptance_rate"],
        })
    metric = {"accuracy": "accuracy", "throughput": "throughput_per_hour", "annotations": "annotations",
              "agreement": "agreement"}[by]
    rows.sort(key=lambda row: (row[metric] is None, -(row[metric] or 0), -row["gold_seen"], row["annotator"]))
    for rank, row in enumerate(rows[:limit], start=1):
        row["rank"] = rank
    return [{"rank": row.pop("rank"), **row} for row in rows[:limit]]


GOLD_KEYS = ("gold_seen", "gold_correct", "accuracy", "accuracy_low", "accuracy_high")


def my_stats(*, organization, user, member_id: int, since=None, until=None) -> dict:
    """GET /me/stats: the caller's own quality and speed, overall and per project; nobody else's numbers and
    no gold answers.

    Quality on checks (`quality`) counts only the checks scored before today (UTC): a figure that moved right
    after a submit would tell the annotator that the task was gold."""
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    checks_until = min(until, today) if until else today
    overall = performance_for(organization=organization, user=user, member_id=member_id, since=since, until=until)
    delayed = performance_for(organization=organization, user=user, member_id=member_id, since=since,
                              until=checks_until)
    overall.pop("gold")
    overall["quality"] = {**delayed["gold"], "as_of": checks_until.isoformat()}
    for week in overall["weeks"]:
        for key in GOLD_KEYS:
            week.pop(key, None)
    scope = {"organization_id": organization.pk, "annotator_ids": [user.pk], "since": since, "until": until}
    stats = {s.project_id: s for s in AnnotatorStats.objects.filter(
        organization=organization, annotator=user, project__isnull=False, project__deleted_at__isnull=True
    ).select_related("project")}
    work = work_summary(by="project", **scope)
    gold = {r["project_id"]: r for r in _gold_scores(**{**scope, "until": checks_until}).values("project_id")
            .annotate(**_GOLD_COUNTS).order_by()}
    reviews = {r["project_id"]: r for r in _decided_reviews(**scope).values("project_id").annotate(**_REVIEW_COUNTS)
               .order_by()}
    projects = []
    for project_id, s in sorted(stats.items()):
        g, w, r = gold.get(project_id, {}), work.get(project_id, {}), reviews.get(project_id, {})
        projects.append({
            "project": project_id, "name": s.project.name, "annotations": s.annotations,
            "submits_timed": w.get("submits", 0), "hours_worked": _hours(w.get("seconds", 0.0)),
            "throughput_per_hour": _throughput(w.get("submits", 0), w.get("seconds", 0.0)),
            "lead_time_p50_ms": w.get("p50_ms"), "lead_time_p90_ms": w.get("p90_ms"),
            "quality": _gold(g.get("seen", 0), g.get("correct", 0)),
            "agreement": _agreement(s),
            "review": _review(r.get("accepted", 0), r.get("fixed", 0), r.get("rejected", 0)),
        })
    return {"annotator": member_id, "overall": overall, "projects": projects}


# --- promotion -------------------------------------------------------------------------------------------------


@transaction.atomic
def promotion_rule_create(*, organization, actor, data: dict, request=None) -> PromotionRule:
    rule = PromotionRule(organization=organization, **data)
    rule.full_clean()
    rule.save()
    record(action="promotion_rule.create", organization=organization, actor=actor, object_type="promotion_rule",
           object_id=rule.pk, data={"project": rule.project_id, "top_fraction": rule.top_fraction,
                                    "min_golds": rule.min_golds, "min_accuracy": rule.min_accuracy},
           request=request)
    return rule


def promotion_candidates(*, rule: PromotionRule) -> list[dict]:
    """Active annotators (role annotator) with ≥ min_golds golds in the rule's scope, best first by the lower
    bound of their accuracy's Wilson interval (so 10 of 10 does not beat 190 of 200); the top fraction of them
    whose accuracy reaches min_accuracy."""
    stats = AnnotatorStats.objects.filter(organization_id=rule.organization_id, gold_seen__gte=max(rule.min_golds, 1))
    stats = stats.filter(project_id=rule.project_id) if rule.project_id else stats.filter(project__isnull=True)
    annotators = dict(Membership.objects.filter(
        organization_id=rule.organization_id, role=Role.ANNOTATOR, status=Membership.Status.ACTIVE,
        user_id__in=stats.values("annotator_id")).values_list("user_id", "id"))
    pool = []
    for s in stats.filter(annotator_id__in=list(annotators)):
        gold = _gold(s.gold_seen, s.gold_correct)
        pool.append({"annotator_id": s.annotator_id, "member": annotators[s.annotator_id], **gold})
    pool.sort(key=lambda c: (-c["accuracy_low"], -c["gold_seen"], c["annotator_id"]))
    top = pool[:math.ceil(rule.top_fraction * len(pool))] if pool else []
    return [c for c in top if c["accuracy"] >= rule.min_accuracy]


@transaction.atomic
def promotion_run(*, rule: PromotionRule, actor=None, request=None) -> list[PromotionProposal]:
    """Propose the rule's candidates, skipping whoever has an open proposal (the database refuses a second)
    or had one dismissed lately; running it again changes nothing."""
    candidates = promotion_candidates(rule=rule)
    quiet_since = timezone.now() - dt.timedelta(days=DISMISSED_QUIET_DAYS)
    skip = set(PromotionProposal.objects.filter(organization_id=rule.organization_id,
                                                annotator_id__in=[c["annotator_id"] for c in candidates])
               .filter(Q(status=PromotionProposal.Status.PROPOSED)
                       | Q(status=PromotionProposal.Status.DISMISSED, decided_at__gte=quiet_since))
               .values_list("annotator_id", flat=True))
    made = []
    for c in candidates:
        if c["annotator_id"] in skip:
            continue
        evidence = {"rule": rule.pk, "gold_seen": c["gold_seen"], "gold_correct": c["gold_correct"],
                    "accuracy": c["accuracy"], "accuracy_low": c["accuracy_low"], "accuracy_high": c["accuracy_high"]}
        try:
            with transaction.atomic():
                proposal = PromotionProposal.objects.create(
                    organization_id=rule.organization_id, project_id=rule.project_id, annotator_id=c["annotator_id"],
                    reason=(f"top {rule.top_fraction:.0%} by gold accuracy (lower bound {c['accuracy_low']:.3f}, "
                            f"{c['gold_correct']}/{c['gold_seen']} golds)"),
                    evidence=evidence)
        except IntegrityError:
            continue  # a concurrent run proposed them first
        record(action="promotion.propose", organization=rule.organization_id, actor=actor,
               object_type="promotion_proposal", object_id=proposal.pk,
               data={"annotator": c["member"], **evidence}, request=request)
        made.append(proposal)
    return made


def promotions_propose_all() -> int:
    """Beat: run every active rule of every active organization; the number of proposals made."""
    made = 0
    for rule in PromotionRule.objects.filter(active=True, organization__is_active=True).order_by("id"):
        made += len(promotion_run(rule=rule))
    return made


def _open_proposal(proposal: PromotionProposal) -> PromotionProposal:
    proposal = PromotionProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != PromotionProposal.Status.PROPOSED:
        raise Conflict(f"this proposal was already {proposal.status}", code="duplicate",
                       details={"status": proposal.status})
    return proposal


@transaction.atomic
def promotion_confirm(*, proposal: PromotionProposal, actor, actor_role: str, request=None) -> PromotionProposal:
    """The member becomes a reviewer through the orgs service (audited, and their next request acts so)."""
    proposal = _open_proposal(proposal)
    membership = Membership.objects.filter(organization_id=proposal.organization_id, user_id=proposal.annotator_id,
                                           status=Membership.Status.ACTIVE).first()
    if membership is None:
        raise Conflict("this person is no longer an active member", code="duplicate")
    if membership.role == Role.ANNOTATOR:
        membership_change_role(membership=membership, role=Role.REVIEWER, actor=actor, actor_role=actor_role,
                               request=request)
    proposal.status = PromotionProposal.Status.CONFIRMED
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    record(action="promotion.confirm", organization=proposal.organization_id, actor=actor,
           object_type="promotion_proposal", object_id=proposal.pk, data={"annotator": membership.pk},
           request=request)
    return proposal


@transaction.atomic
def promotion_dismiss(*, proposal: PromotionProposal, actor, request=None) -> PromotionProposal:
    proposal = _open_proposal(proposal)
    proposal.status = PromotionProposal.Status.DISMISSED
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    record(action="promotion.dismiss", organization=proposal.organization_id, actor=actor,
           object_type="promotion_proposal", object_id=proposal.pk, data={"annotator": proposal.annotator_id},
           request=request)
    return proposal


# --- appeals ---------------------------------------------------------------------------------------------------


def _in_effect(suspension: Suspension) -> bool:
    return suspension.lifted_at is None and (suspension.until is None or suspension.until > timezone.now())


@transaction.atomic
def appeal_create(*, organization, user, suspension_id: int, message: str, request=None) -> Appeal:
    """An annotator appeals one of their own suspensions still in effect; one open appeal per suspension."""
    suspension = (Suspension.objects.select_for_update()
                  .filter(organization=organization, annotator=user, pk=suspension_id).first())
    if suspension is None:
        raise NotFound("no such suspension")
    if not _in_effect(suspension):
        raise ApiError("this suspension is no longer in effect", details={"suspension": ["not in effect"]})
    if Appeal.objects.filter(suspension=suspension, status=Appeal.Status.OPEN).exists():
        raise Conflict("this suspension already has an open appeal", code="duplicate")
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(organization=organization, suspension=suspension, annotator=user,
                                           message=message)
    except IntegrityError:
        raise Conflict("this suspension already has an open appeal", code="duplicate") from None
    record(action="appeal.create", organization=organization, actor=user, object_type="appeal", object_id=appeal.pk,
           data={"suspension": suspension.pk}, request=request)
    return appeal


@transaction.atomic
def appeal_decide(*, appeal: Appeal, actor, decision: str, response: str = "", request=None) -> Appeal:
    """grant lifts the suspension (qa's service, audited there too); deny keeps it. The annotator hears of it on
    /ws/me/ after commit."""
    if decision not in ("grant", "deny"):
        raise ApiError("decision is grant or deny", details={"decision": ["grant or deny"]})
    appeal = Appeal.objects.select_for_update().select_related("suspension").get(pk=appeal.pk)
    if appeal.status != Appeal.Status.OPEN:
        raise Conflict(f"this appeal was already {appeal.status}", code="duplicate", details={"status": appeal.status})
    if decision == "grant":
        if appeal.suspension.lifted_at is None:
            suspension_lift(suspension=appeal.suspension, actor=actor, reason=f"appeal {appeal.pk} granted: {response}",
                            request=request)
        appeal.status = Appeal.Status.GRANTED
    else:
        appeal.status = Appeal.Status.DENIED
    appeal.response, appeal.decided_by, appeal.decided_at = response, actor, timezone.now()
    appeal.save(update_fields=["status", "response", "decided_by", "decided_at"])
    record(action="appeal.decide", organization=appeal.organization_id, actor=actor, object_type="appeal",
           object_id=appeal.pk, data={"decision": decision, "suspension": appeal.suspension_id}, request=request)
    broadcast_on_commit(user_group(appeal.annotator_id), {
        "type": "appeal.decided", "appeal": appeal.pk, "suspension": appeal.suspension_id, "decision": decision,
        "status": appeal.status, "response": response,
    })
    return appeal


def ready() -> None:
    """Register this area's Celery task (performance_tasks is not a `tasks.py`, so autodiscovery misses it)."""
    from . import performance_tasks  # noqa: F401
