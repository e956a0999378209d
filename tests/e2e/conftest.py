"""Browser tests: the real ASGI server (`manage.py serve`, uvicorn) on the pytest test database and Redis,
driven by Python Playwright in Debian's headless Chromium (/usr/bin/chromium; `make install-dev` installs it;
never `playwright install`, its download does not work here).

Fixtures and helpers
    live_server_url  session: starts `manage.py serve` as a subprocess on a free port against the test database
                     (DATABASE_URL → the test database's name, the same REDIS_URL), with its embedded Celery
                     worker and beat on a queue of its own (CELERY_QUEUE), which this process also sends to,
                     so jobs the tests start (exports, consensus) really run. Its log: var/e2e-server.log.
    browser          module: one Chromium (and Playwright) per test module.
    page             a fresh context and page (1280×800) per test, whose base URL is the server's, so
                     `page.goto("/app/")` works. Fails the test on an uncaught page error or a CSP violation.
    login(page, email, password=DEFAULT_PASSWORD)  signs in through allauth's form (it lands on /).
    snap(page, name) saves var/screenshots/<test>-<n>-<name>.png (not committed). `visit(page, path)`
                     goes to a path, waits for the network to settle and snaps it: every page the tests
                     open is on disk afterwards.

Tests using them: `@pytest.mark.slow` and `@pytest.mark.django_db(transaction=True)` (the server reads
committed rows only; each test's rows are truncated after it). Wait for selectors or responses
(`page.wait_for_selector`, `expect(...)`, `page.expect_response`), never sleep.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from ..factories import DEFAULT_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = settings.BASE_DIR / "var" / "screenshots"
SERVER_LOG = settings.BASE_DIR / "var" / "e2e-server.log"
QUEUE = f"quorum-e2e-{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the e2e server exited with {process.returncode}; see {SERVER_LOG}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # 503 (worker not ready yet) still means the server answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the e2e server did not answer within 30 s; see {SERVER_LOG}")


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    from django.db import connection

    from config.celery import app as celery_app

    database = dict(settings.DATABASES["default"])
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]  # the test database pytest-django made
    user = database.get("USER") or "postgres"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, db_port = database.get("HOST") or "127.0.0.1", database.get("PORT") or 5432
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}{password}@{host}:{db_port}/{name}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": QUEUE,
        "DJANGO_ENV": "test",
        "EMBEDDED_WORKER": "1",
        "UVICORN_LOG_LEVEL": "warning",
        "DB_POOL_MAX_SIZE": "4",
        "LOGIN_FAILED_RATE": "100/m/ip",
    }
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = SERVER_LOG.open("w")
    process = subprocess.Popen([sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE  # jobs this process starts go to the server's worker
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, time.monotonic() + 30)
        yield url
    finally:
        celery_app.conf.task_default_queue = previous_queue
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        _delete_queue()


def _delete_queue() -> None:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")


@pytest.fixture(scope="module")
def playwright_instance():
    """Per module: Playwright's sync API runs an event loop in this thread while it is open, and Django refuses
    ORM calls under a running loop unless told that this sync code is safe; both end with the module, so the
    rest of the suite runs as usual."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make install-dev` installs Debian's chromium")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server_url, request):
    context = browser.new_context(base_url=live_server_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.quorum_problems = []
    page.quorum_test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    page.quorum_shots = 0
    for stale in SCREENSHOTS.glob(f"{page.quorum_test}-*.png"):  # from an earlier run of this test
        stale.unlink()
    page.on("pageerror", lambda error: page.quorum_problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and "Content Security Policy" in message.text
            and page.quorum_problems.append(f"CSP: {message.text}"))
    yield page
    try:
        snap(page, "end")
    finally:
        context.close()
    assert not page.quorum_problems, page.quorum_problems


def snap(page, name: str) -> Path:
    """A full-page screenshot under var/screenshots/, numbered in the order the test took them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.quorum_shots += 1
    path = SCREENSHOTS / f"{page.quorum_test}-{page.quorum_shots:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def visit(page, path: str, *, name: str | None = None):
    """Open a page, wait until its requests settle, and screenshot it."""
    response = page.goto(path)
    page.wait_for_load_state("networkidle")
    snap(page, name or path.strip("/").replace("/", "_") or "root")
    return response


def login(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the allauth form (screenshots of the form and of where it lands)."""
    visit(page, "/accounts/login/", name="login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form [type=submit]")
    page.wait_for_load_state("networkidle")
    if "/accounts/login" in page.url:
        raise AssertionError(f"login failed for {email}: {page.inner_text('main')[:300]}")
    snap(page, "after_login")
