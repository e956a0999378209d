"""The consumer base every live route uses, and /ws/me/."""

import asyncio

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .groups import user_group
from .services import remember_server_loop

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Accepts only callers with a tenancy; subclasses name their groups (and may refuse with 4404)."""

    async def connect(self):
        remember_server_loop(asyncio.get_running_loop())
        self.tenancy = self.scope.get("tenancy")
        if self.tenancy is None:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.live_groups = await self.groups_for_connection()
        if self.live_groups is None:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        for group in self.live_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "organization": self.tenancy.organization.slug,
                              "role": self.tenancy.role})

    async def refuse(self, code):
        # Closing before accepting is a bare HTTP 403 on the handshake, and the client never sees the
        # code; accept first so it gets 4401/4404 and can tell "sign in again" from a network error.
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        for group in getattr(self, "live_groups", None) or []:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def groups_for_connection(self) -> list[str] | None:
        raise NotImplementedError

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, event):
        await self.send_json(event["payload"])


class MeConsumer(LiveConsumer):
    """`/ws/me/`: events for this person (lease revoked, gold feedback, new work, membership, jobs)."""

    async def groups_for_connection(self):
        return [user_group(self.tenancy.user.pk)]
