"""Exports: start one as a job, run it (a snapshot's records through a format's writer into storage, published
only once complete), and the expiring, signed download URL."""

import hashlib
import os
import tempfile
import uuid

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.services import record
from apps.jobs.services import job_start
from apps.live.services import broadcast
from apps.orgs.errors import ApiError
from apps.projects.label_spec import compile_spec
from apps.tasks.events import project_group
from apps.tasks.models import Media, Task

from .formats import FORMATS, unfit, writer
from .models import DatasetSnapshot, Export
from .records import Options, Output
from .snapshots import checked_split, snapshot_create, snapshot_records

DOWNLOAD_SECONDS = 15 * 60
SIGNER_SALT = "quorum.exports.download"


def _snapshot_key(filter_: str, split: dict, seed: int, stratify: bool, include_gold: bool) -> str:
    return hashlib.blake2b(repr((filter_, sorted(split.items()), seed, stratify, include_gold)).encode(),
                           digest_size=8).hexdigest()


@transaction.atomic
def export_start(*, project, actor, format: str, snapshot: DatasetSnapshot | None = None, filter: str = "accepted",
                 split=None, seed: int = 0, stratify: bool = False, include_gold: bool = False,
                 include_media: bool = False, request=None) -> Export:
    """A queued export (its job runs on a worker); the same request while one runs returns the running one."""
    if format not in FORMATS:
        raise ApiError(f"format is one of {', '.join(FORMATS)}", details={"format": ["unknown format"]})
    fractions = checked_split(split)
    from apps.tasks.annotations import project_spec

    problem = unfit(format, project_spec(project))
    if problem:
        raise ApiError(problem, details={"format": [problem]})
    if snapshot is None and filter not in DatasetSnapshot.Filter.values:
        raise ApiError(f"filter is one of {', '.join(DatasetSnapshot.Filter.values)}", details={"filter": ["unknown"]})
    what = f"s{snapshot.pk}" if snapshot else _snapshot_key(filter, fractions, seed, stratify, include_gold)
    key = f"export:{project.pk}:{format}:{what}:{int(include_media)}"
    running = Export.objects.filter(project=project, job__dedupe_key=key,
                                    status__in=[Export.Status.QUEUED, Export.Status.RUNNING]).first()
    if running is not None:
        return running
    wanted = {"filter": filter, "split": fractions, "seed": int(seed), "stratify": bool(stratify),
              "include_gold": bool(include_gold)}
    if snapshot is None and Task.objects.filter(project=project).count() <= settings.SNAPSHOT_SYNC_TASKS:
        # freeze now, so the export shows what the project held when it was asked for; a large project's
        # snapshot is made by the job instead of inside this request
        snapshot = snapshot_create(project=project, actor=actor, request=request, **wanted)
    from .tasks import export_run_task

    export = Export.objects.create(organization_id=project.organization_id, project=project, snapshot=snapshot,
                                   format=format, options={"include_media": bool(include_media),
                                                           **({} if snapshot else {"snapshot": wanted})},
                                   created_by=actor if getattr(actor, "pk", None) else None)
    job = job_start(organization=project.organization, created_by=export.created_by, kind="export",
                    task=export_run_task, params={"export": export.pk}, dedupe_key=key)
    Export.objects.filter(pk=export.pk).update(job=job)
    export.job = job
    record(action="export.start", organization=project.organization_id, actor=actor, object_type="export",
           object_id=export.pk,
           data={"project": project.pk, "snapshot": snapshot.pk if snapshot else None, "format": format},
           request=request)
    return export


def _media_reader(project):
    """Task media by storage key or by /api/v1/media/{id} URL, read from storage (no outbound fetches)."""
    prefix = "/api/v1/media/"

    def read(ref: str) -> bytes | None:
        if not isinstance(ref, str):
            return None
        key = ref
        if ref.startswith(prefix):
            media = Media.objects.filter(project=project, pk=ref[len(prefix):].strip("/") or 0).first()
            key = media.key if media else None
        elif not Media.objects.filter(project=project, key=ref).exists():
            key = None
        if not key or not default_storage.exists(key):
            return None
        with default_storage.open(key, "rb") as handle:
            return handle.read()

    return read


def _image_size(read):
    def size(ref: str):
        data = read(ref)
        if not data:
            return None
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        except Exception:  # not an image we can read: the writer counts the task as without a size
            return None

    return size


