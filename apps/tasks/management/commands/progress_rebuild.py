"""`manage.py progress_rebuild [--project ID]`: recount the progress counters from the tasks."""

from django.core.management.base import BaseCommand, CommandError

from apps.projects.models import Project
from apps.tasks.progress import progress_rebuild


class Command(BaseCommand):
    help = ("Recompute the progress counters (counts by status) from the tasks, for after manual SQL that "
            "bypassed the database triggers. Task writes wait while it runs.")

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="only this project (default: every project)")

    def handle(self, *args, project, **options):
        if project is not None and not Project.objects.filter(pk=project).exists():
            raise CommandError(f"no project {project}")
        fixed = progress_rebuild(project_id=project)
        for row in fixed:
            self.stderr.write(f"project {row['project']} {row['status']}: {row['field']} {row['was']} -> {row['now']}")
        scope = f"project {project}" if project is not None else "every project"
        self.stdout.write(f"progress counters of {scope} rebuilt: {len(fixed)} wrong value(s) corrected")
