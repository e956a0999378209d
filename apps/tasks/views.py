"""HTTP API of the tasks app: import, task lists and task details."""

import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from apps.jobs.services import job_start
from apps.orgs.api import OrgAPIView, OrgViewSet
from apps.orgs.errors import ApiError
from apps.orgs.roles import EVERYONE, MANAGERS
from apps.projects.selectors import access_project

from . import services
from .import_formats import ImportFormatError, detect_format
from .imports import tasks_import
from .models import Task
from .selectors import access_task, filter_tasks, tasks_visible
from .serializers import (
    ImportQuerySerializer,
    TaskDetailSerializer,
    TaskFilterSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from .tasks import tasks_import_task


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


ImportResult = inline_serializer("ImportResult", {
    "created": serializers.IntegerField(), "duplicates": serializers.IntegerField(),
    "updated": serializers.IntegerField(), "errors": serializers.ListField(child=serializers.DictField()),
    "task_ids": serializers.ListField(child=serializers.IntegerField(allow_null=True), required=False),
})


class ProjectImportView(OrgAPIView):
    """POST /projects/{id}/import: JSON array, JSONL, CSV or Label Studio JSON (API.md)."""

    roles = {"POST": EVERYONE}  # the role is checked after the project lookup (404 before 403)

    @extend_schema(
        request={"application/json": dict, "application/x-ndjson": str, "text/csv": str,
                 "multipart/form-data": inline_serializer("ImportUpload", {"file": serializers.FileField()})},
        parameters=[ImportQuerySerializer],
        responses={201: ImportResult, 202: inline_serializer("ImportJob", {"job": serializers.DictField()})},
    )
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS)
        query = _valid(ImportQuerySerializer, request.query_params)
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
                size = int(raw.META.get("CONTENT_LENGTH") or 0)
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
        filters = _valid(TaskFilterSerializer, self.request.query_params)
        return filter_tasks(tasks_visible(tenancy=self.tenancy, project=project), filters)

    @extend_schema(parameters=[TaskFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class TaskViewSet(OrgViewSet):
    queryset = Task.objects.none()
    serializer_class = TaskDetailSerializer
    action_roles = {"retrieve": EVERYONE, "partial_update": EVERYONE, "destroy": EVERYONE}

    def _task(self, pk):
        return access_task(tenancy=self.tenancy, task_id=pk)

    def _out(self, task):
        task = Task.objects.prefetch_related("annotations__author", "predictions").get(pk=task.pk)
        return TaskDetailSerializer(task, context={"show_gold": self.tenancy.role in MANAGERS}).data

    def retrieve(self, request, pk=None):
        return Response(self._out(self._task(pk)))

    @extend_schema(request=TaskUpdateSerializer, responses=TaskDetailSerializer)
    def partial_update(self, request, pk=None):
        task = self._task(pk)
        self.require(MANAGERS)
        data = _valid(TaskUpdateSerializer, request.data)
        return Response(self._out(services.task_update(task=task, actor=request.user, request=request, **data)))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        task = self._task(pk)
        self.require(MANAGERS)
        services.task_delete(task=task, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


