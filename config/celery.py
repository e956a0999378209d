"""The Celery application; tasks live in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("quorum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def _freeze_startup_heap(**kwargs):
    """Once a worker (or a prefork child) has started: see config.heap."""
    from config.heap import freeze_startup_heap

    freeze_startup_heap()
