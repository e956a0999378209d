"""Events the orgs app sends for apps to its right (DESIGN §3)."""

from django.dispatch import Signal

# Sent after a membership's role or status changed: membership=Membership, change="role"|"removed"|"joined".
membership_changed = Signal()
