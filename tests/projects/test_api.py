"""The /projects and /projects/{id}/schema routes: roles, visibility, validation, versions, audit."""

import pytest
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.projects import schema_guard
from apps.projects.models import Project

SENTIMENT = {
    "data": {"text": {"type": "text"}},
    "controls": {
        "sentiment": {"type": "choices", "to": "text",
                      "labels": [{"value": "fresh", "hotkey": "1"}, {"value": "rotten", "hotkey": "2"}]},
    },
}
LS_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="fresh"/><Choice value="rotten"/>
  </Choices>
</View>"""


@pytest.fixture
def project(tenant, as_role):
    response = as_role("manager").post("/api/v1/projects", {"name": "Reviews", "label_schema": SENTIMENT,
                                                            "instructions": "Is the **review** positive?"},
                                       format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_manager_creates_a_project_with_defaults_and_version_1(project, tenant):
    assert project["status"] == "active" and project["schema_version"] == 1
    assert project["settings"]["overlap"] == 1 and project["settings"]["lease_seconds"] == 3600
    assert "<strong>review</strong>" in project["instructions_html"]
    assert project["label_schema"]["controls"]["sentiment"]["type"] == "choices"
    assert AuditEvent.objects.filter(organization=tenant.org, action="project.create",
                                     object_id=str(project["id"])).exists()


def test_project_from_a_label_studio_config(tenant, as_role):
    response = as_role("owner").post("/api/v1/projects", {"name": "LS", "label_config": LS_CONFIG}, format="json")
    assert response.status_code == 201, response.content
    spec = response.json()["label_schema"]
    assert spec["data"]["text"]["type"] == "text"
    assert {label["value"] for label in spec["controls"]["sentiment"]["labels"]} == {"fresh", "rotten"}
    versions = as_role("owner").get(f"/api/v1/projects/{response.json()['id']}/schema").json()["results"]
    assert versions[0]["source"] == "label_studio" and versions[0]["label_config"] == LS_CONFIG


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "x"}, "label_schema"),
        ({"name": "x", "label_schema": SENTIMENT, "label_config": LS_CONFIG}, "label_schema"),
        ({"name": "x", "label_schema": {"controls": {"c": {"type": "lasso"}}}}, "label_schema"),
        ({"name": "x", "label_config": "<View><Choices"}, "label_config"),
        ({"name": "x", "label_schema": SENTIMENT, "settings": {"overlap": 0}}, "settings"),
        ({"label_schema": SENTIMENT}, "name"),
    ],
)
def test_invalid_projects_are_400_naming_the_field(tenant, as_role, body, field):
    response = as_role("manager").post("/api/v1/projects", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert not Project.objects.exists()


def test_settings_patch_merges_deeply_and_is_audited(project, tenant, as_role):
    url = f"/api/v1/projects/{project['id']}"
    as_role("manager").patch(url, {"settings": {"review_policy": {"mode": "sample", "fraction": 0.2}}},
                             format="json")
    response = as_role("manager").patch(url, {"settings": {"review_policy": {"fraction": 0.5}, "overlap": 3}},
                                        format="json")
    assert response.status_code == 200
    settings = response.json()["settings"]
    assert settings["review_policy"] == {"mode": "sample", "fraction": 0.5}
    assert settings["overlap"] == 3 and settings["lease_seconds"] == 3600
    bad = as_role("manager").patch(url, {"settings": {"max_overlap": 1}}, format="json")
    assert bad.status_code == 400 and "max_overlap" in bad.json()["error"]["details"]["settings"]
    event = AuditEvent.objects.filter(action="project.update", object_id=str(project["id"])).latest("id")
    assert event.data == {"changed": ["settings"]}


def test_pause_archive_and_delete(project, tenant, as_role):
    url = f"/api/v1/projects/{project['id']}"
    assert as_role("manager").patch(url, {"status": "paused"}, format="json").json()["status"] == "paused"
    assert as_role("manager").patch(url, {"status": "gone"}, format="json").status_code == 400
    assert as_role("manager").delete(url).status_code == 204
    assert as_role("manager").get(url).status_code == 404
    assert Project.objects.get(pk=project["id"]).deleted_at is not None  # kept, hidden
    assert AuditEvent.objects.filter(action="project.delete", object_id=str(project["id"])).exists()


def test_who_sees_which_project(project, tenant, as_role):
    url = f"/api/v1/projects/{project['id']}"
    for role in ("owner", "manager", "viewer", "reviewer", "annotator"):
        assert as_role(role).get(url).status_code == 200  # open to every member by default
    as_role("manager").patch(url, {"settings": {"access": {"pools": [1]}}}, format="json")
    for role in ("reviewer", "annotator"):
        assert as_role(role).get(url).status_code == 404
        assert as_role(role).get("/api/v1/projects").json()["results"] == []
    assign_perm("projects.work_on_project", tenant.user("annotator"), Project.objects.get(pk=project["id"]))
    assert as_role("annotator").get(url).status_code == 200
    assert as_role("viewer").get(url).status_code == 200
    as_role("manager").patch(url, {"settings": {"access": {"pools": []}}, "status": "archived"}, format="json")
    assert as_role("reviewer").get(url).status_code == 404
    assert as_role("viewer").get(url).status_code == 200


@pytest.mark.parametrize("role,status", [("reviewer", 403), ("annotator", 403), ("viewer", 403)])
def test_only_managers_write(project, as_role, role, status):
    url = f"/api/v1/projects/{project['id']}"
    assert as_role(role).post("/api/v1/projects", {"name": "x", "label_schema": SENTIMENT},
                              format="json").status_code == status
    assert as_role(role).patch(url, {"name": "y"}, format="json").status_code == status
    assert as_role(role).delete(url).status_code == status
    assert as_role(role).post(f"{url}/schema", {"label_schema": SENTIMENT}, format="json").status_code == status


def test_list_costs_a_fixed_number_of_queries(tenant, as_role, django_assert_max_num_queries):
    for i in range(5):
        as_role("manager").post("/api/v1/projects", {"name": f"p{i}", "label_schema": SENTIMENT}, format="json")
    with django_assert_max_num_queries(6):
        results = as_role("manager").get("/api/v1/projects").json()["results"]
    assert len(results) == 5 and all(r["label_schema"]["controls"] for r in results)


class FakeHolder:
    """A label holder as `tasks` will register one: labels in use, and a remap it records."""

    name = "test-holder"

    def __init__(self, used):
        self.used, self.remaps = used, []

    def labels_in_use(self, *, project):
        return self.used

    def apply_remap(self, *, project, remap, new_version, actor):
        self.remaps.append((remap, new_version.version))
        return 7


@pytest.fixture
def holder():
    fake = FakeHolder({"sentiment": {"fresh", "rotten"}})
    schema_guard.register(fake)
    yield fake
    schema_guard._holders.remove(fake)


def test_adding_labels_makes_a_new_version(project, as_role):
    spec = {**SENTIMENT, "controls": {"sentiment": {**SENTIMENT["controls"]["sentiment"],
                                                    "labels": [{"value": "fresh"}, {"value": "rotten"},
                                                               {"value": "mixed"}]}}}
    response = as_role("manager").post(f"/api/v1/projects/{project['id']}/schema", {"label_schema": spec},
                                       format="json")
    assert response.status_code == 201 and response.json()["version"] == 2
    versions = as_role("annotator").get(f"/api/v1/projects/{project['id']}/schema").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    assert as_role("manager").get(f"/api/v1/projects/{project['id']}").json()["schema_version"] == 2


def test_orphaning_labels_in_use_is_409_and_a_remap_applies(project, as_role, holder):
    url = f"/api/v1/projects/{project['id']}/schema"
    renamed = {**SENTIMENT, "controls": {"sentiment": {**SENTIMENT["controls"]["sentiment"],
                                                       "labels": [{"value": "positive"}, {"value": "negative"}]}}}
    response = as_role("manager").post(url, {"label_schema": renamed}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "labels_in_use"
    assert {(item["control"], item["label"]) for item in error["details"]["labels"]} == {
        ("sentiment", "fresh"), ("sentiment", "rotten")}
    bad = as_role("manager").post(url, {"label_schema": renamed, "remap": {"sentiment": {"fresh": "great"}}},
                                  format="json")
    assert bad.status_code == 400 and "remap" in bad.json()["error"]["details"]
    remap = {"sentiment": {"fresh": "positive", "rotten": None}}
    ok = as_role("manager").post(url, {"label_schema": renamed, "remap": remap}, format="json")
    assert ok.status_code == 201 and ok.json()["remap"] == remap
    assert holder.remaps == [(remap, 2)]
    event = AuditEvent.objects.filter(action="schema.create").latest("id")
    assert event.data["rewritten"]["test-holder"] == 7 and event.data["version"] == 2


def test_adding_labels_does_not_read_stored_results(project, as_role):
    class Counting(FakeHolder):
        name = "counting-holder"
        calls = 0

        def labels_in_use(self, *, project):
            Counting.calls += 1
            return self.used

    holder = Counting({"sentiment": {"fresh"}})
    schema_guard.register(holder)
    try:
        url = f"/api/v1/projects/{project['id']}/schema"
        more = {**SENTIMENT, "controls": {"sentiment": {**SENTIMENT["controls"]["sentiment"], "labels": [
            {"value": "fresh"}, {"value": "rotten"}, {"value": "mixed"}]}}}
        assert as_role("manager").post(url, {"label_schema": more}, format="json").status_code == 201
        assert Counting.calls == 0
        fewer = {**SENTIMENT, "controls": {"sentiment": {**SENTIMENT["controls"]["sentiment"], "labels": [
            {"value": "fresh"}, {"value": "rotten"}]}}}
        assert as_role("manager").post(url, {"label_schema": fewer}, format="json").status_code == 201
        assert Counting.calls == 1  # dropping "mixed" (unused) needed one look
    finally:
        schema_guard._holders.remove(holder)
