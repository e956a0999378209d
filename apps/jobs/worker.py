"""Worker liveness for /healthz, and the embedded worker thread of the single-process server."""

import logging
import threading
import time

from celery import signals
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "quorum:worker:heartbeat"


def record_worker_heartbeat() -> None:
    cache.set(HEARTBEAT_KEY, time.time(), timeout=settings.WORKER_HEARTBEAT_MAX_AGE * 4)


def worker_is_alive() -> bool:
    beat = cache.get(HEARTBEAT_KEY)
    return beat is not None and time.time() - beat < settings.WORKER_HEARTBEAT_MAX_AGE


def start_heartbeat_thread() -> None:
    """Keep the heartbeat fresh from inside the worker process, whether or not beat runs."""

    def beat():
        while True:
            try:
                record_worker_heartbeat()
            except Exception:  # the cache may be briefly unreachable; try again next round
                log.warning("could not record the worker heartbeat", exc_info=True)
            time.sleep(max(1.0, settings.WORKER_HEARTBEAT_MAX_AGE / 4))

    threading.Thread(target=beat, name="quorum-worker-heartbeat", daemon=True).start()


@signals.worker_ready.connect
def _on_worker_ready(sender=None, **kwargs):
    # Sent by `celery worker`; the embedded worker starts the thread itself.
    start_heartbeat_thread()


class EmbeddedWorker:
    """A Celery worker and beat running as threads of the web process (embedded mode only).

    The broker is Celery's in-memory transport, so the jobs' live events reach the sockets held by
    this same process through the in-memory channel layer.
    """

    def __init__(self, app, concurrency: int = 2):
        self.app = app
        self.concurrency = concurrency
        self.worker = None
        self.beat = None

    def start(self):
        from celery.beat import EmbeddedService
        from celery.worker import WorkController

        self.worker = WorkController(
            app=self.app,
            pool="threads",
            concurrency=self.concurrency,
            hostname="embedded@quorum",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
        )
        threading.Thread(target=self.worker.start, name="quorum-embedded-worker", daemon=True).start()
        self.beat = EmbeddedService(self.app, thread=True, scheduler_cls="celery.beat:Scheduler")
        self.beat.start()
        start_heartbeat_thread()
        log.info("embedded job worker started (%s threads)", self.concurrency)

    def stop(self):
        if self.beat is not None:
            self.beat.stop()
        if self.worker is not None:
            self.worker.stop(in_sighandler=False)
