"""Workforce pay: accruals on accepted work, reversals, bonuses (manual and by rule), ledger and statement reads.

Rules this module keeps (README-worthy):
* Money is Decimal, quantized to 4 places with ROUND_HALF_EVEN, in the project's `settings.pay.currency`.
* Queue, gold and exam work is paid alike (annotators must not be able to tell gold from work by their pay);
  training work and annotations attached outside the queue (no assignment) are never paid.
* `submitted` (per_submitted) accrues at submit, with or without review. `accepted` (per_accepted) and
  `hourly` (per_hour × server-measured seconds from the lease's `leased_at` to the submit, whole seconds, at
  most `max_seconds_per_task`; the client's lead_time_ms is never used) accrue when the work is accepted:
  at submit without review, or when a review accepts or fixes it. Rejected work gets neither; if work that
  had accrued them is rejected later by any path, both are reversed.
* Zero amounts make no entry. The ledger's unique (annotation, kind) makes a replayed event a no-op.
* A reversal is a new entry with the negated amount and `reverses` set; an entry is reversed at most once.
* A bonus rule pays, for the period in progress (periods of `period_days` aligned to 1970-01-01 UTC), each
  active member who annotated in the rule's project during that period and whose project AnnotatorStats
  metric is at least `threshold` over at least `min_samples`; once per rule, annotator and period, the
  entry's note being the deterministic key `bonus rule <id> period <start>/<end>`.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import ApiError, Conflict
from apps.orgs.models import Membership

from .models import BonusRule, LedgerEntry

log = logging.getLogger(__name__)

CENT = Decimal("0.0001")
ZERO = Decimal("0.0000")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACCRUAL_KINDS = (LedgerEntry.Kind.SUBMITTED, LedgerEntry.Kind.ACCEPTED, LedgerEntry.Kind.HOURLY)
TOTAL_KINDS = [k.value for k in LedgerEntry.Kind]


def money(value) -> Decimal:
    """A Decimal (or decimal string) to the ledger's 4 places, banker's rounding."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_text(value) -> str:
    return str(money(value if value is not None else 0))


def pay_rates(project) -> dict:
    pay = project.settings.get("pay") or {}
    return {
        "per_submitted": Decimal(pay.get("per_submitted") or "0"),
        "per_accepted": Decimal(pay.get("per_accepted") or "0"),
        "per_hour": Decimal(pay.get("per_hour") or "0"),
        "currency": pay.get("currency") or "USD",
        "max_seconds_per_task": int(pay.get("max_seconds_per_task") or 900),
    }


def work_seconds(assignment, submitted_at, cap: int) -> int:
    """Server-measured work time of a lease: leased_at → submit, in whole seconds, capped."""
    if assignment.leased_at is None or submitted_at is None:
        return 0
    delta = submitted_at - assignment.leased_at
    elapsed = delta.days * 86400 + delta.seconds  # floor to whole seconds, without floats
    return max(0, min(elapsed, cap))


def _paid_work(assignment) -> bool:
    from apps.tasks.models import Assignment

    return assignment is not None and assignment.kind != Assignment.Kind.TRAINING


def _entry(annotation, kind, amount, currency, now, note="") -> LedgerEntry:
    return LedgerEntry(organization_id=annotation.organization_id, project_id=annotation.project_id,
                       annotator_id=annotation.author_id, amount=amount, currency=currency, kind=kind,
                       annotation_id=annotation.pk, note=note, created_at=now)


def _insert_accruals(entries: list[LedgerEntry]) -> None:
    # ON CONFLICT DO NOTHING against the partial unique (annotation, kind): a replay pays nothing twice, and the
    # surrounding transaction is never aborted by the duplicate.
    if entries:
        LedgerEntry.objects.bulk_create(entries, ignore_conflicts=True)


def accruals_for(*, annotation, assignment, accepted: bool, at_submit: bool, project=None, now=None) -> list:
    """The entries one event owes (unsaved): `submitted` at submit, `accepted` and `hourly` on acceptance."""
    if annotation.author_id is None or not _paid_work(assignment):
        return []
    project = project or annotation.project
    rates = pay_rates(project)
    now = now or timezone.now()
    currency = rates["currency"]
    entries = []
    if at_submit:
        amount = money(rates["per_submitted"])
        if amount > 0:
            entries.append(_entry(annotation, LedgerEntry.Kind.SUBMITTED, amount, currency, now))
    if accepted:
        amount = money(rates["per_accepted"])
        if amount > 0:
            entries.append(_entry(annotation, LedgerEntry.Kind.ACCEPTED, amount, currency, now))
        if rates["per_hour"] > 0:
            submitted_at = assignment.ended_at or annotation.created_at
            seconds = work_seconds(assignment, submitted_at, rates["max_seconds_per_task"])
            amount = money(rates["per_hour"] * seconds / Decimal(3600))
            if amount > 0:
                entries.append(_entry(annotation, LedgerEntry.Kind.HOURLY, amount, currency, now,
                                      note=f"{seconds} s of server-measured work"))
    return entries


