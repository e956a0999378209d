"""django-guardian is wired: object-level grants work with Quorum's user model."""

from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from apps.accounts.models import User
from apps.orgs.models import Organization


def test_object_grant_applies_to_that_object_only(tenant, other_tenant):
    user = tenant.user("annotator")
    assert not user.has_perm("orgs.view_organization", tenant.org)
    assign_perm("orgs.view_organization", user, tenant.org)
    user = User.objects.get(pk=user.pk)  # a fresh object: guardian caches per instance
    assert user.has_perm("orgs.view_organization", tenant.org)
    assert not user.has_perm("orgs.view_organization", other_tenant.org)
    assert list(get_objects_for_user(user, "orgs.view_organization", Organization)) == [tenant.org]
    remove_perm("orgs.view_organization", user, tenant.org)
    assert not User.objects.get(pk=user.pk).has_perm("orgs.view_organization", tenant.org)


def test_no_anonymous_user_row_is_created(db):
    assert not User.objects.filter(email__iexact="anonymoususer").exists()
