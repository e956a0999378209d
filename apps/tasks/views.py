"""HTTP API of the tasks app: import, task lists and task details."""

import tempfile
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from apps.jobs.services import job_start
from apps.orgs.api import OrgAPIView, OrgViewSet, UnreadBody, validated
from apps.orgs.errors import ApiError, NotFound
from apps.orgs.roles import EVERYONE, MANAGERS, READERS, REVIEWERS
from apps.projects.selectors import access_project, projects_visible

from . import services
from .import_formats import ImportFormatError, detect_format
from .imports import tasks_import
from .media import media_upload
from .models import Annotation, Media, Prediction, Task
from .selectors import access_task, filter_tasks, media_in_own_tasks, tasks_visible
from .serializers import (
    ImportQuerySerializer,
    TaskBulkSerializer,
    TaskDetailSerializer,
    TaskFilterSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from .tasks import tasks_import_task

ImportResult = inline_serializer("ImportResult", {
    "created": serializers.IntegerField(), "duplicates": serializers.IntegerField(),
    "updated": serializers.IntegerField(), "errors": serializers.ListField(child=serializers.DictField()),
    "task_ids": serializers.ListField(child=serializers.IntegerField(allow_null=True), required=False),
})


def _spooled(stream, limit: int):
    """Copy a body of unknown length to a temporary file, stopping (413) once it passes `limit`."""
    spooled, size = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE), 0
    while chunk := stream.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            spooled.close()
            raise ApiError(f"the upload is larger than {limit} bytes", code="too_large", status_code=413)
        spooled.write(chunk)
    spooled.seek(0)
    return spooled, size


class ProjectImportView(OrgAPIView):
    """POST /projects/{id}/import: JSON array, JSONL, CSV or Label Studio JSON (API.md)."""

    roles = {"POST": EVERYONE}  # the role is checked after the project lookup (404 before 403)
    parser_classes = [UnreadBody]  # the body is streamed from the request below

    @extend_schema(
        request={"application/json": dict, "application/x-ndjson": str, "text/csv": str,
                 "multipart/form-data": inline_serializer("ImportUpload", {"file": serializers.FileField()})},
        parameters=[ImportQuerySerializer],
        responses={201: ImportResult, 202: inline_serializer("ImportJob", {"job": serializers.DictField()})},
    )
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS)
        query = validated(ImportQuerySerializer, request.query_params)
        raw = request._request
        content_type = request.content_type or ""
        try:
            if content_type.startswith("multipart/form-data"):
                upload = raw.FILES.get("file")
                if upload is None:
                    raise ApiError("send the file in the multipart field 'file'", details={"file": ["required"]})
                fmt, stream, size = detect_format(None, upload.name), upload, upload.size
            else:
                fmt, stream = detect_format(content_type, None), raw
                try:
                    size = int(raw.META.get("CONTENT_LENGTH") or "")
                except ValueError:  # no length (chunked upload): measure it, within the limit
                    stream, size = _spooled(raw, settings.IMPORT_MAX_BYTES)
        except ImportFormatError as exc:
            raise ApiError(str(exc), code="unsupported_media_type", status_code=415) from exc
        if size > settings.IMPORT_MAX_BYTES:
            raise ApiError(f"the upload is larger than {settings.IMPORT_MAX_BYTES} bytes", code="too_large",
                           status_code=413)
        if size > settings.IMPORT_ASYNC_BYTES:
            path = default_storage.save(f"imports/{project.pk}/{uuid.uuid4().hex}.{fmt}", stream)
            job = job_start(
                organization=project.organization, created_by=request.user, kind="import", task=tasks_import_task,
                params={"project": project.pk, "actor": request.user.pk, "path": path, "format": fmt,
                        "size": size, **query},
            )
            return Response({"job": {"id": job.pk, "status": job.status}}, status=status.HTTP_202_ACCEPTED)
        body = tasks_import(project=project, actor=request.user, stream=stream, fmt=fmt,
                            source=Task.Source.FILE if content_type.startswith("multipart/") else Task.Source.API,
                            request=request, **query)
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectTaskListView(mixins.ListModelMixin, OrgViewSet):
    queryset = Task.objects.none()
    serializer_class = TaskSerializer
    action_roles = {"list": EVERYONE}
    filter_backends: list = []

    def get_queryset(self):
        project = access_project(tenancy=self.tenancy, project_id=self.kwargs["project_id"])
        filters = validated(TaskFilterSerializer, self.request.query_params)
        if self._annotator() and (filters.get("is_gold") is not None or filters.get("status")):
            raise ApiError("annotators list the tasks they hold without gold or status filters",
                           details={"is_gold": ["not for annotators"], "status": ["not for annotators"]})
        return filter_tasks(tasks_visible(tenancy=self.tenancy, project=project), filters)

    def _annotator(self) -> bool:
        return self.tenancy.role not in READERS | REVIEWERS

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "annotator": self._annotator()}

    @extend_schema(parameters=[TaskFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class ProjectTaskBulkView(OrgAPIView):
    """POST /projects/{id}/tasks/bulk: delete, set_priority or requeue many tasks by ids or by filter."""

    roles = {"POST": EVERYONE}  # checked after the project lookup

    @extend_schema(request=TaskBulkSerializer,
                   responses=inline_serializer("TaskBulkResult", {"count": serializers.IntegerField()}))
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS)
        data = validated(TaskBulkSerializer, request.data)
        tasks = tasks_visible(tenancy=self.tenancy, project=project)
        tasks = tasks.filter(pk__in=data["ids"]) if "ids" in data else filter_tasks(tasks, data["filter"])
        count = services.tasks_bulk(project=project, actor=request.user, action=data["action"], tasks=tasks,
                                    priority=data.get("priority"), request=request)
        return Response({"count": count})


class ProjectMediaView(OrgAPIView):
    """POST /projects/{id}/media: images, audio… as multipart `files` (several allowed) or one zip."""

    roles = {"POST": EVERYONE}  # checked after the project lookup
    parser_classes = [UnreadBody]  # Django reads the multipart files below

    @extend_schema(
        request={"multipart/form-data": inline_serializer("MediaUpload", {
            "files": serializers.ListField(child=serializers.FileField())})},
        responses={201: inline_serializer("MediaUploaded", {"files": serializers.ListField(
            child=serializers.DictField())})},
    )
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS)
        files = request._request.FILES.getlist("files") or request._request.FILES.getlist("file")
        stored = media_upload(project=project, actor=request.user, files=files, request=request)
        return Response({"files": [{"id": m.pk, "name": m.name, "key": m.key, "size": m.size,
                                    "url": reverse("media-file", kwargs={"media_id": m.pk})} for m in stored]},
                        status=status.HTTP_201_CREATED)


