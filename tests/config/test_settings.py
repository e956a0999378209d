"""Settings: production refuses insecure configuration; the embedded default is SQLite in WAL mode."""

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run_python(code: str, env: dict, *, args=()) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with only PATH and `env` in its environment."""
    clean_env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=BASE_DIR, env=clean_env, capture_output=True, text=True, timeout=60,
    )


def production_env(tmp_path) -> dict:
    return {
        "DJANGO_ENV": "production",
        "QUORUM_VAR_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
        "ALLOWED_HOSTS": "quorum.example.org",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
    }


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one-line reason production gave for not starting."""
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: Refusing to start in production: ")
    return last_line.split("Refusing to start in production: ", 1)[1]


def test_production_starts_with_a_secure_configuration(tmp_path):
    env = production_env(tmp_path)
    assert len(env["SECRET_KEY"]) == 64
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = run_python(
        """
        import django, json
        django.setup()
        from django.conf import settings
        print(json.dumps({"debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS,
                          "engine": settings.DATABASES["default"]["ENGINE"],
                          "cache": settings.CACHES["default"]["BACKEND"],
                          "secure_cookies": settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE,
                          "first_hasher": settings.PASSWORD_HASHERS[0]}))
        """,
        env,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "debug": False,
        "hosts": ["quorum.example.org"],
        "engine": "django.db.backends.postgresql",
        "cache": "config.cache.PooledRedisCache",
        "secure_cookies": True,
        "first_hasher": "django.contrib.auth.hashers.Argon2PasswordHasher",
    }


# (what is wrong, the environment change, the word the refusal must name)
INSECURE = [
    ("DEBUG on", {"DEBUG": "1"}, "DEBUG"),
    ("no SECRET_KEY", {"SECRET_KEY": None}, "SECRET_KEY"),
    ("placeholder SECRET_KEY", {"SECRET_KEY": "change-me"}, "SECRET_KEY"),
    ("Django's insecure key", {"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "SECRET_KEY"),
    ("short SECRET_KEY", {"SECRET_KEY": secrets.token_urlsafe(20)}, "SECRET_KEY"),
    ("wildcard ALLOWED_HOSTS", {"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
    ("subdomain wildcard ALLOWED_HOSTS", {"ALLOWED_HOSTS": "quorum.example.org,*.example.org"}, "ALLOWED_HOSTS"),
    ("no ALLOWED_HOSTS", {"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
    ("no DATABASE_URL", {"DATABASE_URL": None}, "DATABASE_URL"),
    ("no REDIS_URL", {"REDIS_URL": None}, "REDIS_URL"),
]


@pytest.mark.parametrize(("change", "word"), [(c, w) for _, c, w in INSECURE], ids=[i for i, _, _ in INSECURE])
def test_production_refuses_to_start_with_an_insecure_setting(tmp_path, change, word):
    env = production_env(tmp_path)
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    reason = refusal(result)
    # Exactly this one problem is named: the rest of the configuration was accepted.
    assert word in reason and ";" not in reason, reason


def test_production_names_every_problem_at_once(tmp_path):
    result = run_python("import django; django.setup()", {"DJANGO_ENV": "production", "DEBUG": "true",
                                                           "QUORUM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    reason = refusal(result)
    for word in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
        assert word in reason


DEVELOPMENT_PROBE = """
import json, sqlite3
import django
django.setup()
from django.conf import settings
from django.db import connection, transaction

db = settings.DATABASES["default"]
with connection.cursor() as cursor:
    pragmas = {}
    for pragma in ("journal_mode", "foreign_keys", "synchronous"):
        cursor.execute(f"PRAGMA {pragma}")
        pragmas[pragma] = cursor.fetchone()[0]
# IMMEDIATE: BEGIN takes the write lock at once, so a second writer cannot start a write transaction.
with transaction.atomic():
    other = sqlite3.connect(db["NAME"], timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        second_writer = "started"
        other.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        second_writer = str(exc)
    finally:
        other.close()
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "transaction_mode": db["OPTIONS"]["transaction_mode"],
    "pragmas": pragmas, "second_writer": second_writer, "debug": settings.DEBUG,
    "cache": settings.CACHES["default"]["BACKEND"], "secret_key_length": len(settings.SECRET_KEY),
}))
"""


def test_development_defaults_to_sqlite_in_wal_mode_with_immediate_transactions(tmp_path):
    result = run_python(DEVELOPMENT_PROBE, {"DJANGO_ENV": "development", "QUORUM_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["engine"] == "django.db.backends.sqlite3"
    assert shown["name"] == str(tmp_path.resolve() / "quorum.sqlite3")
    assert (tmp_path / "quorum.sqlite3").exists()
    assert shown["transaction_mode"] == "IMMEDIATE"
    assert shown["pragmas"] == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1}
    assert shown["second_writer"] == "database is locked"
    assert shown["debug"] is True
    assert shown["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert shown["secret_key_length"] >= 50


def test_development_keeps_its_generated_secret_key_across_restarts(tmp_path):
    code = "import hashlib, django; django.setup(); from django.conf import settings; " \
           "print(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest())"
    env = {"DJANGO_ENV": "development", "QUORUM_VAR_DIR": str(tmp_path)}
    first, second = run_python(code, env), run_python(code, env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
