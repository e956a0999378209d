"""Workforce access: the skill-filter language, restricted projects opened to pools and skills, task-level
skill routing and daily caps (plugs into `projects.access`, `projects.project_settings` and `tasks.eligibility`).

The filter language (API.md, `settings.access.skill_filter`), parsed by lark, never evaluated as Python:

    filter     := or_test
    or_test    := and_test ("or" and_test)*
    and_test   := not_test ("and" not_test)*
    not_test   := "not" not_test | comparison
    comparison := operand [("<" | "<=" | ">" | ">=" | "==" | "!=") operand]
                | operand ["not"] "in" operand
    operand    := NUMBER | 'string' | "string" | skill.<name> | languages | pools | "(" or_test ")"

`skill.<name>` is the person's level (0–100; a skill they lack is 0), `languages` their language codes
(compared case-insensitively), `pools` the ids of their pools. Numbers compare with all six operators,
strings only with == and !=; `in` asks whether a string is in `languages` or a number in `pools`; `and`,
`or`, `not` take conditions. Anything else (unknown names, calls, `.`/`[]` access, arithmetic, a bare value
where a condition is due, trailing text) is a FilterError naming the column.

Pool ids in `settings.access.pools` are not checked against the organization when settings are saved (the
settings check sees only the settings): an id that is not one of the project's organization's pools matches
nobody, since a person's pools are read within the project's organization only.
"""

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import BooleanField, Count, F, Q, Value
from django.db.models.expressions import Expression
from django.db.models.fields import CharField
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from apps.tasks.eligibility import Refusal
from apps.tasks.models import Annotation, Assignment

from .models import AnnotatorProfile, AnnotatorSkill, Pool, Skill

log = logging.getLogger(__name__)

MAX_FILTER_LENGTH = 1000

