"""The `tasks.eligibility` registry (DESIGN §3): may this person work on this project, take this task?

Apps to the right (qa: suspensions; workforce: pools, skills, caps, exams) register a rule from their
AppConfig.ready(). A rule answers two questions: a refusal for the whole project (with the reason and
until when, shown to the person as `403 suspended`), and a filter over Task that the queue adds to its
candidate query (a Q over the task's own columns, or an Exists() subquery — no joins). A rule on every `next`
may also write that filter as SQL itself (`task_sql`): compiling a Q through the ORM cost each call about a
millisecond.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db.models import Q


@dataclass
class Refusal:
    code: str  # "suspended", or "permission_denied" for a rule that simply does not let them in
    message: str
    reason: str = ""
    until: datetime | None = None


class Rule(Protocol):
    name: str

    def refusal(self, *, project, user) -> Refusal | None:
        """Why `user` may not work on `project` now, or None."""

    def task_filter(self, *, project, user) -> Q | None:
        """Only the tasks this Q admits may be leased to `user`, or None for all."""

    # Optional: def task_sql(self, *, project, user, vendor) -> tuple[str, list] | None — the same filter as a
    # condition over `tasks_task`'s columns for the database `vendor` ("postgresql" or "sqlite"), with its params.


_rules: list[Rule] = []


def register(rule: Rule) -> None:
    if all(existing.name != rule.name for existing in _rules):
        _rules.append(rule)


def refusal(*, project, user) -> Refusal | None:
    for rule in _rules:
        found = rule.refusal(project=project, user=user)
        if found is not None:
            return found
    return None


def task_conditions(*, project, user, vendor: str) -> list[Q | tuple[str, list]]:
    """Every rule's filter for `user`: its (sql, params) where it writes one, else its Q."""
    found = []
    for rule in _rules:
        if hasattr(rule, "task_sql"):
            condition = rule.task_sql(project=project, user=user, vendor=vendor)
        else:
            condition = rule.task_filter(project=project, user=user)
        if condition is not None:
            found.append(condition)
    return found
