"""The `projects.access` registry (DESIGN §3): who, beyond explicit grants, may work on a restricted project.

A project whose `settings.access` names pools or a skill filter is restricted: it is open to the people a
django-guardian grant names, and to those a registered rule opens it to (workforce: pool members, people whose
skills and languages pass the filter). A rule answers for one person and one project.
"""

from typing import Protocol


class Rule(Protocol):
    name: str

    def opens(self, *, user, project) -> bool:
        """Whether `project` (restricted) is open to `user` by this rule."""


_rules: list[Rule] = []


def register(rule: Rule) -> None:
    if all(existing.name != rule.name for existing in _rules):
        _rules.append(rule)


def opened_by_rules(*, user, project) -> bool:
    return any(rule.opens(user=user, project=project) for rule in _rules)
