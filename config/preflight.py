"""`python -m config.preflight`: say clearly which service is missing and how to start it.

Used by `make run` (when DATABASE_URL / REDIS_URL are set) and `make test` (always) before anything
else runs; creates the PostgreSQL database named in DATABASE_URL when the server is up but the
database is not there yet.
"""

import argparse
import os
import sys
from urllib.parse import urlparse

POSTGRES_HINT = (
    "start PostgreSQL (Debian: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
    "or `docker compose up -d db`)"
)
REDIS_HINT = (
    "start Redis (`redis-server --daemonize yes --bind 127.0.0.1 --port 6379`, or `docker compose up -d redis`)"
)


def check_postgres(url: str) -> str | None:
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    dbname = (parts.path or "/").lstrip("/") or "postgres"
    admin_url = parts._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, connect_timeout=3, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                print(f"created PostgreSQL database {dbname}", file=sys.stderr)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is unreachable ({first_line}); {POSTGRES_HINT}"
    return None


def check_redis(url: str) -> str | None:
    import redis

    parts = urlparse(url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.exceptions.RedisError as exc:
        return f"Redis at {parts.hostname}:{parts.port or 6379} is unreachable ({exc}); {REDIS_HINT}"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--require", action="store_true", help="PostgreSQL and Redis must be configured")
    args = parser.parse_args(argv)
    problems = []
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if args.require and not database_url:
        problems.append("DATABASE_URL is not set")
    if args.require and not redis_url:
        problems.append("REDIS_URL is not set")
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        problems.append(check_postgres(database_url))
    if redis_url:
        problems.append(check_redis(redis_url))
    problems = [p for p in problems if p]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
