"""`Authorization: Token <secret>`: API tokens are looked up by the sha256 of their secret."""

import datetime as dt
import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_from_secret(secret: str) -> ApiToken:
    """The live token for a secret, or AuthenticationFailed; shared by HTTP and WebSocket auth."""
    token = (
        ApiToken.objects.select_related("user", "organization")
        .filter(secret_hash=hash_secret(secret))
        .first()
    )
    if token is None:
        raise exceptions.AuthenticationFailed("invalid token")
    if token.revoked_at is not None:
        raise exceptions.AuthenticationFailed("token revoked")
    if token.is_expired:
        raise exceptions.AuthenticationFailed("token expired")
    if not token.user.is_active or not token.organization.is_active:
        raise exceptions.AuthenticationFailed("token's user or organization is deactivated")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional UPDATE: under load at most one write per token per minute.
        ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(
            last_used_at=now
        )
        token.last_used_at = now
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <secret>'")
        try:
            secret = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("invalid token") from exc
        token = token_from_secret(secret)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