class MediaFileView(OrgAPIView):
    """GET /media/{id}: the file, to members who may see the project's tasks (annotators: a task of theirs)."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, media_id):
        media = Media.objects.filter(pk=media_id, organization=self.tenancy.organization).first()
        if media is None or not projects_visible(tenancy=self.tenancy).filter(pk=media.project_id).exists():
            raise NotFound("no such media")
        # Annotators reach media only through the tasks they hold (or held) an assignment on.
        if self.tenancy.role not in READERS | REVIEWERS and not media_in_own_tasks(tenancy=self.tenancy, media=media):
            raise NotFound("no such media")
        response = FileResponse(default_storage.open(media.key, "rb"), content_type=media.content_type)
        response["Content-Disposition"] = f'inline; filename="{media.name}"'
        response["Cache-Control"] = "private, max-age=300"
        return response


class TaskViewSet(OrgViewSet):
    queryset = Task.objects.none()
    serializer_class = TaskDetailSerializer
    action_roles = {"retrieve": EVERYONE, "partial_update": EVERYONE, "destroy": EVERYONE}

    def _task(self, pk):
        return access_task(tenancy=self.tenancy, task_id=pk)

    def _out(self, task):
        """Reviewers, managers and viewers see every annotation; annotators only their own, the predictions
        only where the project shows them, and nothing of gold or consensus."""
        annotations = Annotation.objects.select_related("author").order_by("id")
        predictions = Prediction.objects.all()
        annotator = self.tenancy.role not in READERS | REVIEWERS
        if annotator:
            annotations = annotations.filter(author=self.tenancy.user)
            if not task.project.settings.get("show_predictions", True):
                predictions = predictions.none()
        task = Task.objects.prefetch_related(Prefetch("annotations", queryset=annotations),
                                             Prefetch("predictions", queryset=predictions)).get(pk=task.pk)
        return TaskDetailSerializer(task, context={"show_gold": self.tenancy.role in MANAGERS,
                                                   "annotator": annotator}).data

    def retrieve(self, request, pk=None):
        return Response(self._out(self._task(pk)))

    @extend_schema(request=TaskUpdateSerializer, responses=TaskDetailSerializer)
    def partial_update(self, request, pk=None):
        task = self._task(pk)
        self.require(MANAGERS)
        data = validated(TaskUpdateSerializer, request.data)
        return Response(self._out(services.task_update(task=task, actor=request.user, request=request, **data)))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        task = self._task(pk)
        self.require(MANAGERS)
        services.task_delete(task=task, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