GRAMMAR = r"""
?start: or_test
?or_test: and_test (_OR and_test)*
?and_test: not_test (_AND not_test)*
?not_test: _NOT not_test -> negation
         | comparison
?comparison: operand
           | operand COMPARATOR operand -> compare
           | operand _IN operand -> member
           | operand _NOT _IN operand -> not_member
operand: NUMBER
       | STRING
       | SKILL
       | LANGUAGES
       | POOLS
       | NAME
       | "(" or_test ")"

_OR: "or"
_AND: "and"
_NOT: "not"
_IN: "in"
LANGUAGES: "languages"
POOLS: "pools"
COMPARATOR: "<=" | ">=" | "==" | "!=" | "<" | ">"
SKILL.2: /skill\.[A-Za-z0-9_-]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /-?[0-9]+(\.[0-9]+)?/
STRING: /'[^']*'/ | /"[^"]*"/
%ignore /[ \t\r\n]+/
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


class FilterError(ValueError):
    """A skill filter that is not in the language; the message names the column (1-based)."""


@dataclass
class Worker:
    """What filters and rules know of a person in one organization."""

    skills: dict[str, int] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    pools: list[int] = field(default_factory=list)

    def context(self) -> dict:
        return {"skills": self.skills, "languages": [str(code).lower() for code in self.languages],
                "pools": self.pools}


# --- the language -----------------------------------------------------------------------------------------

NUMBER, STRING, LIST_OF_STRINGS, LIST_OF_NUMBERS, CONDITION = "number", "string", "languages", "pools", "condition"
_ORDERING = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_EQUALITY = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@dataclass(frozen=True)
class SkillFilter:
    """A compiled filter: `matches(context)` with context {skills: {name: level}, languages: [...], pools: [ids]}."""

    source: str
    _test: object

    def matches(self, context: dict) -> bool:
        return bool(self._test(context))


def _column(node) -> int:
    if isinstance(node, Token):
        return node.column or 1
    meta = getattr(node, "meta", None)
    return getattr(meta, "column", 1) if meta is not None and not getattr(meta, "empty", True) else 1


def _syntax_message(text: str, error: UnexpectedInput) -> str:
    column = getattr(error, "column", None) or 1
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        if char == "[":
            return f"indexing with [] is not allowed (column {column})"
        if char == ".":
            return f"only skill.<name> may use a dot (column {column})"
        if char in "+-*/%":
            return f"arithmetic is not allowed: unexpected {char!r} (column {column})"
        if char in "'\"":
            return f"a string is not closed (column {column})"
        return f"unexpected character {char!r} (column {column})"
    token = getattr(error, "token", None)
    if isinstance(error, UnexpectedEOF) or (token is not None and token.type == "$END"):
        column = len(text.rstrip()) + 1
        return f"the expression ends too early (column {column})"
    if token is not None and token.type == "LPAR":
        before = text[: token.start_pos].rstrip()
        if before and (before[-1].isalnum() or before[-1] == "_"):
            return f"function calls are not allowed (column {token.column})"
    if token is not None:
        return f"unexpected {token.value!r} (column {token.column})"
    return f"not a valid filter (column {column})"


def _compile(node):
    """(type, function of the context) for a parse-tree node; FilterError for what the language refuses."""
    if isinstance(node, Tree) and node.data == "operand":
        (child,) = node.children
        return _compile(child)
    if isinstance(node, Token):
        if node.type == "NUMBER":
            value = float(node) if "." in node else int(node)
            return NUMBER, lambda ctx: value
        if node.type == "STRING":
            text = str(node)[1:-1]
            return STRING, lambda ctx: text
        if node.type == "SKILL":
            name = str(node)[len("skill."):]
            return NUMBER, lambda ctx: ctx["skills"].get(name, 0)
        if node.type == "LANGUAGES":
            return LIST_OF_STRINGS, lambda ctx: ctx["languages"]
        if node.type == "POOLS":
            return LIST_OF_NUMBERS, lambda ctx: ctx["pools"]
        if node.type == "NAME":
            hint = "use skill.<name>" if str(node) == "skill" else "use skill.<name>, languages or pools"
            raise FilterError(f"unknown name {str(node)!r} (column {node.column}): {hint}")
        raise FilterError(f"unexpected {str(node)!r} (column {node.column})")
    kind = node.data
    if kind in ("or_test", "and_test"):
        parts = [_condition(child) for child in node.children]
        if kind == "or_test":
            return CONDITION, lambda ctx: any(part(ctx) for part in parts)
        return CONDITION, lambda ctx: all(part(ctx) for part in parts)
    if kind == "negation":
        (inner,) = node.children
        test = _condition(inner)
        return CONDITION, lambda ctx: not test(ctx)
    if kind == "compare":
        left, op, right = node.children
        (ltype, lvalue), (rtype, rvalue) = _compile(left), _compile(right)
        if ltype == rtype == NUMBER:
            fn = {**_ORDERING, **_EQUALITY}[str(op)]
        elif ltype == rtype == STRING and str(op) in _EQUALITY:
            fn = _EQUALITY[str(op)]
        elif ltype == rtype == STRING:
            raise FilterError(f"strings compare only with == and != (column {op.column})")
        else:
            raise FilterError(f"cannot compare {_article(ltype)} with {_article(rtype)} (column {op.column})")
        return CONDITION, lambda ctx: fn(lvalue(ctx), rvalue(ctx))
    if kind in ("member", "not_member"):
        left, right = node.children
        (ltype, lvalue), (rtype, rvalue) = _compile(left), _compile(right)
        if rtype not in (LIST_OF_STRINGS, LIST_OF_NUMBERS):
            raise FilterError(f"'in' takes languages or pools on its right (column {_column(right)})")
        if rtype == LIST_OF_STRINGS and ltype != STRING:
            raise FilterError(f"languages holds language codes: put a quoted string before 'in' "
                              f"(column {_column(left)})")
        if rtype == LIST_OF_NUMBERS and ltype != NUMBER:
            raise FilterError(f"pools holds pool ids: put a number before 'in' (column {_column(left)})")
        negate = kind == "not_member"

        def member(ctx):
            value = lvalue(ctx)
            found = (value.lower() if isinstance(value, str) else value) in rvalue(ctx)
            return found != negate

        return CONDITION, member
    raise FilterError(f"not a valid filter (column {_column(node)})")


def _condition(node):
    kind, fn = _compile(node)
    if kind != CONDITION:
        raise FilterError(f"expected a condition such as skill.medical >= 70, found {_article(kind)} "
                          f"(column {_column(node)})")
    return fn


def _article(kind: str) -> str:
    return {NUMBER: "a number", STRING: "a string", LIST_OF_STRINGS: "languages", LIST_OF_NUMBERS: "pools",
            CONDITION: "a condition"}[kind]


@functools.lru_cache(maxsize=1024)
def compile_filter(text: str) -> SkillFilter:
    """Parse and check a skill filter once per distinct text (compiled filters are cached); FilterError if bad."""
    if not isinstance(text, str):
        raise FilterError("a skill filter is a string")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"a skill filter is at most {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise FilterError('the filter is empty: use "" for no filter')
    try:
        tree = _parser.parse(text)
        return SkillFilter(source=text, _test=_condition(tree))
    except UnexpectedInput as error:
        raise FilterError(_syntax_message(text, error)) from None
    except RecursionError:
        raise FilterError("the filter is nested too deeply") from None


def filter_errors(text: str) -> list[str]:
    """[] for a valid filter (or none), else the message."""
    if text == "":
        return []
    try:
        compile_filter(text)
    except FilterError as error:
        return [str(error)]
    return []


def settings_check(settings: dict) -> dict:
    """The `projects.project_settings` check: `access.skill_filter` must be in the language."""
    access = settings.get("access")
    if not isinstance(access, dict) or not isinstance(access.get("skill_filter"), str):
        return {}  # projects reports the shape
    errors = filter_errors(access["skill_filter"])
    return {"access": [f"skill_filter: {message}" for message in errors]} if errors else {}


# --- who the person is, once per request -------------------------------------------------------------------

# Cached on the user object, which lives for one request; the bound keeps a long-lived one (a socket's) fresh.
_WORKER_TTL_SECONDS = 10.0


def worker_for(*, user, organization_id: int) -> Worker:
    """The person's skills, languages and pools in an organization: two queries, then cached on `user`."""
    memo = user.__dict__.setdefault("_workforce_workers", {})
    found = memo.get(organization_id)
    now = time.monotonic()
    if found is not None and now - found[0] < _WORKER_TTL_SECONDS:
        return found[1]
    worker = _load_worker(user_id=user.pk, organization_id=organization_id)
    memo[organization_id] = (now, worker)
    return worker


