"""The reviewer in a real browser: an annotator's submission (through the API) waits for review; the reviewer
sees it beside the task and rejects it with a comment; the task goes back to the queue."""

import io

import httpx
import orjson
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from apps.projects.services import project_create
from apps.tasks.imports import tasks_import
from apps.tasks.media import media_upload
from apps.tasks.models import Annotation, Review, Task

from .conftest import login, snap, visit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "required": True,
                                   "labels": [{"value": "positive", "hotkey": "1"},
                                              {"value": "negative", "hotkey": "2"}]}}}


def make_project(tenant, name, rows, settings=None):
    """A project of SPEC with `rows` imported (shared with test_manager)."""
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name=name, label_schema=SPEC,
                             settings=settings or {})
    summary = tasks_import(project=project, actor=manager, stream=io.BytesIO(orjson.dumps(rows)), fmt="json")
    assert summary["created"] == len(rows), summary
    return project


def submit_through_the_api(live_server_url, secret, project_id, label="positive", result=None) -> dict:
    """Lease and submit one task as the token's user, over HTTP to the live server (as a pipeline would);
    the result is SPEC's choice of `label` unless given."""
    with httpx.Client(base_url=f"{live_server_url}/api/v1", headers={"Authorization": f"Token {secret}"},
                      timeout=10) as client:
        leased = client.post(f"/projects/{project_id}/next")
        assert leased.status_code == 200, leased.text
        result = result or [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                             "value": {"choices": [label]}}]
        answer = client.post(f"/assignments/{leased.json()['assignment']['id']}/submit",
                             json={"result": result, "lead_time_ms": 1500})
        assert answer.status_code == 201, answer.text
        return answer.json()


def test_a_reviewer_rejects_an_annotation(tenant, page, live_server_url):
    project = make_project(tenant, "Film reviews", [{"text": "A dull, endless film."}],
                           settings={"review_policy": {"mode": "all"}})
    annotation = submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk, "positive")

    login(page, tenant.user("reviewer").email)
    visit(page, "/app/review/", name="review_projects")
    row = page.locator("#review-projects tr", has_text="Film reviews")
    expect(row.locator("td.num").first).to_have_text("1")  # one annotation waits
    row.get_by_role("link", name="Start reviewing").click()
    expect(page.locator("#review-main")).to_be_visible()
    expect(page.locator("#task-data")).to_contain_text("A dull, endless film.")
    expect(page.locator("#current")).to_contain_text("sentiment: positive")
    expect(page.locator("#current")).to_contain_text(tenant.user("annotator").email)
    snap(page, "reviewing")

    page.fill("#review-comment", "The review is negative: dull and endless.")
    with page.expect_response(lambda r: "/api/v1/reviews/" in r.url and r.request.method == "POST") as answer:
        page.click("#reject")
    assert answer.value.status == 200, answer.value.text()
    expect(page.locator("#review-empty")).to_be_visible()  # nothing else waits
    expect(page.locator("#review-status")).to_contain_text("Nothing to review")
    snap(page, "after_reject")

    stored = Annotation.objects.get(pk=annotation["id"])
    assert stored.status == Annotation.Status.REJECTED
    review = Review.objects.get(annotation=stored)
    assert review.decision == Review.Decision.REJECT and review.reviewer == tenant.user("reviewer")
    assert review.comment == "The review is negative: dull and endless."
    task = Task.objects.get(pk=stored.task_id)
    assert task.status == Task.Status.REJECTED and task.target_annotations == 2  # back in the queue


def test_a_reviewer_accepts_with_the_keyboard_and_sees_the_other_annotators(tenant, page, live_server_url):
    project = make_project(tenant, "Pairs", [{"text": "Lovely."}], settings={
        "overlap": 2, "max_overlap": 2, "review_policy": {"mode": "all"}})
    # Two annotators: the annotator, and the owner (owners may annotate too).
    submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk, "positive")
    submit_through_the_api(live_server_url, tenant.secrets["owner"], project.pk, "positive")

    login(page, tenant.user("reviewer").email)
    visit(page, f"/app/review/{project.pk}/", name="review_pairs")
    expect(page.locator("#review-main")).to_be_visible()
    expect(page.locator("#others .annotation-card")).to_have_count(1)
    snap(page, "beside_the_other")
    with page.expect_response(lambda r: "/api/v1/reviews/" in r.url and r.request.method == "POST") as answer:
        page.keyboard.press("Alt+A")
    assert answer.value.status == 200, answer.value.text()
    expect(page.locator("#current")).to_be_visible()  # the second annotation is next
    expect(page.locator("#review-status")).to_contain_text("Reviewing annotation")
    assert Review.objects.filter(decision=Review.Decision.ACCEPT).count() == 1


