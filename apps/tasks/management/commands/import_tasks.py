"""`manage.py import_tasks PROJECT_ID FILE`: the API's import, with progress on stderr and the summary on stdout."""

import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import user_by_email
from apps.orgs.models import Membership
from apps.orgs.roles import MANAGERS
from apps.projects.models import Project
from apps.tasks.import_formats import ImportFormatError, detect_format
from apps.tasks.imports import tasks_import
from apps.tasks.models import Task
from config.heap import freeze_startup_heap


class Command(BaseCommand):
    help = "Import tasks from a JSON, JSONL, CSV or Label Studio JSON file into a project."
    requires_system_checks = []  # a data command: the checks (the whole URL map imported) took half a second

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("file")
        parser.add_argument("--format", choices=["json", "jsonl", "csv"], help="default: from the extension")
        parser.add_argument("--on-duplicate", choices=["skip", "update"], default="skip", dest="on_duplicate")
        parser.add_argument("--as", dest="as_email", help="member the import is attributed to (default: an owner)")
        parser.add_argument("--batch-size", type=int, default=5000, dest="batch_size")

    def handle(self, *args, project_id, file, format, on_duplicate, as_email, batch_size, **options):
        project = Project.objects.filter(pk=project_id, deleted_at__isnull=True).select_related("organization").first()
        if project is None:
            raise CommandError(f"no project {project_id}")
        actor = self._actor(project, as_email)
        freeze_startup_heap()
        try:
            fmt = format or detect_format(None, file)
            size = os.path.getsize(file)
            stream = open(file, "rb")  # noqa: SIM115 - closed below, after the import
        except (ImportFormatError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        started = time.monotonic()
        show = sys.stderr.isatty() or os.environ.get("QUORUM_PROGRESS") == "1"

        def progress(report):
            if show:
                done = stream.tell() / size if size else 1
                bar = "#" * int(done * 30)
                self.stderr.write(f"\r[{bar:<30}] {done:5.1%} {report.created} created, "
                                  f"{report.duplicates} duplicates, {report.errors_total} errors", ending="")

        with stream:
            summary = tasks_import(project=project, actor=actor, stream=stream, fmt=fmt, on_duplicate=on_duplicate,
                                   source=Task.Source.COMMAND, progress=progress, batch_size=batch_size)
        elapsed = time.monotonic() - started
        rows = summary["created"] + summary["duplicates"] + len(summary["errors"])
        if show:
            self.stderr.write("")
        self.stderr.write(f"imported {file} into project {project.pk} in {elapsed:.1f} s "
                          f"({rows / elapsed if elapsed else 0:,.0f} rows/s)")
        self.stdout.write(json.dumps(summary))

    def _actor(self, project, as_email):
        memberships = Membership.objects.filter(organization=project.organization, status=Membership.Status.ACTIVE)
        if as_email:
            user = user_by_email(as_email)
            if user is None or not memberships.filter(user=user, role__in=MANAGERS).exists():
                raise CommandError(f"{as_email} is not an active manager or owner of {project.organization.slug}")
            return user
        owner = memberships.filter(role="owner").select_related("user").order_by("id").first()
        if owner is None:
            raise CommandError(f"{project.organization.slug} has no active owner; use --as")
        return owner.user
