"""The annotator in a real browser: sign in, label a text task by keyboard, mark an entity span, draw a box on
the quokka, submit each; the annotations are then in the database with the right results."""

import io

import orjson
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from apps.projects.services import project_create
from apps.tasks.imports import tasks_import
from apps.tasks.media import media_upload
from apps.tasks.models import Annotation

from .conftest import login, snap, visit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUOKKA = settings.BASE_DIR / "tests" / "fixtures" / "quokka" / "quokka.jpg"


def make_project(tenant, name, spec, rows, instructions=""):
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name=name, label_schema=spec,
                             instructions=instructions)
    summary = tasks_import(project=project, actor=manager, stream=io.BytesIO(orjson.dumps(rows)), fmt="json")
    assert summary["created"] == len(rows), summary
    return project


def open_workspace(page, project):
    """From "my projects", start labeling the project; wait until its task is on screen."""
    visit(page, "/app/", name="my_projects")
    page.locator(f'tr[data-project="{project.pk}"] a[data-start]').click()
    page.wait_for_selector("[data-task]:not([hidden])")
    page.wait_for_load_state("networkidle")
    snap(page, f"label_{project.pk}")


def submit_and_expect_done(page):
    with page.expect_response(lambda r: "/submit" in r.url and r.request.method == "POST") as answer:
        page.keyboard.press("Control+Enter")
    assert answer.value.status == 201, answer.value.text()
    expect(page.locator("[data-done]")).to_be_visible()
    snap(page, "nothing_left")


def only_annotation(project, user):
    annotations = list(Annotation.objects.filter(project_id=project.pk, author=user))
    assert len(annotations) == 1
    return annotations[0]


def test_an_annotator_labels_a_text_task_by_keyboard(tenant, page):
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"sentiment": {"type": "choices", "to": "text", "required": True,
                                       "labels": [{"value": "positive", "hotkey": "1"},
                                                  {"value": "negative", "hotkey": "2"}]}}}
    project = make_project(tenant, "Reviews", spec, [{"text": "A wonderful, warm film."}],
                           instructions="Is the review **positive** or **negative**?")
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    expect(page.locator(".instructions strong").first).to_have_text("positive")
    choice = page.locator('button.choice[data-value="negative"]')
    expect(choice.locator(".hotkey")).to_have_text("2")  # the hotkey is shown on the button
    page.keyboard.press("2")
    expect(choice).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Control+z")  # undo, redo, then the other label
    expect(choice).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Control+Shift+Z")
    expect(choice).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("1")
    expect(page.locator('button.choice[data-value="positive"]')).to_have_attribute("aria-pressed", "true")
    expect(choice).to_have_attribute("aria-pressed", "false")
    snap(page, "chosen")
    submit_and_expect_done(page)

    annotation = only_annotation(project, annotator)
    assert [(item["from_name"], item["type"], item["value"]) for item in annotation.result] == [
        ("sentiment", "choices", {"choices": ["positive"]})]


def test_an_annotator_marks_an_entity_span_with_the_keyboard(tenant, page):
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"entities": {"type": "spans", "to": "text",
                                      "labels": [{"value": "PER", "hotkey": "p"}, {"value": "LOC", "hotkey": "l"}]}}}
    text = "Martin Scorsese shot the film in New York."
    project = make_project(tenant, "Entities", spec, [{"text": text}])
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    page.locator(".text-object").focus()
    page.keyboard.press("Home")
    for _ in range(len("Martin Scorsese")):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    expect(page.locator(".span-mark")).to_have_text("Martin Scorsese")
    # A second span with the mouse: select "New York" in the page, then its label key.
    page.evaluate("""() => {
        const box = document.querySelector('.text-object');
        const node = [...box.childNodes].map(n => n.firstChild).find(t => t && t.data.includes('New York'));
        const start = node.data.indexOf('New York');
        const range = document.createRange();
        range.setStart(node, start); range.setEnd(node, start + 'New York'.length);
        getSelection().removeAllRanges(); getSelection().addRange(range);
        box.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    }""")
    page.keyboard.press("l")
    expect(page.locator(".span-mark")).to_have_count(2)
    expect(page.locator("[data-region-list] li")).to_have_count(2)
    snap(page, "spans")
    submit_and_expect_done(page)

    annotation = only_annotation(project, annotator)
    values = sorted((item["value"]["start"], item["value"]["end"], item["value"]["text"], item["value"]["labels"])
                    for item in annotation.result)
    assert values == [(0, 15, "Martin Scorsese", ["PER"]), (33, 41, "New York", ["LOC"])]


def test_an_annotator_draws_a_box_on_the_quokka(tenant, page):
    spec = {"data": {"image": {"type": "image"}},
            "controls": {"box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka", "color": "#ff8800"}]}}}
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name="Quokka", label_schema=spec)
    [media] = media_upload(project=project, actor=manager,
                           files=[SimpleUploadedFile("quokka.jpg", QUOKKA.read_bytes(), content_type="image/jpeg")])
    image_url = f"/api/v1/media/{media.pk}"
    tasks_import(project=project, actor=manager, stream=io.BytesIO(orjson.dumps([{"image": image_url}])), fmt="json")
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    canvas = page.locator(".canvas-wrap canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=8)
    page.mouse.up()
    expect(page.locator("[data-region-list] li")).to_have_count(1)
    expect(page.locator("[data-region-list] li").first).to_contain_text("quokka box")
    snap(page, "box")
    submit_and_expect_done(page)

    [item] = only_annotation(project, annotator).result
    assert item["type"] == "rectanglelabels" and item["value"]["rectanglelabels"] == ["quokka"]
    value = item["value"]
    # The drag covered 30 %→60 % of the canvas's width and 30 %→70 % of its height; the image is fitted
    # inside the canvas, so in image percent the box is at least that big and lies inside the image.
    assert 0 <= value["x"] < 50 and 0 <= value["y"] < 50
    assert value["width"] > 20 and value["height"] > 20
    assert value["x"] + value["width"] <= 100 and value["y"] + value["height"] <= 100
    assert item["original_width"] > 0 and item["original_height"] > 0
