"""Workforce access: the filter language, restricted projects, skill routing, daily caps, /me/projects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from apps.projects.models import Project
from apps.tasks import eligibility
from apps.tasks.models import Annotation, Task
from apps.workforce.access import FilterError, SkillsAndCaps, compile_filter, next_utc_midnight
from apps.workforce.models import Pool, Skill
from apps.workforce.profiles import profile_for, skill_level_set
from tests.conftest import token_client
from tests.tasks.queue_support import ANSWER, SPEC, annotators, make_project, next_task, submit, task_ids, work

MEDICAL = "skill.medical >= 70 and 'de' in languages"
PERSON = {"skills": {"medical": 80, "law": 20}, "languages": ["de", "en"], "pools": [3, 7]}


# --- the language -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    (MEDICAL, True),
    ("skill.medical >= 81", False),
    ("skill.medical > 79.5", True),
    ("skill.missing == 0", True),  # a skill one lacks is 0
    ("skill.missing > 0", False),
    ("skill.law < 50 and skill.law != 21", True),
    ("skill.law <= 19 or skill.medical == 80", True),
    ("not skill.law >= 20", False),
    ("not (skill.law >= 20 and 'fr' in languages)", True),
    ("'fr' in languages", False),
    ("'FR' not in languages", True),
    ('"EN" in languages', True),  # language codes compare case-insensitively
    ("7 in pools", True),
    ("4 in pools", False),
    ("4 not in pools or 3 in pools", True),
    ("'a' == 'a' and 'a' != 'b'", True),
    ("(((skill.medical >= 70)))", True),
    ("skill.law >= 10 and skill.law <= 30 and not 9 in pools", True),
    ("skill.x-ray >= 0", True),  # skill names are slugs
])
def test_filters_evaluate(text, expected):
    assert compile_filter(text).matches(PERSON) is expected


@pytest.mark.parametrize("text,message", [
    ("skill.x >", "ends too early (column 10)"),
    ("__import__('os')", "function calls are not allowed (column 11)"),
    ("skill.medical.foo", "only skill.<name> may use a dot (column 14)"),
    ("1 +", "arithmetic is not allowed: unexpected '+' (column 3)"),
    ("open()", "function calls are not allowed (column 5)"),
    ("languages[0]", "indexing with [] is not allowed (column 10)"),
    ("foo > 1", "unknown name 'foo' (column 1)"),
    ("skill > 3", "unknown name 'skill' (column 1)"),
    ("skill.a >= 1 garbage", "unexpected 'garbage' (column 14)"),
    ("skill.a >= 1 and", "ends too early (column 17)"),
    ("1 < 2 < 3", "column 7"),
    ("skill.medical", "expected a condition"),
    ("languages", "expected a condition"),
    ("skill.a == 'x'", "cannot compare a number with a string (column 9)"),
    ("'a' < 'b'", "strings compare only with == and != (column 5)"),
    ("1 in languages", "put a quoted string before 'in' (column 1)"),
    ("'x' in pools", "put a number before 'in' (column 1)"),
    ("3 in 4", "'in' takes languages or pools on its right (column 6)"),
    ("'unclosed", "a string is not closed (column 1)"),
    ("skill.a = 1", "unexpected character '=' (column 9)"),
    ("skill.a >= 1 and not", "ends too early"),
    ("   ", "empty"),
    ("(" * 600 + "1 == 1" + ")" * 600, "at most 1000 characters"),
])
def test_malformed_filters_are_rejected_with_the_column(text, message):
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    assert message in str(caught.value)


def test_a_filter_is_parsed_once():
    assert compile_filter("skill.cache_me >= 1") is compile_filter("skill.cache_me >= 1")


def test_patch_with_a_bad_filter_is_400_naming_access(tenant, as_role):
    project = make_project(as_role("manager"), tasks=0)
    url = f"/api/v1/projects/{project['id']}"
    response = as_role("manager").patch(url, {"settings": {"access": {"skill_filter": "open('x')"}}}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "function calls are not allowed" in " ".join(error["details"]["settings"]["access"])
    assert Project.objects.get(pk=project["id"]).settings["access"]["skill_filter"] == ""
    good = as_role("manager").patch(url, {"settings": {"access": {"skill_filter": MEDICAL}}}, format="json")
    assert good.status_code == 200 and good.json()["settings"]["access"]["skill_filter"] == MEDICAL


def test_create_with_a_bad_filter_is_400(tenant, as_role):
    body = {"name": "x", "label_schema": SPEC, "settings": {"access": {"pools": [], "skill_filter": "skill.x >"}}}
    response = as_role("manager").post("/api/v1/projects", body, format="json")
    assert response.status_code == 400
    assert "ends too early" in " ".join(response.json()["error"]["details"]["settings"]["access"])


# --- restricted projects ------------------------------------------------------------------------------------

def _pool(tenant, name="Medical team"):
    return Pool.objects.create(organization=tenant.org, name=name)


def _skill(tenant, name="medical"):
    return Skill.objects.get_or_create(organization=tenant.org, name=name)[0]


def _listed(client, url="/api/v1/projects"):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_restricted_project_opens_to_pool_members_who_pass_the_filter(tenant, as_role):
    pool = _pool(tenant)
    project = make_project(as_role("manager"), tasks=3,
                           settings={"access": {"pools": [pool.pk], "skill_filter": MEDICAL}})
    (member, client), (granted, granted_client) = annotators(tenant, 2)
    url = f"/api/v1/projects/{project['id']}"

    def shut_out():
        assert client.get(url).status_code == 404
        assert next_task(client, project).status_code == 404
        assert project["id"] not in _listed(client)
        assert project["id"] not in _listed(client, "/api/v1/me/projects")

    shut_out()
    profile = profile_for(organization=tenant.org, user=member.user)
    profile.languages = ["de"]
    profile.save()
    pool.members.add(profile)
    shut_out()  # in the pool, but without the skill
    skill_level_set(profile=profile, skill=_skill(tenant), level=60)
    shut_out()  # below the filter's level
    skill_level_set(profile=profile, skill=_skill(tenant), level=75)
    assert client.get(url).status_code == 200
    assert project["id"] in _listed(client) and project["id"] in _listed(client, "/api/v1/me/projects")
    response = next_task(client, project)
    assert response.status_code == 200 and response.json()["task"]["id"] in task_ids(project)

    pool.members.remove(profile)  # the filter alone is not enough when the project names pools
    assert client.get(url).status_code == 404

    # An explicit grant still opens it, through projects' own code.
    assert next_task(granted_client, project).status_code == 404
    assign_perm("projects.work_on_project", granted.user, Project.objects.get(pk=project["id"]))
    assert next_task(granted_client, project).status_code == 200
    assert project["id"] in _listed(granted_client)


def test_a_filter_alone_restricts_without_pools(tenant, as_role):
    project = make_project(as_role("manager"), tasks=1, settings={"access": {"pools": [], "skill_filter":
                                                                             "'fr' in languages"}})
    (member, client), = annotators(tenant, 1)
    assert next_task(client, project).status_code == 404
    profile = profile_for(organization=tenant.org, user=member.user)
    profile.languages = ["FR"]
    profile.save()
    assert next_task(client, project).status_code == 200


def test_reviewers_are_routed_and_managers_and_viewers_see_all(tenant, as_role):
    pool = _pool(tenant)
    project = make_project(as_role("manager"), tasks=1, settings={"access": {"pools": [pool.pk],
                                                                             "skill_filter": ""}})
    url = f"/api/v1/projects/{project['id']}"
    assert as_role("reviewer").get(url).status_code == 404
    pool.members.add(profile_for(organization=tenant.org, user=tenant.user("reviewer")))
    assert as_role("reviewer").get(url).status_code == 200
    for role in ("owner", "manager", "viewer"):
        assert as_role(role).get(url).status_code == 200


def test_a_pool_of_another_organization_opens_nothing(tenant, other_tenant, as_role):
    foreign = _pool(other_tenant, "Their pool")
    project = make_project(as_role("manager"), tasks=1, settings={"access": {"pools": [foreign.pk],
                                                                             "skill_filter": ""}})
    (member, client), = annotators(tenant, 1)
    # Even a (corrupt) membership of that foreign pool does not count: pools are read within the project's org.
    foreign.members.add(profile_for(organization=tenant.org, user=member.user))
    assert next_task(client, project).status_code == 404
    assert project["id"] not in _listed(client)


def test_listing_restricted_projects_costs_a_constant_number_of_queries(tenant, as_role):
    pool = _pool(tenant)
    (member, client), = annotators(tenant, 1)
    profile = profile_for(organization=tenant.org, user=member.user)
    profile.languages = ["de"]
    profile.save()
    pool.members.add(profile)
    skill_level_set(profile=profile, skill=_skill(tenant), level=90)

    def queries_for_listing():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/me/projects").status_code == 200
        return [q["sql"][:150] for q in captured]

    make_project(as_role("manager"), tasks=1, settings={"access": {"pools": [pool.pk], "skill_filter": MEDICAL}})
    queries_for_listing()  # warm: the token's last use, guardian's content types
    few = queries_for_listing()
    for _ in range(4):
        make_project(as_role("manager"), tasks=1,
                     settings={"access": {"pools": [pool.pk], "skill_filter": "skill.medical > 50"}})
    more = queries_for_listing()
    assert len(_listed(client, "/api/v1/me/projects")) == 5
    assert len(more) == len(few), "\n".join(more) + "\n----\n" + "\n".join(few)


# --- task-level routing -------------------------------------------------------------------------------------

def test_tasks_requiring_skills_go_only_to_qualified_people(tenant, as_role):
    project = make_project(as_role("manager"), tasks=6, settings={"overlap": 3, "max_overlap": 3})
    plain, medical70, medical90, law, bad, nulled = task_ids(project)
    requirements = {medical70: {"medical": 70}, medical90: {"medical": 90}, law: {"law": 10, "medical": 10},
                    bad: {"medical": "high"}, nulled: None}
    for task_id, required in requirements.items():
        Task.objects.filter(pk=task_id).update(meta={"required_skills": required, "source": "x"})
    (novice, novice_client), (doctor, doctor_client), (lawyer, lawyer_client) = annotators(tenant, 3)
    skill_level_set(profile=profile_for(organization=tenant.org, user=doctor.user), skill=_skill(tenant), level=80)
    lawyer_profile = profile_for(organization=tenant.org, user=lawyer.user)
    skill_level_set(profile=lawyer_profile, skill=_skill(tenant, "law"), level=10)
    skill_level_set(profile=lawyer_profile, skill=_skill(tenant), level=10)

    assert sorted(work(novice_client, project)) == [plain, nulled]
    assert sorted(work(doctor_client, project)) == [plain, medical70, nulled]
    assert sorted(work(lawyer_client, project)) == [plain, law, nulled]


def test_skill_routing_asks_nothing_of_the_database_up_front(tenant, as_role, django_assert_num_queries):
    project = Project.objects.get(pk=make_project(as_role("manager"), tasks=0)["id"])
    with django_assert_num_queries(0):
        q = SkillsAndCaps().task_filter(project=project, user=tenant.user("annotator"))
    assert Task.objects.filter(q, project=project).count() == 0


def test_a_skill_of_another_organization_does_not_qualify(tenant, other_tenant, as_role):
    project = make_project(as_role("manager"), tasks=1)
    Task.objects.filter(project_id=project["id"]).update(meta={"required_skills": {"medical": 50}})
    (member, client), = annotators(tenant, 1)
    profile = profile_for(organization=tenant.org, user=member.user)
    # A level recorded against the other organization's skill of the same name.
    skill_level_set(profile=profile, skill=_skill(other_tenant), level=100)
    assert next_task(client, project).status_code == 204
    skill_level_set(profile=profile, skill=_skill(tenant), level=50)
    assert next_task(client, project).status_code == 200


# --- daily caps ---------------------------------------------------------------------------------------------

def test_the_daily_cap_refuses_next_until_midnight(tenant, as_role):
    project = make_project(as_role("manager"), tasks=6, settings={"daily_cap": 2})
    (member, client), (_, other) = annotators(tenant, 2)
    for _ in range(2):
        lease = next_task(client, project)
        assert lease.status_code == 200
        assert submit(client, lease.json()).status_code == 201
    refused = next_task(client, project)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "daily_cap_reached"
    if "until" in (error.get("details") or {}):
        assert error["details"]["until"].startswith(next_utc_midnight().date().isoformat())
    assert next_task(other, project).status_code == 200  # the cap is per person

    mine = Annotation.objects.filter(project_id=project["id"], author=member.user)
    assert mine.count() == 2
    yesterday = next_utc_midnight() - timedelta(days=1, seconds=1)
    Annotation.objects.filter(pk=mine.first().pk).update(created_at=yesterday)
    assert next_task(client, project).status_code == 200  # yesterday's work does not count today

    as_role("manager").patch(f"/api/v1/projects/{project['id']}", {"settings": {"daily_cap": None}}, format="json")
    assert next_task(client, project).status_code == 200


def test_annotations_outside_the_queue_do_not_count_toward_the_cap(tenant, as_role):
    project = make_project(as_role("manager"), tasks=3, settings={"daily_cap": 1})
    manager = as_role("manager")
    attached = manager.post(f"/api/v1/tasks/{task_ids(project)[0]}/annotations", {"result": ANSWER}, format="json")
    assert attached.status_code == 201, attached.content
    assert next_task(manager, project).status_code == 200


# --- /me/projects -------------------------------------------------------------------------------------------

# role → (sees the open project, sees the restricted one, may start the open one)
ME_PROJECTS = [
    ("owner", True, True, True),
    ("manager", True, True, True),
    ("reviewer", True, False, True),
    ("annotator", True, False, True),
    ("viewer", True, True, False),
]


@pytest.mark.parametrize("role,sees_open,sees_restricted,may_start", ME_PROJECTS)
def test_me_projects_by_role(tenant, other_tenant, as_role, role, sees_open, sees_restricted, may_start):
    open_project = make_project(as_role("manager"), tasks=3)
    restricted = make_project(as_role("manager"), tasks=1,
                              settings={"access": {"pools": [_pool(tenant).pk], "skill_filter": ""}})
    theirs = make_project(token_client(other_tenant.secrets["manager"]), tasks=1)
    response = as_role(role).get("/api/v1/me/projects")
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert (open_project["id"] in rows) is sees_open
    assert (restricted["id"] in rows) is sees_restricted
    assert theirs["id"] not in rows
    row = rows[open_project["id"]]
    assert row["name"] == "Queue" and row["status"] == "active"
    assert row["progress"]["tasks_remaining"] == 3 and row["progress"]["annotations_today"] == 0
    assert row["can_start"] is may_start
    if not may_start:
        assert row["blocked"]["code"] == "permission_denied"


def test_me_projects_is_tenant_scoped(tenant, other_tenant, as_role):
    make_project(as_role("manager"), tasks=1)
    other = token_client(other_tenant.secrets["annotator"])
    assert other.get("/api/v1/me/projects").json()["results"] == []
    assert token_client("not-a-token").get("/api/v1/me/projects").status_code == 401


def test_me_projects_reports_progress_and_why_one_may_not_start(tenant, as_role, monkeypatch):
    capped = make_project(as_role("manager"), tasks=4, settings={"daily_cap": 1})
    paused = make_project(as_role("manager"), tasks=1)
    as_role("manager").patch(f"/api/v1/projects/{paused['id']}", {"status": "paused"}, format="json")
    (member, client), = annotators(tenant, 1)
    assert submit(client, next_task(client, capped).json()).status_code == 201

    rows = {row["id"]: row for row in client.get("/api/v1/me/projects").json()["results"]}
    row = rows[capped["id"]]
    assert row["progress"] == {"tasks_remaining": 3, "annotations_remaining": 3, "annotations_today": 1,
                               "annotations_total": 1, "daily_cap": 1}
    assert row["can_start"] is False and row["blocked"]["code"] == "daily_cap_reached"
    assert row["blocked"]["until"].startswith(next_utc_midnight().date().isoformat())
    assert rows[paused["id"]]["blocked"]["code"] == "project_paused"

    class ExamRequired:  # the hook other rules (exams) answer through
        name = "test-exam"

        def refusal(self, *, project, user):
            return eligibility.Refusal(code="exam_required", message="pass the exam first")

        def task_filter(self, *, project, user):
            return None

    monkeypatch.setattr(eligibility, "_rules", [ExamRequired(), *eligibility._rules])
    uncapped = make_project(as_role("manager"), tasks=1)
    blocked = {row["id"]: row for row in client.get("/api/v1/me/projects").json()["results"]}[uncapped["id"]]
    assert blocked["blocked"] == {"code": "exam_required", "message": "pass the exam first", "until": None}


def test_a_skill_gained_later_reaches_tasks_passed_before(tenant, as_role):
    project = make_project(as_role("manager"), tasks=2)
    medical, plain = task_ids(project)
    Task.objects.filter(pk=medical).update(meta={"required_skills": {"medical": 50}})
    (member, client), = annotators(tenant, 1)
    assert work(client, project) == [plain]
    skill_level_set(profile=profile_for(organization=tenant.org, user=member.user), skill=_skill(tenant), level=60)
    assert work(client, project) == [medical]
