"""The README's run command in embedded mode: `make run` with no PostgreSQL, Redis or worker to start."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nobody answers on it and a new server could listen on it (TIME_WAIT leftovers are fine)."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_make_run_serves_embedded_mode_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV"}}
    env.update(PORT=str(port), QUORUM_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "make-run.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["make", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def output():
        return log_path.read_text(errors="replace")[-4000:]

    try:
        deadline, health = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"make run exited with {proc.returncode}:\n{output()}"
            try:
                health = get(f"{base}/healthz")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                health = None
            if health and health[0] == 200:
                break
            time.sleep(0.25)
        assert health is not None and health[0] == 200, f"no healthy /healthz ({health}):\n{output()}"
        assert health[1] == {"database": "ok", "redis": "not configured", "worker": "ok"}

        made = subprocess.run(
            [str(PYTHON), "manage.py", "create_token", "--org", "demo", "--role", "manager", "--name", "smoke"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip().splitlines()[-1]
        status, me = get(f"{base}/api/v1/me", {"Authorization": f"Token {secret}"})
        assert status == 200, me
        assert me["organization"]["slug"] == "demo" and me["role"] == "manager"

        database = var_dir / "quorum.sqlite3"
        assert database.is_file()
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still running 15 s after Ctrl-C:\n{output()}")
        stop_deadline = time.monotonic() + 5
        while group_alive(proc.pid) and time.monotonic() < stop_deadline:
            time.sleep(0.1)
        assert not group_alive(proc.pid), f"processes of make run outlived it:\n{output()}"
        assert port_is_free(port)
        assert time.monotonic() - started < 15
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