def forget_worker(user) -> None:
    """Drop what `worker_for` cached on this user object (after changing their skills or pools in-process)."""
    user.__dict__.pop("_workforce_workers", None)


def _load_worker(*, user_id: int, organization_id: int) -> Worker:
    row = (AnnotatorProfile.objects.filter(organization_id=organization_id, user_id=user_id)
           .values_list("id", "languages").first())
    if row is None:
        return Worker()
    profile_id, languages = row
    skills = (AnnotatorSkill.objects.filter(profile_id=profile_id, skill__organization_id=organization_id)
              .values_list("skill__name", "level"))
    pools = (Pool.members.through.objects.filter(annotatorprofile_id=profile_id,
                                                 pool__organization_id=organization_id)
             .values_list(Value(None, output_field=CharField()), "pool_id"))
    worker = Worker(languages=[code for code in (languages or []) if isinstance(code, str)])
    for name, number in skills.union(pools, all=True):
        if name is None:
            worker.pools.append(number)
        else:
            worker.skills[name] = number
    return worker


# --- restricted projects ------------------------------------------------------------------------------------


def project_open_to(*, project, worker: Worker) -> bool:
    """Whether `settings.access` (pools, skill filter) lets `worker` in; an unreadable filter lets nobody in."""
    access = (project.settings or {}).get("access") or {}
    pools, text = access.get("pools") or [], access.get("skill_filter") or ""
    if not pools and not text:
        return True
    if pools and not set(pools) & set(worker.pools):
        return False
    if text:
        try:
            return compile_filter(text).matches(worker.context())
        except FilterError:
            log.warning("project %s has an invalid skill filter %r", project.pk, text)
            return False
    return True


class PoolsAndSkills:
    """The `projects.access` rule: a restricted project is open to members of one of its pools (if it names
    any) who pass its skill filter (if it has one)."""

    name = "workforce.pools_and_skills"

    def opens(self, *, user, project) -> bool:
        access = (project.settings or {}).get("access") or {}
        if not access.get("pools") and not access.get("skill_filter"):
            return False  # not restricted by pools or skills: nothing for this rule to open
        return project_open_to(project=project, worker=worker_for(user=user, organization_id=project.organization_id))


# --- task routing and caps -----------------------------------------------------------------------------------


