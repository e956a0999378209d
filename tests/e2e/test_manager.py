"""The manager in a real browser: the dashboard's counters move when an annotation is submitted through the
API (no reload); an export started on the exports page runs, shows its progress and downloads; a tour of
the manager pages (create a project with the schema builder, import a file, tokens, workforce, quality,
audit, the tenant admin), each screenshotted."""

import orjson
import pytest
from playwright.sync_api import expect

from apps.exports.models import Export
from apps.projects.models import Project
from apps.tasks.models import Task

from .conftest import login, snap, visit
from .test_reviewer import make_project, submit_through_the_api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = [{"text": "A wonderful, warm film."}, {"text": "Dull and endless."}, {"text": "Fine, I suppose."}]


def test_the_dashboard_counter_updates_live_without_reload(tenant, page, live_server_url):
    project = make_project(tenant, "Film reviews", ROWS)
    login(page, tenant.user("manager").email)
    visit(page, f"/app/projects/{project.pk}/", name="dashboard")
    expect(page.locator("#live-status")).to_contain_text("Live")  # the socket said hello
    counter = page.locator("#annotations-count")
    expect(counter).to_have_text("0")
    expect(page.locator('[data-count="tasks"] .value')).to_have_text("3")
    page.evaluate("window.quorumNoReload = true")  # gone if the page reloads

    first = submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk)
    expect(counter).to_have_text("1")
    expect(page.locator('[data-count="accepted"] .value')).to_have_text("1")  # no review: done at once
    expect(page.locator("#events")).to_contain_text(f"annotation {first['id']} on task")
    snap(page, "after_one_submit")
    submit_through_the_api(live_server_url, tenant.secrets["owner"], project.pk, "negative")
    expect(counter).to_have_text("2")
    assert page.evaluate("window.quorumNoReload") is True
    snap(page, "after_two_submits")


def test_the_manager_starts_an_export_and_downloads_it(tenant, page, live_server_url, tmp_path):
    project = make_project(tenant, "Film reviews", ROWS)
    submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk, "positive")
    login(page, tenant.user("manager").email)
    visit(page, f"/app/projects/{project.pk}/exports/", name="exports")
    page.select_option("#export-format", "jsonl")
    page.select_option("#export-filter", "all")
    page.click("#export-start")
    expect(page.locator("#export-progress-box")).to_be_visible()
    link = page.locator("#export-download")
    expect(link).to_be_visible(timeout=30_000)  # the server's worker ran the job
    expect(page.locator("#export-progress")).to_have_attribute("value", "1")
    snap(page, "export_ready")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    lines = [orjson.loads(line) for line in target.read_bytes().splitlines() if line.strip()]
    assert any("A wonderful, warm film." in orjson.dumps(line).decode() for line in lines), lines[:2]
    export = Export.objects.get(project_id=project.pk)
    assert export.status == Export.Status.SUCCEEDED and target.stat().st_size == export.size
    expect(page.locator(f'#exports-table tr[data-export-row="{export.pk}"] .badge')).to_have_text("succeeded")
    expect(page.locator("#snapshots-table tbody tr")).to_have_count(1)
    snap(page, "after_download")


