"""Annotations outside the queue: read, edit with versions, history with diffs, revert, attach; what annotators
see of tasks and media."""

import hashlib
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.tasks import signals
from apps.tasks.annotations import result_diff
from apps.tasks.models import Annotation, AnnotationVersion, Assignment, Media, Prediction, Task

from ..conftest import ROLES, make_tenant, token_client
from .queue_support import ANSWER, annotators, make_project, next_task, submit, task_ids

B = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]
BAD = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["zebra"]}}]


def region(region_id, label, start=0, **extra):
    item = {"from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + 3, "labels": [label]}, **extra}
    if region_id is not None:
        item["id"] = region_id
    return item


# --- the diff (a pure function) ----------------------------------------------------------------------------


def test_diff_matches_regions_by_id():
    old = [region("r1", "PER"), region("r2", "ORG", 10), region("r3", "LOC", 20)]
    new = [region("r3", "LOC", 20), region("r1", "ORG"), region("r4", "PER", 30)]
    diff = result_diff(old, new)
    assert diff["added"] == [region("r4", "PER", 30)]
    assert diff["removed"] == [region("r2", "ORG", 10)]
    assert diff["changed"] == [{"id": "r1", "index": 1, "from_name": "ner",
                                "from": {"start": 0, "end": 3, "labels": ["PER"]},
                                "to": {"start": 0, "end": 3, "labels": ["ORG"]}}]


def test_diff_falls_back_to_position_per_control_without_ids():
    choice = ANSWER[0]
    old = [choice]
    new = [region(None, "PER"), B[0]]  # a region of another control first: the choice is still matched
    diff = result_diff(old, new)
    assert diff["added"] == [region(None, "PER")] and diff["removed"] == []
    assert diff["changed"] == [{"id": None, "index": 1, "from_name": "s", "from": {"choices": ["a"]},
                                "to": {"choices": ["b"]}}]


def test_diff_shows_whole_regions_when_more_than_the_value_changed():
    old = [region("r1", "PER")]
    new = [region("r1", "PER", meta={"text": ["unsure"]})]
    change = result_diff(old, new)["changed"][0]
    assert change["from"] == region(None, "PER") and change["to"] == region(None, "PER", meta={"text": ["unsure"]})
    relation = {"type": "relation", "from_id": "r1", "to_id": "r2", "direction": "right", "labels": []}
    diff = result_diff([relation], [{**relation, "labels": ["works_for"]}])
    assert diff["changed"][0]["from"] == relation and diff["changed"][0]["to"]["labels"] == ["works_for"]


def test_diff_of_equal_results_is_empty_and_of_the_first_version_is_all_added():
    assert result_diff(ANSWER, [dict(ANSWER[0])]) == {"added": [], "removed": [], "changed": []}
    assert result_diff([], ANSWER) == {"added": ANSWER, "removed": [], "changed": []}
    assert result_diff(None, "junk") == {"added": [], "removed": [], "changed": []}
    # a duplicated id (never accepted by validation, but stored data may be old) does not hide a region
    twice = [region("r1", "PER"), region("r1", "ORG", 5)]
    assert result_diff([], twice)["added"] == twice


# --- read and edit -----------------------------------------------------------------------------------------


@pytest.fixture
def manager(as_role):
    return as_role("manager")


@pytest.fixture
def annotated(tenant, manager, as_role):
    """A project whose first task the tenant's annotator has annotated (choices ["a"])."""
    project = make_project(manager, tasks=3)
    lease = next_task(as_role("annotator"), project).json()
    annotation = submit(as_role("annotator"), lease).json()
    return project, lease, annotation


def url(annotation, suffix=""):
    return f"/api/v1/annotations/{annotation['id']}{suffix}"


def test_get_shows_the_annotation_to_those_who_may_see_it(tenant, annotated, as_role):
    project, lease, annotation = annotated
    body = as_role("annotator").get(url(annotation)).json()
    assert body["id"] == annotation["id"] and body["result"] == ANSWER and body["version"] == 1
    assert body["task"] == lease["task"]["id"] and body["project"] == project["id"]
    assert body["author"] == tenant.user("annotator").email and body["source"] == "human"
    for role in ("owner", "manager", "reviewer", "viewer"):
        assert as_role(role).get(url(annotation) + "/").status_code == 200
    (_, stranger), = annotators(tenant, 1)
    response = stranger.get(url(annotation))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_patch_makes_a_new_version_and_audits_it(tenant, annotated, as_role):
    _, _, annotation = annotated
    response = as_role("annotator").patch(url(annotation), {"result": B, "version": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 2 and body["result"] == B
    stored = Annotation.objects.get(pk=annotation["id"])
    assert (stored.version, stored.result) == (2, B)
    versions = list(AnnotationVersion.objects.filter(annotation=stored).order_by("version"))
    assert [(v.version, v.result, v.reason, v.source) for v in versions] == [
        (1, ANSWER, "submitted", "human"), (2, B, "edit", "human")]
    assert versions[1].author == tenant.user("annotator")
    event = AuditEvent.objects.get(action="annotation.edit", object_id=str(annotation["id"]))
    assert event.data["version"] == 2 and event.actor == tenant.user("annotator")


def test_a_stale_version_is_409_with_the_current_one(annotated, as_role):
    _, _, annotation = annotated
    assert as_role("reviewer").patch(url(annotation), {"result": B, "version": 1}, format="json").status_code == 200
    stale = as_role("annotator").patch(url(annotation), {"result": ANSWER, "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["details"] == {"current_version": 2}
    assert Annotation.objects.get(pk=annotation["id"]).result == B


@pytest.mark.parametrize("body,status,field", [
    ({"result": BAD, "version": 1}, 422, None),
    ({"result": {"not": "a list"}, "version": 1}, 422, None),
    ({"result": B, "version": "one"}, 400, "version"),
    ({"result": B, "version": 0}, 400, "version"),
    ({"result": B, "version": 2**40}, 400, "version"),
    ({"result": B}, 400, "version"),
    ({"version": 1}, 400, "result"),
    ([B], 400, "non_field_errors"),
])
def test_bad_edits_answer_the_error_envelope(annotated, as_role, body, status, field):
    _, _, annotation = annotated
    response = as_role("annotator").patch(url(annotation), body, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if status == 422:
        assert error["code"] == "schema_mismatch" and error["details"]["path"].startswith("result")
    else:
        assert error["code"] == "validation_error" and field in error["details"]
    assert Annotation.objects.get(pk=annotation["id"]).version == 1


def test_a_schema_mismatch_names_the_json_path(annotated, as_role):
    _, _, annotation = annotated
    error = as_role("manager").patch(url(annotation), {"result": BAD, "version": 1}, format="json").json()["error"]
    assert error["details"]["path"] == "result[0].value.choices[0]"


def test_viewers_may_read_but_not_edit(annotated, as_role):
    _, _, annotation = annotated
    response = as_role("viewer").patch(url(annotation), {"result": B, "version": 1}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def _waiting_on_locks() -> int:
    """Backends of this test database waiting for a lock (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                       "WHERE NOT l.granted AND a.datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_of_the_same_version_give_one_200_and_one_409():
    """Both edits have read version 1 and wait on the annotation's row; the lock, not timing, decides."""
    tenant = make_tenant("race")
    manager = token_client(tenant.secrets["manager"])
    project = make_project(manager, tasks=1)
    annotator = token_client(tenant.secrets["annotator"])
    annotation = submit(annotator, next_task(annotator, project).json()).json()
    answers = []

    def edit(client, result):
        try:
            answers.append(client.patch(url(annotation), {"result": result, "version": 1}, format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(annotator, B)),
               threading.Thread(target=edit, args=(token_client(tenant.secrets["manager"]), []))]
    with transaction.atomic():
        Annotation.objects.select_for_update().get(pk=annotation["id"])  # hold the row while both arrive
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while _waiting_on_locks() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _waiting_on_locks() == 2
    for thread in threads:
        thread.join(30)
    assert sorted(response.status_code for response in answers) == [200, 409], [r.content for r in answers]
    conflict = next(r for r in answers if r.status_code == 409).json()["error"]
    assert conflict["code"] == "version_conflict" and conflict["details"] == {"current_version": 2}
    stored = Annotation.objects.get(pk=annotation["id"])
    assert stored.version == 2 and AnnotationVersion.objects.filter(annotation=stored).count() == 2


# --- history -----------------------------------------------------------------------------------------------


def test_history_lists_versions_oldest_first_with_diffs(tenant, annotated, as_role):
    _, _, annotation = annotated
    as_role("annotator").patch(url(annotation), {"result": B, "version": 1}, format="json")
    as_role("manager").patch(url(annotation), {"result": [], "version": 2}, format="json")
    response = as_role("annotator").get(url(annotation, "/history"))
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    history = body["results"]
    assert [(h["version"], h["reason"], h["source"], h["author"]) for h in history] == [
        (1, "submitted", "human", tenant.user("annotator").email),
        (2, "edit", "human", tenant.user("annotator").email),
        (3, "edit", "human", tenant.user("manager").email),
    ]
    assert history[0]["diff"] == {"added": ANSWER, "removed": [], "changed": []}
    assert history[1]["diff"]["changed"] == [{"id": None, "index": 0, "from_name": "s",
                                              "from": {"choices": ["a"]}, "to": {"choices": ["b"]}}]
    assert history[2]["diff"] == {"added": [], "removed": B, "changed": []}
    assert history[2]["result"] == [] and history[0]["schema_version"] == 1 and history[0]["created_at"]


def test_history_pages_keep_the_diff_against_the_previous_page(annotated, as_role):
    _, _, annotation = annotated
    as_role("annotator").patch(url(annotation), {"result": B, "version": 1}, format="json")
    first = as_role("manager").get(url(annotation, "/history?page_size=1")).json()
    assert [h["version"] for h in first["results"]] == [1] and first["next"]
    second = as_role("manager").get(first["next"]).json()
    assert [h["version"] for h in second["results"]] == [2]
    assert second["results"][0]["diff"]["changed"][0]["from"] == {"choices": ["a"]}


def test_history_is_404_to_those_who_may_not_see_the_annotation(tenant, annotated, as_role):
    _, _, annotation = annotated
    (_, stranger), = annotators(tenant, 1)
    assert stranger.get(url(annotation, "/history")).status_code == 404
    assert as_role("viewer").get(url(annotation, "/history")).status_code == 200


# --- revert ------------------------------------------------------------------------------------------------


def test_revert_makes_a_new_version_equal_to_the_old_one(tenant, annotated, as_role):
    _, _, annotation = annotated
    as_role("annotator").patch(url(annotation), {"result": B, "version": 1}, format="json")
    response = as_role("manager").post(url(annotation, "/revert"), {"version": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 3 and response.json()["result"] == ANSWER
    versions = AnnotationVersion.objects.filter(annotation_id=annotation["id"]).order_by("version")
    assert [(v.version, v.result, v.reason) for v in versions] == [
        (1, ANSWER, "submitted"), (2, B, "edit"), (3, ANSWER, "revert to v1")]
    assert versions.last().author == tenant.user("manager")
    event = AuditEvent.objects.get(action="annotation.revert")
    assert event.data["reverted_to"] == 1 and event.data["version"] == 3
    # the edit that started from version 2 is now stale
    stale = as_role("annotator").patch(url(annotation), {"result": B, "version": 2}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 3


def test_only_managers_revert(annotated, as_role):
    _, _, annotation = annotated
    for role in ("reviewer", "annotator", "viewer"):  # all of them see it
        response = as_role(role).post(url(annotation, "/revert"), {"version": 1}, format="json")
        assert response.status_code == 403, role
    assert as_role("owner").post(url(annotation, "/revert"), {"version": 1}, format="json").status_code == 200


@pytest.mark.parametrize("body", [{"version": 7}, {"version": "x"}, {}, {"version": None}])
def test_revert_to_a_version_that_does_not_exist_is_400(annotated, as_role, body):
    _, _, annotation = annotated
    response = as_role("manager").post(url(annotation, "/revert"), body, format="json")
    assert response.status_code == 400 and "version" in response.json()["error"]["details"]


def test_revert_to_a_label_a_later_schema_removed_is_422(annotated, manager):
    project, _, annotation = annotated
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "b"}, {"value": "c"}]}}}
    changed = manager.post(f"/api/v1/projects/{project['id']}/schema",
                           {"label_schema": spec, "remap": {"s": {"a": "b"}}}, format="json")
    assert changed.status_code == 201, changed.content
    assert Annotation.objects.get(pk=annotation["id"]).result == B  # remapped: version 2
    response = manager.post(url(annotation, "/revert"), {"version": 1}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "schema_mismatch"
    assert response.json()["error"]["details"]["path"] == "result[0].value.choices[0]"
    assert Annotation.objects.get(pk=annotation["id"]).version == 2
    # reverting to the remapped version is fine, and stamps the current schema version
    reverted = manager.post(url(annotation, "/revert"), {"version": 2}, format="json").json()
    assert reverted["version"] == 3 and reverted["schema_version"] == 2


# --- attach ------------------------------------------------------------------------------------------------


def test_managers_attach_an_annotation_made_elsewhere(tenant, manager):
    project = make_project(manager, tasks=2)
    task_id = task_ids(project)[0]
    seen = []

    def receiver(sender, annotation, assignment, actor, **kwargs):
        seen.append((annotation.pk, assignment, actor))

    signals.annotation_submitted.connect(receiver)
    try:
        response = manager.post(f"/api/v1/tasks/{task_id}/annotations", {"result": ANSWER, "lead_time_ms": 5000},
                                format="json")
    finally:
        signals.annotation_submitted.disconnect(receiver)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author"] == tenant.user("manager").email and body["source"] == "human"
    assert body["status"] == "accepted" and body["lead_time_ms"] == 5000 and body["version"] == 1
    task = Task.objects.get(pk=task_id)
    assert (task.annotations_count, task.in_flight, task.status) == (1, 0, "accepted")
    assert seen == [(body["id"], None, tenant.user("manager"))]
    assert AnnotationVersion.objects.get(annotation_id=body["id"]).reason == "attached"
    assert AuditEvent.objects.filter(action="annotation.create", object_id=str(body["id"])).exists()
    # the queue no longer serves the full task
    assert next_task(token_client(tenant.secrets["annotator"]), project).json()["task"]["id"] != task_id


def test_attach_with_a_model_version_is_a_model_annotation_and_a_retry_replays(tenant, manager):
    project = make_project(manager, tasks=1)
    task_id = task_ids(project)[0]
    body = {"result": ANSWER, "model_version": "bert-3"}
    first = manager.post(f"/api/v1/tasks/{task_id}/annotations", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = manager.post(f"/api/v1/tasks/{task_id}/annotations", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["source"] == "model" and first.json()["model_version"] == "bert-3"
    assert Task.objects.get(pk=task_id).annotations_count == 1
    assert Annotation.objects.filter(task_id=task_id).count() == 1


def test_attach_sends_the_live_event(tenant, manager, settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_SEND_IN_BACKGROUND = False
    from channels.layers import get_channel_layer

    project = make_project(manager, tasks=1)
    task_id = task_ids(project)[0]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"project.{project['id']}", channel)
    with django_capture_on_commit_callbacks(execute=True):
        created = manager.post(f"/api/v1/tasks/{task_id}/annotations", {"result": ANSWER}, format="json").json()
    message = async_to_sync(layer.receive)(channel)["payload"]
    assert message["type"] == "annotation.created" and message["annotation"] == created["id"]
    assert message["annotations_count"] == 1 and message["task_status"] == "accepted"


def test_attach_refuses_gold_tasks_and_bad_results(manager):
    project = make_project(manager, tasks=2)
    gold, plain = task_ids(project)
    Task.objects.filter(pk=gold).update(is_gold=True)
    response = manager.post(f"/api/v1/tasks/{gold}/annotations", {"result": ANSWER}, format="json")
    assert response.status_code == 400 and "task" in response.json()["error"]["details"]
    response = manager.post(f"/api/v1/tasks/{plain}/annotations", {"result": BAD}, format="json")
    assert response.status_code == 422 and response.json()["error"]["details"]["path"] == "result[0].value.choices[0]"
    response = manager.post(f"/api/v1/tasks/{plain}/annotations", {"result": []}, format="json")
    assert response.status_code == 201  # the spec requires nothing
    for body in ({"result": ANSWER, "lead_time_ms": -1}, {"result": ANSWER, "model_version": "x" * 101}, {}):
        response = manager.post(f"/api/v1/tasks/{plain}/annotations", body, format="json")
        assert response.status_code == 400, body
    assert Annotation.objects.filter(task_id=gold).count() == 0


def test_attach_is_for_managers(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    lease = next_task(as_role("annotator"), project).json()  # the annotator now sees the task
    task_id = lease["task"]["id"]
    for role in ("reviewer", "annotator", "viewer"):
        response = as_role(role).post(f"/api/v1/tasks/{task_id}/annotations", {"result": ANSWER}, format="json")
        assert response.status_code == 403, role
    (_, stranger), = annotators(tenant, 1)
    assert stranger.post(f"/api/v1/tasks/{task_id}/annotations", {"result": ANSWER},
                         format="json").status_code == 404


# --- what annotators see of tasks --------------------------------------------------------------------------


def test_annotators_see_only_their_own_annotations_and_no_gold(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"overlap": 2})
    task_id = task_ids(project)[0]
    (_, other), = annotators(tenant, 1)
    mine = submit(as_role("annotator"), next_task(as_role("annotator"), project).json()).json()
    theirs = submit(other, next_task(other, project).json(), B).json()
    Task.objects.filter(pk=task_id).update(gold_result=ANSWER, consensus_result=ANSWER, consensus_confidence=0.9,
                                           consensus_method="majority")
    body = as_role("annotator").get(f"/api/v1/tasks/{task_id}").json()
    assert [a["id"] for a in body["annotations"]] == [mine["id"]]
    assert "gold" not in body and "consensus" not in body and "is_gold" not in body
    for role in ("reviewer", "manager", "viewer"):
        seen = as_role(role).get(f"/api/v1/tasks/{task_id}").json()
        assert [a["id"] for a in seen["annotations"]] == [mine["id"], theirs["id"]], role
        assert seen["consensus"]["method"] == "majority"
    assert as_role("manager").get(f"/api/v1/tasks/{task_id}").json()["gold"] == {"result": ANSWER}
    assert as_role("reviewer").get(f"/api/v1/tasks/{task_id}").json()["gold"] is None


@pytest.mark.parametrize("show", [True, False])
def test_annotators_see_predictions_only_where_the_project_shows_them(manager, as_role, show):
    project = make_project(manager, tasks=1, settings={"show_predictions": show})
    task_id = task_ids(project)[0]
    assert manager.post(f"/api/v1/tasks/{task_id}/predictions", {"result": ANSWER, "score": 0.5},
                        format="json").status_code == 201
    next_task(as_role("annotator"), project)
    shown = as_role("annotator").get(f"/api/v1/tasks/{task_id}").json()["predictions"]
    assert len(shown) == (1 if show else 0)
    assert len(as_role("reviewer").get(f"/api/v1/tasks/{task_id}").json()["predictions"]) == 1
    assert Prediction.objects.count() == 1


# --- media for annotators ----------------------------------------------------------------------------------


@pytest.fixture
def media_project(manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    project = make_project(manager, tasks=0)
    files = [SimpleUploadedFile(f"{name}.png", b"\x89PNG" + name.encode()) for name in ("one", "two", "three")]
    uploaded = manager.post(f"/api/v1/projects/{project['id']}/media", {"files": files},
                            format="multipart").json()["files"]
    return project, uploaded


def make_task(project, data) -> Task:
    organization_id = Project.objects.get(pk=project["id"]).organization_id
    return Task.objects.create(organization_id=organization_id, project_id=project["id"], data=data,
                               content_hash=hashlib.blake2b(repr(data).encode(), digest_size=16).hexdigest())


def test_annotators_fetch_media_named_by_a_task_they_hold(tenant, manager, media_project, as_role):
    project, (one, two, three) = media_project
    make_task(project, {"text": "by url", "image": f"http://quorum.local{one['url']}?size=large"})
    make_task(project, {"text": "by key", "nested": {"images": [two["key"]]}})
    annotator = as_role("annotator")
    assert annotator.get(one["url"]).status_code == 404  # no assignment yet
    first = next_task(annotator, project).json()
    assert first["task"]["data"]["text"] == "by url"
    served = annotator.get(one["url"])
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"\x89PNGone"
    assert annotator.get(two["url"]).status_code == 404  # named by a task they do not hold
    submit(annotator, first)
    assert annotator.get(one["url"]).status_code == 200  # a task they held (submitted) still counts
    next_task(annotator, project)
    assert annotator.get(two["url"]).status_code == 200
    assert annotator.get(three["url"]).status_code == 404  # named by no task
    (_, stranger), = annotators(tenant, 1)
    assert stranger.get(one["url"]).status_code == 404
    assert as_role("reviewer").get(three["url"]).status_code == 200


def test_a_media_url_does_not_unlock_media_whose_id_is_a_prefix_of_it(manager, media_project, as_role, settings):
    project, files = media_project
    first = Media.objects.get(pk=files[0]["id"])
    longer = Media.objects.create(pk=first.pk * 10 + 1, organization_id=first.organization_id,
                                  project_id=first.project_id, name="x.png", key=f"projects/{project['id']}/x.png",
                                  content_type="image/png", size=1)
    make_task(project, {"text": "t", "image": f"/api/v1/media/{longer.pk}"})
    next_task(as_role("annotator"), project)
    assert as_role("annotator").get(f"/api/v1/media/{first.pk}").status_code == 404
    stored = Path(settings.MEDIA_ROOT, longer.key)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(b"x")
    assert as_role("annotator").get(f"/api/v1/media/{longer.pk}").status_code == 200


def test_a_pin_alone_does_not_open_media(tenant, manager, media_project, as_role):
    project, (one, _, _) = media_project
    task = make_task(project, {"text": "pinned", "image": one["key"]})
    response = manager.post(f"/api/v1/tasks/{task.pk}/assign", {"annotator": tenant.member("annotator").pk},
                            format="json")
    assert response.status_code == 201
    assert Assignment.objects.get(task=task).status == "pinned"
    assert as_role("annotator").get(one["url"]).status_code == 404
    next_task(as_role("annotator"), project)  # the pinned task is served: now it is theirs
    assert as_role("annotator").get(one["url"]).status_code == 200


# --- roles, as data ----------------------------------------------------------------------------------------

OW, M, R, A, V = "owner", "manager", "reviewer", "annotator", "viewer"


def only(allowed: dict, otherwise: int) -> dict:
    return {str(role): allowed.get(str(role), otherwise) for role in ROLES}


# (method, path, body, expected status per role); {annotation} is the annotator's, {task} the task they hold.
MATRIX = [
    ("get", "/api/v1/annotations/{annotation}", None, only({}, 200)),
    ("patch", "/api/v1/annotations/{annotation}", {"result": B, "version": 1}, only({V: 403}, 200)),
    ("get", "/api/v1/annotations/{annotation}/history", None, only({}, 200)),
    ("post", "/api/v1/annotations/{annotation}/revert", {"version": 1}, only({OW: 200, M: 200}, 403)),
    ("post", "/api/v1/tasks/{task}/annotations", {"result": ANSWER}, only({OW: 201, M: 201}, 403)),
    ("post", "/api/v1/tasks/{task}/predictions", {"result": ANSWER}, only({OW: 201, M: 201}, 403)),
    ("post", "/api/v1/projects/{project}/predictions", [{"task": "{task}", "result": ANSWER}],
     only({OW: 201, M: 201}, 403)),
    ("get", "/api/v1/tasks/{task}", None, only({}, 200)),
]


def _cases():
    for method, path, body, expected in MATRIX:
        for role in ROLES:
            yield pytest.param(method, path, body, str(role), expected[str(role)], id=f"{method} {path} as {role}")


@pytest.mark.parametrize("method,path,body,role,status", list(_cases()))
def test_role_matrix(tenant, manager, as_role, method, path, body, role, status):
    project = make_project(manager, tasks=1)
    lease = next_task(as_role(A), project).json()
    annotation = submit(as_role(A), lease).json()
    ids = {"annotation": annotation["id"], "task": lease["task"]["id"], "project": project["id"]}
    if isinstance(body, list):
        body = [{**item, "task": ids["task"]} for item in body]
    response = getattr(as_role(role), method)(path.format(**ids), body, format="json")
    assert response.status_code == status, response.content
    if status >= 400:
        assert response.json()["error"]["code"] == "permission_denied"
