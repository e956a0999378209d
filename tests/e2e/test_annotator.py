"""The annotator in a real browser: sign in, label a text task by keyboard, mark an entity span, draw a box on
the quokka, submit each; the annotations are then in the database with the right results."""

import io
import re

import orjson
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from apps.projects.services import project_create
from apps.tasks.imports import tasks_import
from apps.tasks.media import media_upload
from apps.tasks.models import Annotation, Assignment

from .conftest import login, snap, visit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUOKKA = settings.BASE_DIR / "tests" / "fixtures" / "quokka" / "quokka.jpg"


def make_project(tenant, name, spec, rows, instructions="", settings=None):
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name=name, label_schema=spec,
                             instructions=instructions, settings=settings)
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
    expect(page.locator('[data-action="undo"]')).to_be_disabled()
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
    pay = {"per_submitted": "0.05", "per_accepted": "0.00", "per_hour": "0.00", "currency": "USD"}
    project = make_project(tenant, "Reviews", spec, [{"text": "Unreadable: \u2588\u2588\u2588"},
                                                     {"text": "A wonderful, warm film."}],
                           instructions="Is the review **positive** or **negative**?", settings={"pay": pay})
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    # Skip the first task served (Ctrl+Shift+S): the other one comes, and the skipped one never again.
    first = page.locator("[data-task]").get_attribute("data-task-id")
    with page.expect_response(lambda r: r.url.endswith("/next") and r.status == 200):
        page.keyboard.press("Control+Shift+S")
    expect(page.locator("[data-task]")).not_to_have_attribute("data-task-id", first)
    skipped = Assignment.objects.get(project_id=project.pk, annotator=annotator, status="skipped")
    assert skipped.task_id == int(first)
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

    # My numbers: the annotation counts, and the submit paid 0.05 USD.
    visit(page, "/app/me/stats/")
    expect(page.locator("[data-per-project] tbody tr").first).to_contain_text("Reviews")
    visit(page, "/app/me/earnings/")
    expect(page.locator("[data-totals]")).to_contain_text("0.05 USD")
    expect(page.locator("[data-ledger] tbody tr")).to_have_count(1)


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


def quokka_project(tenant, name, spec, **extra):
    """A project with one task: the quokka photo, uploaded as the project's media (`extra`: more of the task)."""
    manager = tenant.user("manager")
    project = project_create(organization=tenant.org, actor=manager, name=name, label_schema=spec)
    [media] = media_upload(project=project, actor=manager,
                           files=[SimpleUploadedFile("quokka.jpg", QUOKKA.read_bytes(), content_type="image/jpeg")])
    row = {"data": {"image": f"/api/v1/media/{media.pk}", **extra.pop("data", {})}, **extra}
    tasks_import(project=project, actor=manager, stream=io.BytesIO(orjson.dumps([row])), fmt="json")
    return project


def drag(page, box, start, end):
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def test_an_annotator_draws_a_box_on_the_quokka(tenant, page):
    spec = {"data": {"image": {"type": "image"}},
            "controls": {"box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka", "color": "#ff8800"}]}}}
    project = quokka_project(tenant, "Quokka", spec)
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    canvas = page.locator(".canvas-wrap canvas").first
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    drag(page, box, (0.3, 0.3), (0.6, 0.7))
    expect(page.locator("[data-region-list] li")).to_have_count(1)
    expect(page.locator("[data-region-list] li").first).to_contain_text("quokka box")
    snap(page, "box")
    # Move it: the Select tool, then drag the box 10 % of the canvas to the right.
    page.click('.canvas-tools button[data-tool="select"]')
    with page.expect_response(lambda r: r.url.endswith("/draft") and r.request.method == "PUT") as saved:
        drag(page, box, (0.45, 0.5), (0.55, 0.5))
    moved = [item for item in saved.value.request.post_data_json["draft"] if item["type"] == "rectanglelabels"]
    snap(page, "box_moved")
    submit_and_expect_done(page)

    [item] = only_annotation(project, annotator).result
    assert item["value"] == moved[0]["value"]  # what was submitted is what the draft held after the move
    assert item["type"] == "rectanglelabels" and item["value"]["rectanglelabels"] == ["quokka"]
    value = item["value"]
    # The drag covered 30 %→60 % of the canvas's width and 30 %→70 % of its height; the image is fitted
    # inside the canvas, so in image percent the box is at least that big and lies inside the image.
    # Drawn from 30 % of the canvas, then moved 10 % of the canvas to the right.
    assert 30 < value["x"] < 60 and 0 <= value["y"] < 50
    assert value["width"] > 20 and value["height"] > 20
    assert value["x"] + value["width"] <= 100 and value["y"] + value["height"] <= 100
    assert item["original_width"] > 0 and item["original_height"] > 0