def on_annotation_submitted(sender, annotation, assignment, actor, **kwargs) -> None:
    """tasks.signals.annotation_submitted: `submitted`, and `accepted` + `hourly` when no review waits."""
    from apps.tasks.models import Annotation

    accepted = annotation.status == Annotation.Status.ACCEPTED
    _insert_accruals(accruals_for(annotation=annotation, assignment=assignment, accepted=accepted, at_submit=True))


def on_review_decided(sender, review, annotation, decision, **kwargs) -> None:
    """tasks.signals.review_decided: accept/fix pays `accepted` + `hourly`; reject reverses what had accrued."""
    from apps.tasks.models import Assignment, Review

    if decision == Review.Decision.REJECT:
        annotation_pay_reverse(annotation=annotation, actor=review.reviewer,
                               reason=f"rejected in review {review.pk}")
        return
    rates = pay_rates(annotation.project)
    if rates["per_accepted"] <= 0 and rates["per_hour"] <= 0:
        return  # nothing to pay: no query on the review path
    assignment = Assignment.objects.filter(annotation_id=annotation.pk).first()
    _insert_accruals(accruals_for(annotation=annotation, assignment=assignment, accepted=True, at_submit=False))


def _reversal(entry: LedgerEntry, *, actor, reason: str, now) -> LedgerEntry:
    return LedgerEntry(organization_id=entry.organization_id, project_id=entry.project_id,
                       annotator_id=entry.annotator_id, amount=-entry.amount, currency=entry.currency,
                       kind=LedgerEntry.Kind.REVERSAL, annotation_id=entry.annotation_id, reverses=entry,
                       note=(reason or "")[:500], created_by=actor if getattr(actor, "pk", None) else None,
                       created_at=now)


def annotation_pay_reverse(*, annotation, actor=None, reason: str) -> list[LedgerEntry]:
    """Reverse the `accepted` and `hourly` entries of rejected work that are not reversed yet (the `submitted`
    pay stays: it pays the submission, whatever the review says)."""
    reversed_already = LedgerEntry.objects.filter(reverses_id=OuterRef("pk"))
    entries = list(LedgerEntry.objects.select_for_update(of=("self",)).filter(
        annotation_id=annotation.pk, kind__in=[LedgerEntry.Kind.ACCEPTED, LedgerEntry.Kind.HOURLY],
    ).exclude(Exists(reversed_already)).order_by("id"))
    now = timezone.now()
    made = [_reversal(entry, actor=actor, reason=reason, now=now) for entry in entries]
    if made:
        LedgerEntry.objects.bulk_create(made, ignore_conflicts=True)  # a concurrent reversal wins; no double
    return made


@transaction.atomic
def ledger_entry_reverse(*, entry: LedgerEntry, actor, reason: str, request=None) -> LedgerEntry:
    """A manager reverses one entry: 409 if it was reversed already; a reversal itself is not reversed."""
    entry = LedgerEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.kind == LedgerEntry.Kind.REVERSAL:
        raise ApiError("a reversal cannot be reversed; add a bonus or a new entry instead",
                       details={"entry": ["is a reversal"]})
    existing = LedgerEntry.objects.filter(reverses_id=entry.pk).first()
    if existing is not None:
        raise Conflict("this entry was already reversed", code="duplicate", details={"reversal": existing.pk})
    reversal = _reversal(entry, actor=actor, reason=reason, now=timezone.now())
    try:
        with transaction.atomic():
            reversal.save(force_insert=True)
    except IntegrityError:
        raise Conflict("this entry was already reversed", code="duplicate") from None
    record(action="ledger.reverse", organization=entry.organization_id, actor=actor, object_type="ledger_entry",
           object_id=reversal.pk, data={"reverses": entry.pk, "amount": str(reversal.amount),
                                        "currency": entry.currency, "reason": reason}, request=request)
    return reversal


@transaction.atomic
def bonus_grant(*, organization, annotator, amount: Decimal, currency: str, project=None, note: str = "",
                actor, request=None) -> LedgerEntry:
    """A manual bonus to one member."""
    amount = money(amount)
    if amount <= 0:
        raise ApiError("a bonus is a positive amount", details={"amount": ["must be above 0"]})
    entry = LedgerEntry.objects.create(
        organization=organization, project=project, annotator=annotator, amount=amount, currency=currency,
        kind=LedgerEntry.Kind.BONUS, note=note[:500], created_by=actor, created_at=timezone.now(),
    )
    record(action="ledger.bonus", organization=organization, actor=actor, object_type="ledger_entry",
           object_id=entry.pk, data={"annotator": annotator.pk, "amount": str(amount), "currency": currency,
                                     "project": getattr(project, "pk", None), "note": note}, request=request)
    return entry


