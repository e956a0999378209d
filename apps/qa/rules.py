"""Quality rules (data, not code), their firings, and suspensions — enforced through `tasks.eligibility`."""

import operator
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.live.groups import user_group
from apps.live.services import broadcast_on_commit
from apps.orgs.errors import ApiError, Conflict
from apps.tasks.annotations import assignment_revoke
from apps.tasks.eligibility import Refusal
from apps.tasks.models import Assignment

from . import annotator_stats
from .models import AnnotatorStats, QualityRule, RuleFiring, Suspension
from .statistics import wilson_interval

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
FAST_WINDOW = 100  # fast_responses looks at the annotator's last answers in the project
# Which collectors an event can change (so a submit does not evaluate skip rules, and so on).
ON_SUBMIT = {"fast_responses"}
ON_GOLD = {"gold_accuracy", "gold_accuracy_upper_bound", "gold_accuracy_lower_bound"}
ON_SKIP = {"skips_in_a_row"}
ON_CONSENSUS = {"consensus_agreement"}


# --- collectors ------------------------------------------------------------------------------------------------


def _fast_share(project_id: int, annotator_id: int, seconds: float) -> tuple[float, int]:
    """Share of the annotator's last answers made faster than `seconds`, timed by the server (lease to submit),
    never by the client's lead_time_ms."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.created_at, s.leased_at FROM tasks_annotation a "
            "JOIN tasks_assignment s ON s.annotation_id = a.id "
            "WHERE a.project_id = %s AND a.author_id = %s AND s.leased_at IS NOT NULL "
            "ORDER BY a.id DESC LIMIT %s",
            [project_id, annotator_id, FAST_WINDOW],
        )
        rows = cursor.fetchall()
    if not rows:
        return 0.0, 0
    fast = sum(1 for created, leased in rows if (created - leased).total_seconds() < seconds)
    return fast / len(rows), len(rows)


def collect(rule: QualityRule, stats: AnnotatorStats | None, annotator_id: int) -> tuple[float | None, int]:
    """(value, samples) of a rule's collector for one annotator; value None when there is nothing to measure."""
    c = QualityRule.Collector
    if rule.collector in (c.GOLD_ACCURACY, c.GOLD_ACCURACY_UPPER_BOUND, c.GOLD_ACCURACY_LOWER_BOUND):
        seen = stats.gold_seen if stats else 0
        if not seen:
            return None, 0
        if rule.collector == c.GOLD_ACCURACY:
            return stats.gold_correct / seen, seen
        low, high = wilson_interval(stats.gold_correct, seen)
        return (high if rule.collector == c.GOLD_ACCURACY_UPPER_BOUND else low), seen
    if rule.collector == c.SKIPS_IN_A_ROW:
        skips = stats.skips_in_a_row if stats else 0
        return float(skips), skips
    if rule.collector == c.CONSENSUS_AGREEMENT:
        seen = stats.consensus_seen if stats else 0
        return (stats.consensus_agreed / seen if seen else None), seen
    if rule.collector == c.FAST_RESPONSES:
        share, samples = _fast_share(rule.project_id, annotator_id, float(rule.params.get("seconds", 3)))
        return share, samples
    return None, 0


def _rules_key(project_id: int) -> str:
    return f"qa:rules:{project_id}"


def project_rules(project_id: int) -> list[QualityRule]:
    """The project's active rules, cached (every submit asks); the rule services drop the entry."""
    found = cache.get(_rules_key(project_id))
    if found is None:
        found = list(QualityRule.objects.filter(project_id=project_id, active=True))
        cache.set(_rules_key(project_id), found, 300)
    return found


def _rules_changed(project_id: int) -> None:
    cache.delete(_rules_key(project_id))
    transaction.on_commit(lambda: cache.delete(_rules_key(project_id)))


def rules_evaluate(*, project, annotator_id: int, collectors: set[str], stats=None) -> list[RuleFiring]:
    """Evaluate the project's active rules of these collectors for one annotator; fire those whose condition
    holds after their minimum number of samples."""
    rules = [r for r in project_rules(project.pk) if r.collector in collectors]
    if not rules:
        return []
    if stats is None:
        stats = annotator_stats.stats_for(project_id=project.pk, annotator_id=annotator_id)
    fired = []
    for rule in rules:
        value, samples = collect(rule, stats, annotator_id)
        if value is None or samples < rule.min_samples or not OPS[rule.op](value, rule.threshold):
            continue
        if _in_effect(rule, annotator_id):
            continue
        fired.append(_fire(rule, annotator_id, value, samples))
    return fired


