"""WSGI entry point (HTTP only; WebSockets need config.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.heap import freeze_startup_heap  # noqa: E402

freeze_startup_heap()