def export_write(*, export: Export, stream, progress=None) -> dict:
    """Write the export's file into `stream`; returns the writer's counts (with "archive": file | zip)."""
    snapshot = export.snapshot
    project = export.project
    from apps.projects.models import LabelSchemaVersion

    spec = compile_spec(LabelSchemaVersion.objects.get(project=project, version=snapshot.schema_version).spec)
    read = _media_reader(project)
    options = Options(project_id=project.pk, project_name=project.name, schema_version=snapshot.schema_version,
                      snapshot_id=snapshot.pk, created_at=snapshot.created_at.isoformat(),
                      include_media=bool(export.options.get("include_media")), media=read, image_size=_image_size(read))
    output = Output(stream)
    counts = writer(export.format).write(snapshot_records(snapshot, progress=progress), spec=spec, output=output,
                                         options=options)
    counts = dict(counts or {})
    counts["archive"] = output.finish()
    return counts


def file_name(export: Export, archive: str) -> str:
    _, extension, _ = FORMATS[export.format]
    extension = "zip" if archive == "zip" else extension
    return f"project-{export.project_id}-snapshot-{export.snapshot_id}-{export.format}.{extension}"


def export_run(*, export: Export, progress=None) -> dict:
    """The job: write to a temporary file, then store it under a fresh key; the export points at the key only
    once the file is complete, so no partial file is ever downloadable."""
    if export.status == Export.Status.SUCCEEDED:
        return {"export": export.pk, "checksum": export.checksum}
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING)
    if export.snapshot is None:  # a large project's snapshot, deferred from the request
        export.snapshot = snapshot_create(project=export.project, actor=export.created_by,
                                          **export.options["snapshot"])
        Export.objects.filter(pk=export.pk).update(snapshot=export.snapshot)

    def told(fraction: float) -> None:
        if progress:
            progress(min(0.95, fraction * 0.95), "writing")
        broadcast(project_group(export.project_id), {"type": "job.progress", "job": export.job_id,
                                                     "export": export.pk, "progress": round(min(0.95, fraction), 3)})

    with tempfile.NamedTemporaryFile(prefix="quorum-export-", suffix=".part", delete=False) as handle:
        path = handle.name
    try:
        with open(path, "w+b") as stream:
            counts = export_write(export=export, stream=stream, progress=told)
            stream.flush()
            size = stream.tell()
            stream.seek(0)
            digest = hashlib.sha256()
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
            stream.seek(0)
            name = file_name(export, counts["archive"])
            key = default_storage.save(f"exports/{export.project_id}/{export.pk}-{uuid.uuid4().hex}/{name}",
                                       File(stream, name=name))
    finally:
        os.unlink(path)
    Export.objects.filter(pk=export.pk).update(status=Export.Status.SUCCEEDED, file_key=key, file_name=name,
                                               size=size, checksum=digest.hexdigest(), counts=counts,
                                               finished_at=timezone.now())
    broadcast(project_group(export.project_id), {"type": "job.finished", "job": export.job_id, "export": export.pk,
                                                 "status": "succeeded"})
    return {"export": export.pk, "checksum": digest.hexdigest(), "size": size, **counts}


def export_failed(*, export_id: int, error: str) -> None:
    Export.objects.filter(pk=export_id).exclude(status=Export.Status.SUCCEEDED).update(
        status=Export.Status.FAILED, error=error[:2000], finished_at=timezone.now())


def download_url(export: Export, user) -> str | None:
    """A URL that downloads the file for the next 15 minutes, without a token (for curl, wget, a browser)."""
    if export.status != Export.Status.SUCCEEDED:
        return None
    token = signing.TimestampSigner(salt=SIGNER_SALT).sign(f"{export.pk}:{user.pk}")
    return f"{reverse('export-download', kwargs={'export_id': export.pk})}?sig={token}"


def download_signature_user(export_id: int, token: str) -> int | None:
    """The user a signed download URL was made for, or None when it is forged, for another export or expired."""
    try:
        value = signing.TimestampSigner(salt=SIGNER_SALT).unsign(token, max_age=DOWNLOAD_SECONDS)
    except signing.BadSignature:
        return None
    export, _, user = value.partition(":")
    return int(user) if export == str(export_id) and user.isdigit() else None


def export_downloaded(*, export: Export, actor, request=None) -> None:
    record(action="export.download", organization=export.organization_id, actor=actor, object_type="export",
           object_id=export.pk, data={"snapshot": export.snapshot_id, "format": export.format,
                                      "checksum": export.checksum}, request=request)
