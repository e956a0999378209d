"""WebSocket routes. Apps to the right add theirs with `register()` from their AppConfig.ready()."""

from django.urls import path

from .consumers import MeConsumer

websocket_urlpatterns = [path("ws/me/", MeConsumer.as_asgi())]


def register(pattern) -> None:
    websocket_urlpatterns.append(pattern)
