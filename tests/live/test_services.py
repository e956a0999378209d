"""broadcast() from a thread that is not the socket server's, with the in-memory layer (embedded mode)."""

import asyncio
import threading

from channels.layers import InMemoryChannelLayer

from apps.live import services


def test_sends_from_other_threads_are_handed_to_the_server_loop(settings):
    """The in-memory layer's queues belong to the server's loop; touching them from a worker thread
    is refused by asyncio in debug mode, so broadcast() must submit the send to that loop."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert isinstance(layer, InMemoryChannelLayer)
    ready, received = threading.Event(), []

    async def socket_side():
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        services.remember_server_loop(loop)
        channel = await layer.new_channel()
        await layer.group_add("user.1", channel)
        ready.set()
        received.append(await asyncio.wait_for(layer.receive(channel), 5))

    server = threading.Thread(target=lambda: asyncio.run(socket_side()))
    server.start()
    assert ready.wait(5)
    worker = threading.Thread(target=services.broadcast, args=("user.1", {"type": "job.progress", "n": 1}))
    worker.start()
    worker.join(5)
    server.join(10)
    services.remember_server_loop(None)
    assert received == [{"type": "live.event", "payload": {"type": "job.progress", "n": 1}}]
