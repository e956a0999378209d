"""The five roles of API.md and which role may grant which."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


# Each role includes the powers of those below it, except viewer, which only reads.
_GRANTS = {
    Role.OWNER: frozenset(Role.values),
    Role.MANAGER: frozenset({Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR, Role.VIEWER}),
    Role.REVIEWER: frozenset({Role.REVIEWER, Role.ANNOTATOR}),
    Role.ANNOTATOR: frozenset({Role.ANNOTATOR}),
    Role.VIEWER: frozenset({Role.VIEWER}),
}

EVERYONE = frozenset(Role.values)
OWNERS = frozenset({Role.OWNER})
MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
REVIEWERS = frozenset({Role.OWNER, Role.MANAGER, Role.REVIEWER})
WORKERS = frozenset({Role.OWNER, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR})
READERS = frozenset({Role.OWNER, Role.MANAGER, Role.VIEWER})


def role_covers(holder: str, role: str) -> bool:
    """True when `holder` may hand out `role` (to a token, an invitation or a member)."""
    return role in _GRANTS.get(holder, frozenset())


def effective_role(member_role: str, token_role: str | None) -> str:
    """A token acts with its own role, never more than its user's current role."""
    if token_role is None:
        return member_role
    return token_role if role_covers(member_role, token_role) else member_role