def test_every_control_type_with_a_prediction_relations_and_an_autosaved_draft(tenant, page):
    spec = {"data": {"image": {"type": "image"}, "caption": {"type": "text"}},
            "controls": {
                "box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]},
                "outline": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
                "pose": {"type": "keypoints", "to": "image", "labels": [{"value": "nose"}, {"value": "eye"}]},
                "species": {"type": "choices", "to": "image", "labels": [
                    {"value": "Animal", "children": [
                        {"value": "Marsupial", "children": [{"value": "Quokka"}, {"value": "Kangaroo"}]},
                        {"value": "Rodent"}]}]},
                "tags": {"type": "choices", "to": "caption", "multiple": True,
                         "labels": [{"value": "cute"}, {"value": "fluffy"}, {"value": "blurry"}]},
                "entities": {"type": "spans", "to": "caption", "labels": [{"value": "ANIMAL", "hotkey": "a"}]},
                "notes": {"type": "textarea", "to": "caption"},
                "quality": {"type": "rating", "to": "image", "max": 5},
                "links": {"type": "relation", "labels": [{"value": "same_as"}]},
            }}
    predicted = {"id": "p1", "from_name": "box", "to_name": "image", "type": "rectanglelabels",
                 "value": {"x": 5, "y": 5, "width": 20, "height": 20, "rectanglelabels": ["quokka"]}}
    project = quokka_project(tenant, "Everything", spec, data={"caption": "A quokka smiling at the camera."},
                             predictions=[{"result": [predicted], "score": 0.9, "model_version": "v1"}])
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    regions = page.locator("[data-region-list] li")
    expect(regions).to_have_count(1)  # the prediction, pre-filled
    expect(page.locator("[data-task]")).to_contain_text("Pre-filled from a model prediction")

    canvas = page.locator(".canvas-wrap canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()

    def at(fx, fy):
        return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy

    page.click('.canvas-tools button[data-tool="polygon"]')
    for point in [(0.6, 0.6), (0.85, 0.6), (0.75, 0.85)]:
        page.mouse.click(*at(*point))
    page.mouse.click(*at(0.6, 0.6))  # the first point again closes the polygon
    expect(regions).to_have_count(2)
    page.click('.canvas-tools button[data-tool="point"]')
    page.click('.label-button[data-value="eye"]')
    page.mouse.click(*at(0.45, 0.4))
    expect(regions).to_have_count(3)
    expect(regions.nth(2)).to_contain_text("eye point")

    page.get_by_role("radio", name="Quokka").check()
    page.click('button.choice[data-value="cute"]')
    page.click('button.choice[data-value="fluffy"]')
    caption = page.locator('.text-object[data-field="caption"]')
    caption.focus()
    page.keyboard.press("Home")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    for _ in range(len("quokka")):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("a")
    expect(regions).to_have_count(4)
    page.get_by_label("notes").fill("Looks happy")
    page.get_by_label("4 of 5").click()
    regions.nth(0).get_by_role("button", name="Link").click()  # the predicted box → the polygon
    regions.nth(1).get_by_role("button").first.click()
    expect(page.locator("[data-region-list]")).to_contain_text("→")
    with page.expect_response(lambda r: r.url.endswith("/draft") and r.request.method == "PUT") as saved:
        pass  # the draft is saved a moment after the last change
    assert saved.value.status == 200
    expect(page.locator("[data-save-state]")).to_contain_text("Draft saved")
    snap(page, "everything")
    submit_and_expect_done(page)

    result = only_annotation(project, annotator).result
    by_name = {item["from_name"]: item for item in result}
    assert by_name["box"]["value"]["x"] == 5 and by_name["box"]["id"] == "p1"
    assert len(by_name["outline"]["value"]["points"]) == 3
    assert by_name["pose"]["value"]["keypointlabels"] == ["eye"]
    assert by_name["species"]["type"] == "taxonomy"
    assert by_name["species"]["value"] == {"taxonomy": [["Animal", "Marsupial", "Quokka"]]}
    assert by_name["tags"]["value"] == {"choices": ["cute", "fluffy"]}
    assert by_name["entities"]["value"] == {"start": 2, "end": 8, "text": "quokka", "labels": ["ANIMAL"]}
    assert by_name["notes"]["value"] == {"text": ["Looks happy"]}
    assert by_name["quality"]["value"] == {"rating": 4}
    relation = by_name["links"]
    assert relation["type"] == "relation" and relation["from_id"] == "p1"
    assert relation["to_id"] == by_name["outline"]["id"]


def test_the_lease_counts_down_warns_before_it_ends_and_activity_renews_it(tenant, page):
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"ok": {"type": "choices", "to": "text", "labels": [{"value": "yes", "hotkey": "y"}]}}}
    project = make_project(tenant, "Short leases", spec, [{"text": "Quick one."}], settings={"lease_seconds": 90})
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    page.clock.install()  # the page's timers and Date from here on: 65 s go by in an instant
    open_workspace(page, project)
    expect(page.locator("[data-lease-timer]")).to_contain_text("Lease 1:")
    expect(page.locator("[data-lease-warning]")).to_be_hidden()
    assignment = Assignment.objects.get(project_id=project.pk, annotator=annotator, status="active")
    page.clock.fast_forward("01:05")
    expect(page.locator("[data-lease-warning]")).to_be_visible()
    expect(page.locator("[data-lease-warning]")).to_contain_text("lease ends in")
    expect(page.locator("[data-lease-timer]")).to_have_class("ws-timer warn")
    snap(page, "lease_warning")
    with page.expect_response(lambda r: r.url.endswith("/heartbeat") and r.request.method == "POST") as beat:
        page.keyboard.press("y")  # working again…
        page.clock.fast_forward(2000)  # …and the next tick of the timer extends the lease
    assert beat.value.status == 200
    before = assignment.expires_at
    assignment.refresh_from_db()
    assert assignment.expires_at > before


