"""`manage.py export PROJECT_ID --format FMT --out PATH`: the API's export (a snapshot, then the writer), with a
progress bar on stderr; several-file formats are one zip archive."""

import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from apps.orgs.errors import ApiError
from apps.projects.models import Project
from config.heap import freeze_startup_heap

from ...formats import FORMATS
from ...models import DatasetSnapshot, Export
from ...services import export_write, file_name
from ...snapshots import snapshot_create


def parse_split(text: str | None) -> dict:
    """'train=0.8,val=0.1,test=0.1' → {"train": 0.8, …}."""
    if not text:
        return {}
    split = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            split[name.strip()] = float(value)
        except ValueError as exc:
            raise CommandError(f"--split: {part!r} is not name=fraction") from exc
    return split


class Command(BaseCommand):
    help = "Export a project (a new snapshot, or --snapshot ID) in one format to a file."
    requires_system_checks = []  # a data command: the checks (the whole URL map imported) took half a second

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--out", required=True, help="the file to write (a .zip for several-file formats)")
        parser.add_argument("--filter", default="accepted", choices=DatasetSnapshot.Filter.values)
        parser.add_argument("--split", help="e.g. train=0.8,val=0.1,test=0.1")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--stratify", action="store_true")
        parser.add_argument("--include-gold", action="store_true", dest="include_gold")
        parser.add_argument("--include-media", action="store_true", dest="include_media")
        parser.add_argument("--snapshot", type=int, help="export this snapshot instead of making one")

    def handle(self, *args, project_id, format, out, filter, split, seed, stratify, include_gold, include_media,
               snapshot, **options):
        project = Project.objects.filter(pk=project_id, deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"no project {project_id}")
        freeze_startup_heap()
        started = time.monotonic()
        try:
            if snapshot:
                frozen = DatasetSnapshot.objects.filter(project=project, pk=snapshot).first()
                if frozen is None:
                    raise CommandError(f"no snapshot {snapshot} in project {project_id}")
            else:
                frozen = snapshot_create(project=project, actor=None, filter=filter, split=parse_split(split),
                                         seed=seed, stratify=stratify, include_gold=include_gold)
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        export = Export(organization_id=project.organization_id, project=project, snapshot=frozen, format=format,
                        options={"include_media": include_media})
        show = sys.stderr.isatty() or os.environ.get("QUORUM_PROGRESS") == "1"

        def progress(done: float):
            if show:
                self.stderr.write(f"\r[{'#' * int(done * 30):<30}] {done:5.1%}", ending="")

        partial = f"{out}.part"
        try:
            with open(partial, "wb") as stream:
                counts = export_write(export=export, stream=stream, progress=progress)
            os.replace(partial, out)  # never a half-written file under the name asked for
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        if show:
            self.stderr.write("")
        seconds = round(time.monotonic() - started, 3)
        self.stderr.write(f"exported snapshot {frozen.pk} of project {project.pk} as {format} to {out} "
                          f"({os.path.getsize(out):,} bytes) in {seconds:.1f} s "
                          f"(suggested name {file_name(export, counts['archive'])})")
        self.stdout.write(json.dumps({"snapshot": frozen.pk, "checksum": frozen.checksum, "file": out,
                                      "seconds": seconds, **counts}))
