"""The tenant-scoped admin at /app/admin/: only owners and managers of the active organization enter; lists,
objects, foreign-key choices and saves stay inside that organization; writes go through the services."""

import re

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.orgs.tenancy import SESSION_KEY
from apps.projects.services import project_create
from apps.qa.models import QualityRule
from apps.workforce.models import Pool, Skill
from apps.workforce.profiles import profiles_ensure

from ..conftest import session_client as browser
from ..factories import MembershipFactory

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "labels": [{"value": "yes"}, {"value": "no"}]}}}


@pytest.fixture
def projects(tenant, other_tenant):
    mine = project_create(organization=tenant.org, actor=tenant.user("manager"), name="Mine", label_schema=SPEC)
    theirs = project_create(organization=other_tenant.org, actor=other_tenant.user("manager"), name="Theirs",
                            label_schema=SPEC)
    return mine, theirs


def test_anonymous_visitors_go_to_the_sign_in_page(db):
    response = Client().get("/app/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("manager", 200), ("reviewer", 403),
                                              ("annotator", 403), ("viewer", 403)])
def test_only_owners_and_managers_enter(tenant, projects, role, status):
    client = browser(tenant.user(role))
    assert client.get("/app/admin/").status_code == status
    assert client.get("/app/admin/projects/project/").status_code == status
    assert client.get(f"/app/admin/projects/project/{projects[0].pk}/change/").status_code == status


def test_staff_status_does_not_open_it(tenant):
    user = tenant.user("annotator")
    user.is_staff = True
    user.save()
    assert browser(user).get("/app/admin/").status_code == 403


def test_a_manager_here_but_an_annotator_in_the_active_organization_is_refused(tenant, other_tenant):
    user = tenant.user("manager")
    MembershipFactory(organization=other_tenant.org, user=user, role="annotator")
    client = browser(user)
    session = client.session
    session[SESSION_KEY] = other_tenant.org.pk
    session.save()
    assert client.get("/app/admin/").status_code == 403


def test_lists_show_only_my_organizations_rows(tenant, projects):
    html = browser(tenant.user("manager")).get("/app/admin/projects/project/").content.decode()
    assert "Mine" in html and "Theirs" not in html
    # The list filter of another model offers my projects only.
    rules = browser(tenant.user("manager")).get("/app/admin/qa/qualityrule/").content.decode()
    assert "Theirs" not in rules


def test_another_organizations_object_is_404(tenant, projects):
    client = browser(tenant.user("manager"))
    assert client.get(f"/app/admin/projects/project/{projects[1].pk}/change/").status_code == 404
    assert client.get(f"/app/admin/projects/project/{projects[1].pk}/history/").status_code == 404


def test_the_index_lists_the_registered_apps(tenant):
    html = browser(tenant.user("owner")).get("/app/admin/").content.decode()
    for label in ("Projects", "Tasks", "Annotations", "Flags", "Pools", "Skills", "Exams", "Quality rules",
                  "Exports", "Dataset snapshots"):
        assert label in html, label


def _options(html: str, name: str) -> set[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)[1]
    return set(re.findall(r'<option value="(\d+)"', select))


def test_foreign_key_choices_are_my_organizations(tenant, projects):
    html = browser(tenant.user("manager")).get("/app/admin/qa/qualityrule/add/").content.decode()
    assert _options(html, "project") == {str(projects[0].pk)}


def _rule_form(project_id) -> dict:
    return {"project": project_id, "collector": "gold_accuracy", "params": "{}", "min_samples": 5, "op": "<",
            "threshold": 0.6, "action": "warn", "duration_hours": "", "active": "on"}


def test_a_manager_cannot_save_a_rule_into_another_organizations_project(tenant, projects):
    response = browser(tenant.user("manager")).post("/app/admin/qa/qualityrule/add/", _rule_form(projects[1].pk))
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()
    assert not QualityRule.objects.exists()