# --- bonus rules ---------------------------------------------------------------------------------------------

RULE_FIELDS = ("project", "metric", "threshold", "min_samples", "amount", "period_days", "active")


def _rule_state(rule: BonusRule) -> dict:
    return {"project": rule.project_id, "metric": rule.metric, "threshold": rule.threshold,
            "min_samples": rule.min_samples, "amount": str(rule.amount), "period_days": rule.period_days,
            "active": rule.active}


@transaction.atomic
def bonus_rule_create(*, organization, actor, data: dict, request=None) -> BonusRule:
    rule = BonusRule(organization=organization, created_by=actor, created_at=timezone.now(),
                     **{k: v for k, v in data.items() if k in RULE_FIELDS})
    rule.amount = money(rule.amount)
    rule.full_clean(exclude=["created_by"])
    rule.save(force_insert=True)
    record(action="bonus_rule.create", organization=organization, actor=actor, object_type="bonus_rule",
           object_id=rule.pk, after=_rule_state(rule), request=request)
    return rule


@transaction.atomic
def bonus_rule_update(*, rule: BonusRule, actor, data: dict, request=None) -> BonusRule:
    before = _rule_state(rule)
    for key, value in data.items():
        if key in RULE_FIELDS:
            setattr(rule, key, value)
    rule.amount = money(rule.amount)
    rule.full_clean(exclude=["created_by"])
    rule.save()
    record(action="bonus_rule.update", organization=rule.organization_id, actor=actor, object_type="bonus_rule",
           object_id=rule.pk, before=before, after=_rule_state(rule), request=request)
    return rule


@transaction.atomic
def bonus_rule_delete(*, rule: BonusRule, actor, request=None) -> None:
    before = _rule_state(rule)
    pk, organization_id = rule.pk, rule.organization_id
    rule.delete()  # the bonuses it paid stay in the ledger (they refer to it only by their note)
    record(action="bonus_rule.delete", organization=organization_id, actor=actor, object_type="bonus_rule",
           object_id=pk, before=before, request=request)


def rule_period(rule: BonusRule, now) -> tuple[datetime, datetime]:
    """The period in progress at `now`: [start, end), `period_days` long, aligned to 1970-01-01 UTC."""
    length = timedelta(days=max(1, rule.period_days))
    index = (now - EPOCH) // length
    start = EPOCH + index * length
    return start, start + length


def rule_period_key(rule: BonusRule, start: datetime, end: datetime) -> str:
    return f"bonus rule {rule.pk} period {start:%Y-%m-%d}/{end:%Y-%m-%d}"


def _rule_metric(rule: BonusRule):
    """(value expression's two counters) of AnnotatorStats for the rule's metric: (successes, samples)."""
    if rule.metric == BonusRule.Metric.GOLD_ACCURACY:
        return "gold_correct", "gold_seen"
    return "consensus_agreed", "consensus_seen"


def bonus_rule_candidates(*, rule: BonusRule, start, end) -> list[tuple[int, float, int]]:
    """(user id, metric value, samples) of those who qualify for the rule in [start, end)."""
    from apps.qa.models import AnnotatorStats
    from apps.tasks.models import Annotation

    worked = (Annotation.objects.filter(project_id=rule.project_id, created_at__gte=start, created_at__lt=end,
                                        author__isnull=False).values("author_id"))
    members = Membership.objects.filter(organization_id=rule.organization_id, status=Membership.Status.ACTIVE)
    successes, samples = _rule_metric(rule)
    rows = (AnnotatorStats.objects.filter(project_id=rule.project_id, annotator_id__in=worked)
            .filter(annotator_id__in=members.values("user_id"))
            .filter(**{f"{samples}__gte": max(1, rule.min_samples)})
            .values_list("annotator_id", successes, samples).order_by("annotator_id"))
    return [(user_id, good / seen, seen) for user_id, good, seen in rows if good / seen >= rule.threshold]


