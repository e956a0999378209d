"""Sending live events: always after the transaction that caused them commits (STYLE.md 5)."""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

# The event loop serving the sockets of this process (embedded mode: the in-memory layer's queues
# belong to it, so senders on other threads, such as the job worker, must hand it their sends).
_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def broadcast(group: str, message: dict) -> None:
    """Send `message` (JSON with a "type") to every socket in `group`, now."""
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "live.event", "payload": message}
    try:
        loop = _server_loop
        if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
            try:
                current = asyncio.get_running_loop()
            except RuntimeError:
                current = None
            if current is loop:
                loop.create_task(layer.group_send(group, event))
            else:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop).result(timeout=5)
            return
        if getattr(settings, "LIVE_SEND_IN_BACKGROUND", True):
            asyncio.run_coroutine_threadsafe(_send_logged(layer, group, event), _sender_loop())
        else:
            async_to_sync(layer.group_send)(group, event)
    except Exception:  # a live update must never break the write that caused it
        log.exception("live broadcast to %s failed", group)


async def _send_logged(layer, group, event):
    try:
        await layer.group_send(group, event)
    except Exception:
        log.exception("live broadcast to %s failed", group)


_sender: asyncio.AbstractEventLoop | None = None
_sender_thread: threading.Thread | None = None
_sender_pid: int | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process, on a daemon thread, that sends for synchronous code (views, Celery):
    a request hands its message over and goes on instead of spinning up a loop per message, and the
    layer's Redis connections are reused. Re-made after a fork (Celery's prefork pool)."""
    global _sender, _sender_thread, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid() or not _sender_thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="live-sender", daemon=True)
            thread.start()
            _sender, _sender_thread, _sender_pid = loop, thread, os.getpid()
        return _sender


def broadcast_on_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: broadcast(group, message))
