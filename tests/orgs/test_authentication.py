"""Token authentication reads token, user, organization and membership in one statement, uncached: every
change to any of them applies to the very next request."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.orgs.authentication import token_from_secret
from apps.orgs.models import ApiToken, Membership, Organization


def test_one_statement_and_last_used_at_at_most_once_a_minute(tenant, django_assert_num_queries):
    secret = tenant.secrets["annotator"]
    token_from_secret(secret)  # first use: stamps last_used_at
    stamped = ApiToken.objects.get(user=tenant.user("annotator")).last_used_at
    with django_assert_num_queries(1):
        token = token_from_secret(secret)
    assert token.user == tenant.user("annotator") and token.organization == tenant.org
    assert token.active_membership == tenant.member("annotator")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == stamped
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - dt.timedelta(minutes=2))
    token_from_secret(secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > stamped


@pytest.mark.parametrize("change", ["revoked", "expired", "user deactivated", "organization deactivated",
                                    "membership removed", "membership invited again"])
def test_a_change_refuses_the_very_next_request(tenant, as_role, change):
    client = as_role("annotator")
    assert client.get("/api/v1/me").status_code == 200
    user = tenant.user("annotator")
    if change == "revoked":
        ApiToken.objects.filter(user=user).update(revoked_at=timezone.now())
    elif change == "expired":
        ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif change == "user deactivated":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif change == "organization deactivated":
        Organization.objects.filter(pk=tenant.org.pk).update(is_active=False)
    else:
        status = Membership.Status.REMOVED if change == "membership removed" else Membership.Status.INVITED
        Membership.objects.filter(pk=tenant.member("annotator").pk).update(status=status)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_role_change_applies_to_the_very_next_request(tenant, as_role):
    client = as_role("manager")
    assert client.get("/api/v1/me").json()["role"] == "manager"
    assert client.get("/api/v1/members").status_code == 200
    Membership.objects.filter(pk=tenant.member("manager").pk).update(role="annotator")
    assert client.get("/api/v1/me").json()["role"] == "annotator"  # the token never acts above its user
    Membership.objects.filter(pk=tenant.member("manager").pk).update(role="manager")
    assert client.get("/api/v1/me").json()["role"] == "manager"


def test_a_token_of_another_organization_never_acts_here(tenant, other_tenant):
    token = token_from_secret(other_tenant.secrets["owner"])
    assert token.organization == other_tenant.org
    assert token.active_membership.organization_id == other_tenant.org.pk
