"""The annotator in a real browser: sign in, label a text task by keyboard, mark an entity span, draw a box on
the quokka, submit each; the annotations are then in the database with the right results."""

import pytest
from playwright.sync_api import expect

from .conftest import login, visit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_annotator_signs_in_and_sees_my_projects(tenant, page):
    login(page, tenant.user("annotator").email)
    visit(page, "/app/")
    expect(page.locator("h1")).to_have_text("My projects")