def test_a_tour_of_the_manager_pages(tenant, page, live_server_url, tmp_path):
    project = make_project(tenant, "Existing", ROWS)
    submit_through_the_api(live_server_url, tenant.secrets["annotator"], project.pk)
    login(page, tenant.user("manager").email)
    visit(page, "/app/projects/", name="projects")
    expect(page.locator(f'tr[data-project="{project.pk}"] [data-field="tasks"]')).to_have_text("3")

    # Create a project with the schema builder: a text field, the example choices, and a spans control.
    visit(page, "/app/projects/new/", name="project_new")
    page.fill("#id_name", "Entities")
    page.select_option("#add-control-type", "spans")
    page.click("#add-control")
    page.locator("[data-kind=control]").nth(1).locator(".c-labels").fill("PER:p, ORG:o")
    snap(page, "builder_filled")
    with page.expect_navigation():
        page.click("#project-form button[type=submit]")
    made = Project.objects.get(organization=tenant.org, name="Entities")
    spec = made.current_schema.spec
    assert spec["controls"]["spans_2"]["type"] == "spans"
    assert [label["value"] for label in spec["controls"]["spans_2"]["labels"]] == ["PER", "ORG"]
    assert page.url.endswith(f"/app/projects/{made.pk}/import/")
    snap(page, "import_page")

    # Import a JSONL file through the upload form.
    upload = tmp_path / "tasks.jsonl"
    upload.write_bytes(b'{"text": "Ada Lovelace met Charles Babbage."}\n{"text": "Quorum labels data."}\n{"nope": 1\n')
    page.set_input_files("#import-file", str(upload))
    page.click("#import-submit")
    expect(page.locator("#r-created")).to_have_text("2")
    expect(page.locator("#r-errors")).to_have_text("1")
    expect(page.locator("#r-error-table tbody tr")).to_have_count(1)
    expect(page.locator("#upload-bar")).to_have_attribute("value", "1")
    assert Task.objects.filter(project=made).count() == 2
    snap(page, "imported")

    visit(page, f"/app/projects/{project.pk}/quality/", name="quality")
    expect(page.locator("#annotators-table tbody")).to_contain_text(tenant.user("annotator").email)

    visit(page, "/app/tokens/", name="tokens")
    page.fill("#token-name", "pipeline")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-secret-value")).to_contain_text("qrm_")
    expect(page.locator("#tokens-table")).to_contain_text("pipeline")
    snap(page, "token_created")

    visit(page, "/app/workforce/", name="workforce")
    page.fill("#skill-name", "medical")
    page.click("#skill-form button[type=submit]")
    expect(page.locator("#skills-table")).to_contain_text("skill.medical")
    expect(page.locator("#annotators-table")).to_contain_text(tenant.user("annotator").email)
    annotator = tenant.user("annotator")
    page.locator("#annotators-table a", has_text=annotator.name or annotator.email).click()
    expect(page.locator("#an-state")).to_have_text("active")
    snap(page, "annotator")

    visit(page, "/app/audit/", name="audit")
    expect(page.locator("#audit-table")).to_contain_text("token.create")
    page.click("#verify")
    expect(page.locator("#verify-status")).to_contain_text("events checked")
    snap(page, "audit_verified")

    visit(page, "/app/admin/", name="admin")
    visit(page, "/app/admin/projects/project/", name="admin_projects")
    expect(page.locator("#result_list")).to_contain_text("Entities")


def test_the_quality_page_shows_agreement_and_the_confusion_heatmap(tenant, page, live_server_url):
    project = make_project(tenant, "Agreement", ROWS[:2], settings={"overlap": 2, "max_overlap": 2})
    for secret, labels in ((tenant.secrets["annotator"], ["positive", "negative"]),
                           (tenant.secrets["owner"], ["positive", "positive"])):
        for label in labels:
            submit_through_the_api(live_server_url, secret, project.pk, label)
    login(page, tenant.user("manager").email)
    visit(page, f"/app/projects/{project.pk}/quality/", name="quality")
    row = page.locator("#agreement-table tbody tr", has_text="sentiment")
    expect(row.locator("td").nth(1)).to_have_text("2")  # two tasks with two answers
    heatmap = page.locator("#confusion table.heatmap")
    expect(heatmap).to_be_visible()
    expect(heatmap.locator("thead th")).to_have_text(["", "negative", "positive"])
    # Pairs of labels given to the same task: one positive/positive, one positive/negative (both ways).
    expect(heatmap.locator("tbody tr").nth(1).locator("td")).to_have_text(["1", "2"])
    expect(page.locator("#annotators-table tbody tr")).to_have_count(2)
    snap(page, "heatmap")
    flag = page.locator("#flags-table tbody tr", has_text="low_agreement")  # the tied task
    expect(flag).to_have_count(1)
    flag.get_by_role("button", name="Resolve").click()
    expect(page.locator("#flags-table")).to_contain_text("No open flags.")