def _in_effect(rule: QualityRule, annotator_id: int) -> bool:
    """A firing not reverted whose effect still holds (a suspension not yet over) is not repeated."""
    now = timezone.now()
    for firing in RuleFiring.objects.filter(rule=rule, annotator_id=annotator_id, reverted_at__isnull=True):
        if firing.suspension_id is None:
            return True
        suspension = firing.suspension
        if suspension is not None and suspension.lifted_at is None and (suspension.until is None
                                                                         or suspension.until > now):
            return True
    return False


def _fire(rule: QualityRule, annotator_id: int, value: float, samples: int) -> RuleFiring:
    action = rule.action
    reason = (f"rule {rule.pk}: {rule.collector} {rule.op} {rule.threshold} "
              f"(measured {value:.3f} over {samples} samples)")
    suspension = None
    a = QualityRule.Action
    if action in (a.SUSPEND, a.BAN):
        hours = rule.duration_hours or 24
        suspension = _suspend(organization_id=rule.organization_id, project=rule.project, annotator_id=annotator_id,
                              kind=Suspension.Kind.BAN if action == a.BAN else Suspension.Kind.SUSPEND,
                              reason=reason, source="rule", rule=rule,
                              until=None if action == a.BAN else timezone.now() + timedelta(hours=hours))
    elif action == a.REVIEW:
        annotator_stats.stats_set(organization_id=rule.organization_id, project_id=rule.project_id,
                                  annotator_id=annotator_id, review_all=True)
    elif action == a.ZERO_WEIGHT:
        annotator_stats.stats_set(organization_id=rule.organization_id, project_id=rule.project_id,
                                  annotator_id=annotator_id, weight=0.0)
    firing = RuleFiring.objects.create(organization_id=rule.organization_id, project_id=rule.project_id, rule=rule,
                                       annotator_id=annotator_id, value=value, samples=samples, action=action,
                                       suspension=suspension)
    record(action="quality_rule.fire", organization=rule.organization_id, actor=None, object_type="rule_firing",
           object_id=firing.pk, data={"rule": rule.pk, "annotator": annotator_id, "action": action,
                                      "value": value, "samples": samples, "project": rule.project_id})
    if action == a.WARN:
        broadcast_on_commit(user_group(annotator_id), {"type": "quality.warning", "project": rule.project_id,
                                                       "reason": reason})
    from .signals import quality_rule_fired

    quality_rule_fired.send(sender=RuleFiring, firing=firing, rule=rule)
    return firing


@transaction.atomic
def firing_revert(*, firing: RuleFiring, actor, request=None) -> RuleFiring:
    """A manager undoes a firing: its suspension is lifted, its weight or review routing restored."""
    if firing.reverted_at is not None:
        return firing
    a = QualityRule.Action
    if firing.suspension_id and firing.suspension.lifted_at is None:
        suspension_lift(suspension=firing.suspension, actor=actor, reason=f"firing {firing.pk} reverted",
                        request=request)
    elif firing.action == a.REVIEW:
        annotator_stats.stats_set(organization_id=firing.organization_id, project_id=firing.project_id,
                                  annotator_id=firing.annotator_id, review_all=False)
    elif firing.action == a.ZERO_WEIGHT:
        annotator_stats.stats_set(organization_id=firing.organization_id, project_id=firing.project_id,
                                  annotator_id=firing.annotator_id, weight=1.0)
    firing.reverted_at, firing.reverted_by = timezone.now(), actor
    firing.save(update_fields=["reverted_at", "reverted_by"])
    record(action="quality_rule.revert", organization=firing.organization_id, actor=actor, object_type="rule_firing",
           object_id=firing.pk, data={"rule": firing.rule_id, "annotator": firing.annotator_id}, request=request)
    return firing


# --- suspensions -----------------------------------------------------------------------------------------------


def _suspend(*, organization_id, project, annotator_id, kind, reason, source, rule=None, until=None,
             created_by=None) -> Suspension:
    suspension = Suspension.objects.create(organization_id=organization_id, project=project,
                                           annotator_id=annotator_id, kind=kind, reason=reason, source=source,
                                           rule=rule, until=until, created_by=created_by)
    _suspensions_changed(organization_id, annotator_id)
    leases = Assignment.objects.filter(organization_id=organization_id, annotator_id=annotator_id,
                                       status__in=[Assignment.Status.ACTIVE, Assignment.Status.PINNED])
    if project is not None:
        leases = leases.filter(project=project)
    for assignment in leases.select_related("project"):
        assignment_revoke(assignment=assignment, actor=created_by)
    broadcast_on_commit(user_group(annotator_id), {
        "type": "suspension", "project": project.pk if project is not None else None, "kind": kind,
        "reason": reason, "until": until.isoformat() if until else None,
    })
    return suspension


