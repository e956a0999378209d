"""Sending live events: always after the transaction that caused them commits (STYLE.md 5)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def broadcast(group: str, message: dict) -> None:
    """Send `message` (JSON with a "type") to every socket in `group`, now."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.event", "payload": message})
    except Exception:  # a live update must never break the write that caused it
        log.exception("live broadcast to %s failed", group)


def broadcast_on_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: broadcast(group, message))
