"""Events of the projects app, sent explicitly by its services (DESIGN §3)."""

from django.dispatch import Signal

# project: Project (saved); before: dict and after: dict of its settings. Sent inside the transaction.
project_settings_changed = Signal()