@transaction.atomic
def bonus_rule_run(*, rule: BonusRule, now=None, actor=None, request=None) -> list[LedgerEntry]:
    """Pay the rule's bonus for the period in progress to whoever qualifies and was not paid for it yet."""
    rule = BonusRule.objects.select_for_update().select_related("project").get(pk=rule.pk)  # one run at a time
    now = now or timezone.now()
    start, end = rule_period(rule, now)
    key = rule_period_key(rule, start, end)
    amount = money(rule.amount)
    if amount <= 0:
        return []
    paid = set(LedgerEntry.objects.filter(organization_id=rule.organization_id, kind=LedgerEntry.Kind.BONUS,
                                          note=key).values_list("annotator_id", flat=True))
    currency = pay_rates(rule.project)["currency"]
    made = [
        LedgerEntry(organization_id=rule.organization_id, project_id=rule.project_id, annotator_id=user_id,
                    amount=amount, currency=currency, kind=LedgerEntry.Kind.BONUS, note=key,
                    created_by=actor if getattr(actor, "pk", None) else None, created_at=now)
        for user_id, _value, _samples in bonus_rule_candidates(rule=rule, start=start, end=end)
        if user_id not in paid
    ]
    if made:
        LedgerEntry.objects.bulk_create(made)
    if made or actor is not None:
        record(action="bonus_rule.run", organization=rule.organization_id, actor=actor, object_type="bonus_rule",
               object_id=rule.pk, data={"period": [start.isoformat(), end.isoformat()], "paid": len(made),
                                        "amount": str(amount), "currency": currency}, request=request)
    return made


def bonus_rules_run_all(*, now=None) -> int:
    """Beat (workforce.pay_bonuses): every active rule of every organization; the number of bonuses paid."""
    total = 0
    for rule_id in BonusRule.objects.filter(active=True, organization__is_active=True).values_list("pk", flat=True):
        try:
            total += len(bonus_rule_run(rule=BonusRule(pk=rule_id), now=now))
        except Exception:  # one broken rule must not stop the others' payouts
            log.exception("bonus rule %s failed", rule_id)
    return total


# --- reads ---------------------------------------------------------------------------------------------------

def ledger_entries(*, organization, annotator_id=None, project_id=None, since=None, until=None, kind=None):
    """The organization's entries, filtered; each carries `reversed_by` (the id of its reversal, or None)."""
    qs = LedgerEntry.objects.filter(organization=organization)
    if annotator_id is not None:
        qs = qs.filter(annotator_id=annotator_id)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if kind:
        qs = qs.filter(kind=kind)
    reversal = LedgerEntry.objects.filter(reverses_id=OuterRef("pk")).values("pk")[:1]
    return qs.annotate(reversed_by=Subquery(reversal)).select_related("annotator", "created_by")


def _totals_by_kind():
    sums = {kind: Sum("amount", filter=Q(kind=kind)) for kind in TOTAL_KINDS}
    return {**sums, "net": Sum("amount"), "entries": Count("id")}


def statements(*, organization, since, until, annotator_id=None, project_id=None) -> list[dict]:
    """Per annotator and currency over [since, until): the total of each kind, the net and the entry count."""
    qs = ledger_entries(organization=organization, annotator_id=annotator_id, project_id=project_id,
                        since=since, until=until)
    rows = (qs.order_by().values("annotator_id", "annotator__email", "currency").annotate(**_totals_by_kind())
            .order_by("annotator__email", "annotator_id", "currency"))
    members = member_ids(organization=organization, user_ids={row["annotator_id"] for row in rows})
    out = []
    for row in rows:
        line = {"annotator": members.get(row["annotator_id"]), "email": row["annotator__email"],
                "currency": row["currency"], "since": since, "until": until}
        line.update({kind: money_text(row[kind]) for kind in TOTAL_KINDS})
        line.update({"net": money_text(row["net"]), "entries": row["entries"]})
        out.append(line)
    return out


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def earnings_totals(*, organization, user, now=None) -> dict:
    """{this_month, last_month, all_time}: {currency: net} of one member's entries (UTC months)."""
    now = now or timezone.now()
    this_month = month_start(now)
    last_month = month_start(this_month - timedelta(days=1))
    rows = (LedgerEntry.objects.filter(organization=organization, annotator=user).order_by().values("currency")
            .annotate(all_time=Sum("amount"),
                      this_month=Sum("amount", filter=Q(created_at__gte=this_month)),
                      last_month=Sum("amount", filter=Q(created_at__gte=last_month, created_at__lt=this_month)))
            .order_by("currency"))
    totals = {"this_month": {}, "last_month": {}, "all_time": {}}
    for row in rows:
        for period in totals:
            totals[period][row["currency"]] = money_text(row[period])
    totals["periods"] = {"this_month": this_month.isoformat(), "last_month": last_month.isoformat()}
    return totals


def member_ids(*, organization, user_ids) -> dict[int, int]:
    """user id → membership id in the organization (API.md: members are named by their membership id)."""
    if not user_ids:
        return {}
    return dict(Membership.objects.filter(organization=organization, user_id__in=list(user_ids))
                .values_list("user_id", "pk"))


def ready() -> None:
    """Register this area's signal receivers (and its Celery task)."""
    from apps.tasks import signals

    from . import pay_tasks  # noqa: F401 - registers workforce.pay_bonuses with Celery

    signals.annotation_submitted.connect(on_annotation_submitted, dispatch_uid="workforce.pay.submitted")
    signals.review_decided.connect(on_review_decided, dispatch_uid="workforce.pay.review")