class QualifiedFor(Expression):
    """True for tasks whose `meta.required_skills` ({name: minimum level}) the person meets; tasks without it
    are unaffected. The person's levels are read inside the statement, and only for tasks that name
    requirements, so a project without them pays one key test per candidate row and no round trip. A
    requirement that is not a number (or a `required_skills` that is not an object) matches nobody."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, *, organization_id: int, user_id: int, meta=None):
        super().__init__()
        self.organization_id, self.user_id = int(organization_id), int(user_id)
        self.meta = meta if meta is not None else F("meta")

    def get_source_expressions(self):
        return [self.meta]

    def set_source_expressions(self, exprs):
        (self.meta,) = exprs

    def as_sql(self, compiler, connection):
        meta, params = compiler.compile(self.meta)
        return qualified_sql(meta, params, vendor=connection.vendor, organization_id=self.organization_id,
                             user_id=self.user_id)


def qualified_sql(meta: str, params: list, *, vendor: str, organization_id: int, user_id: int) -> tuple[str, list]:
    """QualifiedFor's condition over the JSON column `meta` (SQL, with `params`), for PostgreSQL or SQLite."""
    held = (f"SELECT held.level FROM {AnnotatorSkill._meta.db_table} held "
            f"JOIN {Skill._meta.db_table} sk ON sk.id = held.skill_id "
            f"JOIN {AnnotatorProfile._meta.db_table} pr ON pr.id = held.profile_id "
            f"WHERE pr.organization_id = %s AND pr.user_id = %s AND sk.organization_id = %s AND sk.name = need.key")
    person = [int(organization_id), int(user_id), int(organization_id)]
    if vendor == "postgresql":
        required = f"({meta} -> 'required_skills')"
        sql = (f"({required} IS NULL OR NOT EXISTS (SELECT 1 FROM jsonb_each(CASE jsonb_typeof({required}) "
               f"WHEN 'object' THEN {required} WHEN 'null' THEN '{{}}'::jsonb ELSE '{{\"\": null}}'::jsonb END) need "
               f"WHERE jsonb_typeof(need.value) <> 'number' "
               f"OR (need.value #>> '{{}}')::numeric > COALESCE(({held}), 0)))")
        return sql, [*params * 4, *person]
    sql = (f"(json_type({meta}, '$.required_skills') IS NULL OR json_type({meta}, '$.required_skills') = 'null' "
           f"OR (json_type({meta}, '$.required_skills') = 'object' AND NOT EXISTS (SELECT 1 FROM "
           f"json_each({meta}, '$.required_skills') need WHERE need.type NOT IN ('integer', 'real') "
           f"OR need.value > COALESCE(({held}), 0))))")
    return sql, [*params * 5, *person]


def next_utc_midnight(now: datetime | None = None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def submitted_today(*, project_ids, user, now: datetime | None = None) -> dict[int, int]:
    """{project id: queue annotations `user` submitted there since UTC midnight}, one query for all."""
    since = next_utc_midnight(now) - timedelta(days=1)
    rows = (Annotation.objects.filter(project_id__in=list(project_ids), author_id=user.pk, created_at__gte=since,
                                      assignment__kind=Assignment.Kind.QUEUE)
            .values("project_id").annotate(n=Count("id")).values_list("project_id", "n"))
    counts = {pk: 0 for pk in project_ids}
    counts.update(dict(rows))
    return counts


def prefetch_today(*, user, counts: dict[int, int], now: datetime | None = None) -> None:
    """Tell the cap rule these counts (a list view that already counted), for this user object only."""
    day = next_utc_midnight(now)
    user.__dict__.setdefault("_workforce_today", {}).update({pk: (day, n) for pk, n in counts.items()})


class SkillsAndCaps:
    """The `tasks.eligibility` rule: tasks that require skills go to those who have them; the daily cap."""

    name = "workforce.skills_and_caps"

    def refusal(self, *, project, user) -> Refusal | None:
        cap = (project.settings or {}).get("daily_cap")
        if not cap:
            return None
        until = next_utc_midnight()
        known = user.__dict__.get("_workforce_today", {}).pop(project.pk, None)
        done = known[1] if known is not None and known[0] == until else \
            submitted_today(project_ids=[project.pk], user=user)[project.pk]
        if done < cap:
            return None
        return Refusal(code="daily_cap_reached",
                       message=f"you have reached this project's daily cap of {cap} annotations; "
                               f"it resets at {until.isoformat()}",
                       reason="daily_cap", until=until)

    def task_filter(self, *, project, user) -> Q | None:
        return Q(QualifiedFor(organization_id=project.organization_id, user_id=user.pk))

    def task_sql(self, *, project, user, vendor) -> tuple[str, list]:
        return qualified_sql("tasks_task.meta", [], vendor=vendor, organization_id=project.organization_id,
                             user_id=user.pk)


def ready() -> None:
    """Register this area's registry entries."""
    from apps.projects import access as project_access
    from apps.projects import project_settings
    from apps.tasks import eligibility

    project_settings.register_check(settings_check)
    project_access.register(PoolsAndSkills())
    eligibility.register(SkillsAndCaps())
