"""ASGI entry point (what uvicorn serves): HTTP through Django's WSGI handler on a pool of threads, WebSockets
through Channels (apps.live.routing).

Django's own ASGI handler runs a synchronous view, and every synchronous middleware, through asgiref's
thread hand-offs: the middleware chain in a new thread per request, back to the event loop for the handler, into
that thread again for the view. Every view and middleware here is synchronous, so that cost 2-2.5 ms of CPU
per request (bench/RESULTS.md), more than a whole `next`'s own work; a2wsgi hands each request to one thread of
a fixed pool and streams the body both ways. WEB_THREADS threads per process (default 8) each hold at most one
database connection of the process's pool (DB_POOL_MAX_SIZE, default 10).
"""

import os

from config.wsgi import application as django_wsgi_app  # first: it sets Django up  # isort: skip

from a2wsgi import WSGIMiddleware
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from apps.live.auth import WebSocketAuthMiddleware
from apps.live.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(django_wsgi_app, workers=int(os.environ.get("WEB_THREADS", "8"))),
        "websocket": AllowedHostsOriginValidator(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