def test_a_rule_saved_here_goes_through_the_service(tenant, projects):
    response = browser(tenant.user("manager")).post("/app/admin/qa/qualityrule/add/", _rule_form(projects[0].pk))
    assert response.status_code == 302
    rule = QualityRule.objects.get()
    assert rule.organization_id == tenant.org.pk and rule.project_id == projects[0].pk
    assert rule.created_by == tenant.user("manager")
    assert AuditEvent.objects.filter(action="quality_rule.create", object_id=str(rule.pk)).exists()


def test_pools_take_members_of_my_organization_only(tenant, other_tenant):
    profiles_ensure(organization=tenant.org)
    profiles_ensure(organization=other_tenant.org)
    mine = tenant.member("annotator").profile
    theirs = other_tenant.member("annotator").profile
    client = browser(tenant.user("manager"))
    html = client.get("/app/admin/workforce/pool/add/").content.decode()
    choices = set(re.findall(r'<option value="(\d+)"', html))
    assert str(mine.pk) in choices and str(theirs.pk) not in choices
    refused = client.post("/app/admin/workforce/pool/add/", {"name": "night", "description": "",
                                                             "members": [theirs.pk]})
    assert refused.status_code == 200 and not Pool.objects.filter(name="night").exists()
    saved = client.post("/app/admin/workforce/pool/add/", {"name": "night", "description": "", "members": [mine.pk]})
    assert saved.status_code == 302
    pool = Pool.objects.get(name="night")
    assert pool.organization_id == tenant.org.pk and list(pool.members.all()) == [mine]
    assert AuditEvent.objects.filter(action="pool.create", object_id=str(pool.pk)).exists()


def test_a_skill_made_here_is_in_my_organization_even_if_the_form_names_another(tenant, other_tenant):
    response = browser(tenant.user("manager")).post("/app/admin/workforce/skill/add/", {
        "name": "medical", "description": "", "organization": other_tenant.org.pk})
    assert response.status_code == 302
    assert Skill.objects.get(name="medical").organization_id == tenant.org.pk


def test_a_taken_skill_name_is_a_message_not_a_500(tenant):
    client = browser(tenant.user("manager"))
    client.post("/app/admin/workforce/skill/add/", {"name": "medical", "description": ""})
    response = client.post("/app/admin/workforce/skill/add/", {"name": "medical", "description": ""}, follow=True)
    assert response.status_code == 200 and Skill.objects.filter(name="medical").count() == 1
    assert "Not saved" in response.content.decode()


def test_project_changes_go_through_project_update(tenant, projects):
    mine = projects[0]
    client = browser(tenant.user("manager"))
    response = client.post(f"/app/admin/projects/project/{mine.pk}/change/", {
        "name": "Renamed", "description": "", "instructions": "", "status": "paused",
        "settings": '{"overlap": 2, "max_overlap": 2}'})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "Renamed" and mine.status == "paused" and mine.settings["overlap"] == 2
    assert mine.settings["lease_seconds"] == 3600  # merged, not replaced
    assert AuditEvent.objects.filter(action="project.update", object_id=str(mine.pk)).exists()
    bad = client.post(f"/app/admin/projects/project/{mine.pk}/change/", {
        "name": "Renamed", "description": "", "instructions": "", "status": "active", "settings": '{"overlap": -1}'})
    assert bad.status_code == 200 and "invalid settings" in bad.content.decode()


def test_tasks_and_exports_are_read_only(tenant, projects):
    client = browser(tenant.user("manager"))
    assert client.get("/app/admin/tasks/task/add/").status_code == 403
    assert client.get("/app/admin/exports/export/add/").status_code == 403
    html = client.get("/app/admin/tasks/task/").content.decode()
    assert "Add task" not in html


def test_account_links_lead_to_the_apps_own_pages(tenant):
    client = browser(tenant.user("manager"))
    assert client.get("/app/admin/password_change/")["Location"] == "/accounts/password/change/"
    assert 'href="/app/projects/"' in client.get("/app/admin/").content.decode()  # "view site"
