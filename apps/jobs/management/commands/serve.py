"""`manage.py serve`: one process serving HTTP and WebSockets, with the job worker inside in embedded mode."""

import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from apps.jobs.worker import EmbeddedWorker
from config.celery import app as celery_app


class Command(BaseCommand):
    help = "Serve Quorum over HTTP and WebSockets (uvicorn); embedded mode also runs the job worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        worker = None
        if settings.EMBEDDED_WORKER:
            worker = EmbeddedWorker(celery_app)
            worker.start()
        mode = "embedded (SQLite, in-process worker)" if settings.EMBEDDED_WORKER else "external worker"
        self.stderr.write(f"Quorum serving at http://{host}:{port} — {mode}; Ctrl-C stops it")
        try:
            uvicorn.run(
                "config.asgi:application",
                host=host,
                port=port,
                lifespan="off",
                ws="websockets-sansio",
                log_level=os.environ.get("UVICORN_LOG_LEVEL", "info"),
                proxy_headers=True,
            )
        finally:
            if worker is not None:
                worker.stop()
