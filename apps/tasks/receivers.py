"""How the tasks app reacts to events of the apps to its left."""

from django.dispatch import receiver

from apps.projects.signals import project_settings_changed

from .services import tasks_overlap_changed


@receiver(project_settings_changed)
def follow_overlap(sender, project, before, after, **kwargs):
    if before.get("overlap") != after.get("overlap"):
        tasks_overlap_changed(project=project, before=before.get("overlap") or 1, after=after.get("overlap") or 1)
