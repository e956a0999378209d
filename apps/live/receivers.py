"""Turns other apps' events into live messages."""

from django.dispatch import receiver

from apps.orgs.signals import membership_changed

from .groups import user_group
from .services import broadcast


@receiver(membership_changed)
def push_membership_change(sender, membership, change, **kwargs):
    # The sender already waited for the commit.
    broadcast(
        user_group(membership.user_id),
        {
            "type": "membership.updated",
            "change": change,
            "organization": membership.organization.slug,
            "member": membership.pk,
            "role": membership.role,
            "status": membership.status,
        },
    )