def test_a_reviewer_fixes_an_annotation(tenant, page, live_server_url):
    project = make_project(tenant, "Fixes", [{"text": "Not good at all."}], settings={"review_policy": {"mode": "all"}})
    annotation = submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk, "positive")
    login(page, tenant.user("reviewer").email)
    visit(page, f"/app/review/{project.pk}/", name="review_fixes")
    expect(page.locator("#review-main")).to_be_visible()
    page.keyboard.press("Alt+F")
    expect(page.locator("#fix-result")).to_be_focused()
    fixed = page.locator("#fix-result").input_value().replace('"positive"', '"negative"')
    page.fill("#fix-result", fixed)
    page.fill("#review-comment", "It says not good.")
    snap(page, "fixing")
    with page.expect_response(lambda r: "/api/v1/reviews/" in r.url and r.request.method == "POST") as answer:
        page.click("#fix-save")
    assert answer.value.status == 200, answer.value.text()
    expect(page.locator("#review-empty")).to_be_visible()
    stored = Annotation.objects.get(pk=annotation["id"])
    assert stored.status == Annotation.Status.ACCEPTED and stored.version == 2
    assert stored.result[0]["value"]["choices"] == ["negative"]
    assert Review.objects.get(annotation=stored).decision == Review.Decision.FIX


def test_the_reviewer_sees_the_box_drawn_on_the_quokka(tenant, page, live_server_url):
    spec = {"data": {"image": {"type": "image"}},
            "controls": {"box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]}}}
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name="Quokka boxes", label_schema=spec,
                             settings={"review_policy": {"mode": "all"}, "overlap": 2, "max_overlap": 2})
    quokka = settings.BASE_DIR / "tests" / "fixtures" / "quokka" / "quokka.jpg"
    [media] = media_upload(project=project, actor=manager, files=[
        SimpleUploadedFile("quokka.jpg", quokka.read_bytes(), content_type="image/jpeg")])
    rows = [{"image": f"/api/v1/media/{media.pk}"}]
    tasks_import(project=project, actor=manager, stream=io.BytesIO(orjson.dumps(rows)), fmt="json")
    box = {"id": "b1", "from_name": "box", "to_name": "image", "type": "rectanglelabels",
           "value": {"x": 20, "y": 10, "width": 50, "height": 60, "rectanglelabels": ["quokka"]}}
    submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk, result=[box])
    other = {**box, "value": {**box["value"], "x": 25, "width": 40}}
    submit_through_the_api(live_server_url, tenant.secrets["owner"], project.pk, result=[other])

    login(page, tenant.user("reviewer").email)
    visit(page, f"/app/review/{project.pk}/", name="review_box")
    image = page.locator("#task-data .image-box img")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('#task-data .image-box img').naturalWidth > 0")
    region = page.locator("#task-data .image-box .region:not(.other)")
    expect(region).to_have_count(1)
    expect(region).to_contain_text("quokka")
    shown, frame = region.bounding_box(), image.bounding_box()
    assert abs(shown["x"] - (frame["x"] + 0.2 * frame["width"])) < 3  # 20% from the left
    assert abs(shown["width"] - 0.5 * frame["width"]) < 4
    expect(page.locator("#current")).to_contain_text("box: quokka box at 20%, 10%, 50×60%")
    snap(page, "box_on_the_quokka")
    page.check("#review-compare")  # the owner's box (and the consensus's, if any) dashed beside it
    expect(page.locator("#task-data .image-box .region.other", has_text=tenant.user("owner").email)).to_have_count(1)
    expect(region.first).to_contain_text("quokka")
    snap(page, "compared")
