"""ASGI entry point: HTTP through Django, WebSockets through Channels (apps.live.routing)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.live.auth import WebSocketAuthMiddleware  # noqa: E402
from apps.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

from config.heap import freeze_startup_heap  # noqa: E402

freeze_startup_heap()