def test_per_region_controls_and_controls_shown_only_when_a_choice_is_made(tenant, page):
    spec = {"data": {"image": {"type": "image"}},
            "controls": {
                "box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]},
                "sharpness": {"type": "rating", "to": "image", "max": 5, "per_region": True},
                "animal": {"type": "choices", "to": "image", "labels": [{"value": "yes", "hotkey": "y"},
                                                                        {"value": "no", "hotkey": "n"}]},
                "describe": {"type": "textarea", "to": "image", "required": True,
                             "visible_when": [{"when": "choice-selected", "control": "animal", "values": ["yes"]}]},
            }}
    project = quokka_project(tenant, "Per region", spec)
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    open_workspace(page, project)
    describe = page.locator('.ws-control[data-control="describe"]')
    expect(describe).to_be_hidden()
    sharpness = page.locator('.ws-control[data-control="sharpness"]')
    expect(sharpness).to_have_class(re.compile("inactive"))  # no region selected yet
    canvas = page.locator(".canvas-wrap canvas").first
    canvas.scroll_into_view_if_needed()
    drag(page, canvas.bounding_box(), (0.3, 0.3), (0.6, 0.7))  # the new box is selected
    expect(sharpness).not_to_have_class(re.compile("inactive"))
    sharpness.get_by_label("3 of 5").click()
    page.keyboard.press("y")
    expect(describe).to_be_visible()
    describe.locator("textarea").fill("A quokka, close up")
    snap(page, "per_region")
    submit_and_expect_done(page)

    result = only_annotation(project, annotator).result
    by_name = {item["from_name"]: item for item in result}
    region, rating = by_name["box"], by_name["sharpness"]
    assert rating["id"] == region["id"] and rating["value"]["rating"] == 3
    assert {k: rating["value"][k] for k in ("x", "y", "width", "height")} == {
        k: region["value"][k] for k in ("x", "y", "width", "height")}
    assert by_name["animal"]["value"] == {"choices": ["yes"]}
    assert by_name["describe"]["value"] == {"text": ["A quokka, close up"]}


def test_gold_feedback_is_shown_after_the_submit(tenant, page):
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"sentiment": {"type": "choices", "to": "text",
                                       "labels": [{"value": "positive", "hotkey": "1"},
                                                  {"value": "negative", "hotkey": "2"}]}}}
    gold = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]
    project = make_project(tenant, "Gold", spec, [{"data": {"text": "Simply the best."}, "gold": {"result": gold}}],
                           settings={"gold_rate": 0.5, "gold_feedback": True})
    annotator = tenant.user("annotator")
    login(page, annotator.email)
    # The only task is gold, served at the gold rate (90 % for a newcomer); else "nothing left": ask again.
    for _ in range(10):
        visit(page, f"/app/label/{project.pk}/", name="gold")
        page.wait_for_selector("[data-task]:not([hidden]), [data-done]:not([hidden])")
        if page.locator("[data-task]").is_visible():
            break
    expect(page.locator("[data-task]")).to_contain_text("Simply the best.")
    page.keyboard.press("2")  # the wrong answer
    submit_and_expect_done(page)
    feedback = page.locator("[data-feedback]")
    expect(feedback).to_contain_text("Not quite")
    expect(feedback).to_contain_text("Expected: sentiment: positive")
    snap(page, "gold_feedback")
