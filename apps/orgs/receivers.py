"""Audits sign-ins and failed sign-ins into the trails of the organizations concerned."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.accounts.services import user_by_email
from apps.audit.services import record

from .models import Membership


def _org_ids(user):
    ids = list(
        Membership.objects.filter(user=user).exclude(status=Membership.Status.REMOVED)
        .values_list("organization_id", flat=True)
    )
    return ids or [None]  # no organization: the platform chain


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    for org_id in _org_ids(user):
        record(action="auth.login", organization=org_id, actor=user, object_type="user", object_id=user.pk,
               request=request)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is None:
        return
    for org_id in _org_ids(user):
        record(action="auth.logout", organization=org_id, actor=user, object_type="user", object_id=user.pk,
               request=request)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    user = user_by_email(email) if email else None
    for org_id in _org_ids(user) if user is not None else [None]:
        record(action="auth.login_failed", organization=org_id, actor=None, object_type="user",
               object_id=user.pk if user else "", data={"email": email}, request=request)
