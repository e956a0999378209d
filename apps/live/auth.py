"""WebSocket authentication: the browser's session cookie, or `?token=<secret>` for scripts."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from rest_framework.exceptions import APIException

from apps.orgs.authentication import token_from_secret
from apps.orgs.selectors import mfa_setup_required
from apps.orgs.tenancy import SESSION_KEY, tenancy_for


@database_sync_to_async
def _token_user(secret):
    try:
        token = token_from_secret(secret)
    except APIException:
        return None, None
    return token.user, token


@database_sync_to_async
def _tenancy(user, token, slug, session_org_id):
    # Browser sessions of PHI members follow the same TOTP rule as pages and the API.
    if token is None and mfa_setup_required(user=user):
        return None
    try:
        return tenancy_for(user=user, token=token, slug=slug, session_org_id=session_org_id)
    except APIException:
        return None


class _TokenAndTenancy:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        scope = dict(scope, token=None, tenancy=None)
        secret = (query.get("token") or [None])[0]
        if secret:
            user, token = await _token_user(secret)
            scope["token"] = token
            if user is not None:
                scope["user"] = user
            else:
                from django.contrib.auth.models import AnonymousUser

                scope["user"] = AnonymousUser()
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            session = scope.get("session")
            session_org = session.get(SESSION_KEY) if session is not None else None
            slug = (query.get("org") or [None])[0]
            scope["tenancy"] = await _tenancy(user, scope["token"], slug, session_org)
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - named like the middleware classes it composes
    return AuthMiddlewareStack(_TokenAndTenancy(inner))
