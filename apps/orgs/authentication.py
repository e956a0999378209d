"""`Authorization: Token <secret>`: API tokens are looked up by the sha256 of their secret."""

import datetime as dt
import hashlib
from functools import cache

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken, Membership, Organization
from .rows import columns, fetch

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@cache
def _token_query():
    user = get_user_model()
    parts = (columns(ApiToken, "t"), columns(user, "u"), columns(Organization, "o"), columns(Membership, "m"))
    sql = (f"SELECT {', '.join(p.sql for p in parts)} FROM {ApiToken._meta.db_table} t "
           f"JOIN {user._meta.db_table} u ON u.id = t.user_id "
           f"JOIN {Organization._meta.db_table} o ON o.id = t.organization_id "
           f"LEFT JOIN {Membership._meta.db_table} m ON m.organization_id = t.organization_id "
           f"AND m.user_id = t.user_id AND m.status = '{Membership.Status.ACTIVE}' WHERE t.secret_hash = %s")
    return sql, parts


def _token_row(secret: str) -> ApiToken | None:
    """The token with its user and organization, and the user's active membership there (tenancy_for uses
    it), in one statement: this runs on every API request."""
    sql, (token_cols, user_cols, org_cols, member_cols) = _token_query()
    rows = fetch(sql, [hash_secret(secret)])
    if not rows:
        return None
    row = rows[0]
    start = token_cols.width
    token = token_cols.build(row)
    token.user = user_cols.build(row, start)
    token.organization = org_cols.build(row, start + user_cols.width)
    start += user_cols.width + org_cols.width
    membership = None
    if row[start] is not None:
        membership = member_cols.build(row, start)
        membership.user, membership.organization = token.user, token.organization
    token.active_membership = membership
    return token


def token_from_secret(secret: str) -> ApiToken:
    """The live token for a secret, or AuthenticationFailed; shared by HTTP and WebSocket auth."""
    token = _token_row(secret)
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