@transaction.atomic
def suspension_create(*, organization, project, annotator, kind: str, reason: str, until, actor,
                      request=None) -> Suspension:
    """A manager suspends (until a time) or bans an annotator, in one project or (project None) all of them."""
    if kind == Suspension.Kind.SUSPEND and until is None:
        raise ApiError("a suspension needs an end time", details={"until": ["required for a suspension"]})
    if until is not None and until <= timezone.now():
        raise ApiError("the end time is in the past", details={"until": ["must be in the future"]})
    suspension = _suspend(organization_id=organization.pk, project=project, annotator_id=annotator.pk, kind=kind,
                          reason=reason, source="manager", until=until, created_by=actor)
    record(action="suspension.create", organization=organization.pk, actor=actor, object_type="suspension",
           object_id=suspension.pk, data={"annotator": annotator.pk, "kind": kind, "project": project and project.pk,
                                          "until": until.isoformat() if until else None}, request=request)
    return suspension


@transaction.atomic
def suspension_lift(*, suspension: Suspension, actor, reason: str = "", request=None) -> Suspension:
    if suspension.lifted_at is not None:
        raise Conflict("this suspension was already lifted", code="duplicate")
    suspension.lifted_at, suspension.lifted_by, suspension.lift_reason = timezone.now(), actor, reason
    suspension.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    _suspensions_changed(suspension.organization_id, suspension.annotator_id)
    record(action="suspension.lift", organization=suspension.organization_id, actor=actor, object_type="suspension",
           object_id=suspension.pk, data={"annotator": suspension.annotator_id, "reason": reason}, request=request)
    return suspension


def _suspensions_key(organization_id: int, annotator_id: int) -> str:
    return f"qa:suspensions:{organization_id}:{annotator_id}"


def _open_suspensions(organization_id: int, annotator_id: int) -> list[Suspension]:
    """The annotator's suspensions not lifted, cached: `next` asks on every call, and the services that create or
    lift one drop the entry (in every process, since the cache is shared); their end times are compared live."""
    key = _suspensions_key(organization_id, annotator_id)
    found = cache.get(key)
    if found is None:
        found = list(Suspension.objects.filter(organization_id=organization_id, annotator_id=annotator_id,
                                               lifted_at__isnull=True))
        cache.set(key, found, 300)
    return found


def _suspensions_changed(organization_id: int, annotator_id: int) -> None:
    key = _suspensions_key(organization_id, annotator_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))  # and again once the change is visible to others


def active_suspension(*, organization_id: int, project_id: int | None, annotator_id: int) -> Suspension | None:
    now = timezone.now()
    current = [s for s in _open_suspensions(organization_id, annotator_id)
               if (s.project_id is None or s.project_id == project_id) and (s.until is None or s.until > now)]
    return min(current, key=lambda s: (s.until is not None, s.until or now), default=None)


class SuspensionRule:
    """The `tasks.eligibility` rule of qa: a suspended or banned annotator gets 403 suspended and the end time."""

    name = "qa.suspension"

    def refusal(self, *, project, user) -> Refusal | None:
        found = active_suspension(organization_id=project.organization_id, project_id=project.pk,
                                  annotator_id=user.pk)
        if found is None:
            return None
        what = "banned" if found.kind == Suspension.Kind.BAN else "suspended"
        return Refusal(code="suspended", message=f"you are {what} from this project", reason=found.reason,
                       until=found.until)

    def task_filter(self, *, project, user):
        return None


# --- rules as data -------------------------------------------------------------------------------------------


@transaction.atomic
def rule_create(*, project, actor, data: dict, request=None) -> QualityRule:
    rule = QualityRule.objects.create(organization_id=project.organization_id, project=project, created_by=actor,
                                      **data)
    _rules_changed(project.pk)
    record(action="quality_rule.create", organization=project.organization_id, actor=actor,
           object_type="quality_rule", object_id=rule.pk, after=_rule_state(rule), request=request)
    return rule


@transaction.atomic
def rule_update(*, rule: QualityRule, actor, data: dict, request=None) -> QualityRule:
    before = _rule_state(rule)
    for key, value in data.items():
        setattr(rule, key, value)
    rule.updated_at = timezone.now()
    rule.save()
    _rules_changed(rule.project_id)
    record(action="quality_rule.update", organization=rule.organization_id, actor=actor,
           object_type="quality_rule", object_id=rule.pk, before=before, after=_rule_state(rule), request=request)
    return rule


@transaction.atomic
def rule_delete(*, rule: QualityRule, actor, request=None) -> None:
    record(action="quality_rule.delete", organization=rule.organization_id, actor=actor,
           object_type="quality_rule", object_id=rule.pk, before=_rule_state(rule), request=request)
    _rules_changed(rule.project_id)
    rule.delete()


def _rule_state(rule: QualityRule) -> dict:
    return {"collector": rule.collector, "params": rule.params, "min_samples": rule.min_samples, "op": rule.op,
            "threshold": rule.threshold, "action": rule.action, "duration_hours": rule.duration_hours,
            "active": rule.active}
