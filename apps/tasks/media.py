"""Media uploads: single files or a zip of them, stored under the project's prefix in the media storage."""

import mimetypes
import posixpath
import uuid
import zipfile

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction

from apps.audit.services import record
from apps.orgs.errors import ApiError

from .models import Media

ALLOWED_EXTENSIONS = {
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
    ".mp3", ".wav", ".ogg", ".flac", ".m4a", ".mp4", ".webm", ".pdf", ".txt",
}
MAX_ZIP_MEMBERS = 10_000


def _checked_name(name: str) -> str:
    base = posixpath.basename(name.replace("\\\\", "/")).strip()
    extension = posixpath.splitext(base)[1].lower()
    if not base or base.startswith(".") or extension not in ALLOWED_EXTENSIONS:
        raise ApiError(f"{name!r}: not an accepted media file ({', '.join(sorted(ALLOWED_EXTENSIONS))})",
                       details={"files": [f"{name}: unsupported type"]})
    return base


def _store(*, project, actor, name: str, content, size: int) -> Media:
    if size > settings.MEDIA_MAX_FILE_BYTES:
        raise ApiError(f"{name!r} is larger than {settings.MEDIA_MAX_FILE_BYTES} bytes", code="too_large",
                       status_code=413)
    key = default_storage.save(f"projects/{project.pk}/{uuid.uuid4().hex[:12]}-{name}", content)
    return Media.objects.create(
        organization_id=project.organization_id, project=project, name=name, key=key,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream", size=size, uploaded_by=actor,
    )


def _members(archive: zipfile.ZipFile):
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ApiError(f"the zip holds more than {MAX_ZIP_MEMBERS} files", details={"files": ["too many files"]})
    if sum(info.file_size for info in infos) > settings.IMPORT_MAX_BYTES:
        raise ApiError("the zip expands beyond the upload limit", code="too_large", status_code=413)
    for info in infos:
        name = posixpath.basename(info.filename)
        if name.startswith(".") or "__MACOSX" in info.filename:
            continue
        yield info, _checked_name(name)


@transaction.atomic
def media_upload(*, project, actor, files, request=None) -> list[Media]:
    """Store uploaded files; a .zip is unpacked (flat, names only, size-checked before extracting)."""
    if not files:
        raise ApiError("send one or more files in the multipart field 'files'", details={"files": ["required"]})
    stored: list[Media] = []
    for upload in files:
        if upload.name.lower().endswith(".zip"):
            try:
                archive = zipfile.ZipFile(upload)
            except zipfile.BadZipFile as exc:
                raise ApiError(f"{upload.name!r} is not a readable zip", details={"files": ["bad zip"]}) from exc
            with archive:
                for info, name in _members(archive):
                    with archive.open(info) as member:
                        stored.append(_store(project=project, actor=actor, name=name, content=File(member, name),
                                             size=info.file_size))
        else:
            name = _checked_name(upload.name)
            stored.append(_store(project=project, actor=actor, name=name, content=upload, size=upload.size))
    record(action="media.upload", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"files": len(stored)}, request=request)
    return stored
