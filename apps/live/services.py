"""Sending live events: always after the transaction that caused them commits (STYLE.md 5).

Synchronous code (views, Celery tasks) hands its sends to one sender thread per process and goes on. The sender
takes whatever has queued up since its last round as one batch: it asks Redis in one round trip which of the
batch's groups have a socket listening, and sends to those only. Before, every message cost the request's
process two Redis round trips through the channel layer even with nobody listening, which is most of the time
for most groups. Work that only needs doing once per batch (a project's progress) is queued under a key and
runs once however many changes asked for it.
"""

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)

# The event loop serving the sockets of this process (embedded mode: the in-memory layer's queues
# belong to it, so senders on other threads, such as the job worker, must hand it their sends).
_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def _in_background() -> bool:
    return getattr(settings, "LIVE_SEND_IN_BACKGROUND", True)


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
        if _in_background():
            _sender().put(("send", group, event))
        else:
            async_to_sync(layer.group_send)(group, event)
    except Exception:  # a live update must never break the write that caused it
        log.exception("live broadcast to %s failed", group)


def broadcast_on_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: broadcast(group, message))


def call_soon(key, function: Callable[[], None]) -> None:
    """Run `function` on the sender thread, once for every `key` that queued up meanwhile (inline when sends are
    not in the background). It may read the database and broadcast."""
    if _in_background():
        _sender().put(("call", key, function))
    else:
        function()


def call_on_commit(key, function: Callable[[], None]) -> None:
    transaction.on_commit(lambda: call_soon(key, function))


class _Sender:
    """One thread per process: takes queued sends and calls in batches (see the module's docstring)."""

    def __init__(self):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="live-sender", daemon=True)
        self.thread.start()

    def put(self, item) -> None:
        self.queue.put(item)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            calls = {}
            for kind, key, value in batch:
                if kind == "call":
                    calls.setdefault(key, value)
            if calls:
                for function in calls.values():
                    try:
                        function()
                    except Exception:
                        log.exception("live: a queued call failed")
                close_old_connections()  # the calls' database connection goes back to the pool
            sends = [(group, event) for kind, group, event in batch if kind == "send"]
            if sends:
                try:
                    loop.run_until_complete(_send_batch(sends))
                except Exception:
                    log.exception("live: a batch of %s sends failed", len(sends))


async def _send_batch(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    listening = await _listening(layer, list(dict.fromkeys(group for group, _ in sends)))
    for group, event in sends:
        if group in listening:
            try:
                await layer.group_send(group, event)
            except Exception:
                log.exception("live broadcast to %s failed", group)


async def _listening(layer, groups: list[str]) -> set[str]:
    """Which of `groups` have a member: one pipelined round trip per Redis shard. channels_redis keeps a group's
    channels in a sorted set scored by when each joined, and its group_send ignores those older than
    group_expiry; other layers are asked nothing (every group counts as listened to)."""
    if not hasattr(layer, "_group_key") or not hasattr(layer, "connection"):
        return set(groups)
    since = int(time.time()) - layer.group_expiry
    by_shard: dict[int, list[str]] = {}
    for group in groups:
        by_shard.setdefault(layer.consistent_hash(group), []).append(group)
    found = set()
    for index, members in by_shard.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group in members:
            pipe.zcount(layer._group_key(group), since, "+inf")
        counts = await pipe.execute()
        found.update(group for group, count in zip(members, counts, strict=True) if count)
    return found


_instance: _Sender | None = None
_instance_lock = threading.Lock()


def _sender() -> _Sender:
    """The process's sender, made anew after a fork (Celery's prefork pool)."""
    global _instance
    current = _instance
    if current is not None and current.pid == os.getpid() and current.thread.is_alive():
        return current
    with _instance_lock:
        if _instance is None or _instance.pid != os.getpid() or not _instance.thread.is_alive():
            _instance = _Sender()
        return _instance
