"""HTTP API of exports and snapshots."""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.jobs.services import job_start
from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import NotFound
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS, READERS
from apps.orgs.tenancy import resolve_tenancy
from apps.projects.selectors import access_project, projects_visible
from apps.tasks.models import Task

from . import services
from .models import DatasetSnapshot, Export
from .serializers import ExportInSerializer, ExportSerializer, SnapshotInSerializer, SnapshotSerializer
from .snapshots import checked_split, snapshot_create
from .tasks import snapshot_create_task

ExportStarted = inline_serializer("ExportStarted", {
    "id": serializers.IntegerField(), "status": serializers.CharField(), "progress": serializers.FloatField(),
    "job": serializers.IntegerField(allow_null=True), "snapshot": serializers.IntegerField()})


def _page(request, qs, serializer, context=None):
    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response(serializer(page, many=True, context=context or {}).data)


class ProjectScoped(OrgAPIView):
    roles = {"GET": EVERYONE, "POST": EVERYONE}  # checked after the project lookup (404 before 403)

    def project(self, project_id, *, write: bool):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS if write else READERS)
        return project


class ProjectExportsView(ProjectScoped):
    """GET, POST /projects/{id}/exports."""

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        qs = Export.objects.filter(project=project).select_related("job").order_by("-id")
        return _page(request, qs, ExportSerializer, {"request": request})

    @extend_schema(request=ExportInSerializer, responses={202: ExportStarted})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        data = validated(ExportInSerializer, request.data)
        snapshot = None
        if data.get("snapshot"):
            snapshot = DatasetSnapshot.objects.filter(project=project, pk=data["snapshot"]).first()
            if snapshot is None:
                raise NotFound("no such snapshot in this project")
        export = services.export_start(
            project=project, actor=request.user, format=data["format"], snapshot=snapshot, filter=data["filter"],
            split=data["split"], seed=data["seed"], stratify=data["stratify"], include_gold=data["include_gold"],
            include_media=data["include_media"], request=request)
        body = ExportSerializer(export, context={"request": request}).data
        return Response({**body, "job": export.job_id}, status=status.HTTP_202_ACCEPTED)


def access_export(tenancy, export_id) -> Export:
    export = (Export.objects.select_related("job", "snapshot", "project")
              .filter(organization=tenancy.organization, pk=export_id,
                      project__in=projects_visible(tenancy=tenancy).values("pk")).first())
    if export is None:
        raise NotFound("no such export")
    return export


class ExportView(OrgAPIView):
    """GET /exports/{id}: status, progress, checksum, snapshot, and a download URL once it succeeded."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses=ExportSerializer)
    def get(self, request, export_id):
        export = access_export(self.tenancy, export_id)
        self.require(READERS)
        return Response(ExportSerializer(export, context={"request": request}).data)


class ExportDownloadView(APIView):
    """GET /exports/{id}/download: the file, to a caller who may read the project, or to anyone holding the
    signed URL of `download_url` for 15 minutes. Every download is audited."""

    permission_classes = [permissions.AllowAny]  # checked below: a signature, or the caller's role

    @extend_schema(parameters=[OpenApiParameter("sig", str, required=False)],
                   responses={(200, "application/octet-stream"): bytes})
    def get(self, request, export_id):
        token = request.query_params.get("sig")
        if token:
            user_id = services.download_signature_user(int(export_id), token)
            export = Export.objects.filter(pk=export_id).first() if user_id else None
            user = User.objects.filter(pk=user_id, is_active=True).first() if export else None
            if export is None or user is None:
                raise NotFound("this download link is invalid or has expired")
        else:
            if not request.user or not request.user.is_authenticated:
                raise NotAuthenticated("sign in, send a token, or use the export's download_url")
            tenancy = resolve_tenancy(request)
            export = access_export(tenancy, export_id)
            if tenancy.role not in READERS:
                raise NotFound("no such export")
            user = request.user
        if export.status != Export.Status.SUCCEEDED or not export.file_key:
            raise NotFound("the export has no file yet")
        services.export_downloaded(export=export, actor=user, request=request)
        response = FileResponse(default_storage.open(export.file_key, "rb"), as_attachment=True,
                                filename=export.file_name)
        response["X-Checksum-SHA256"] = export.checksum
        return response


class ProjectSnapshotsView(ProjectScoped):
    """GET, POST /projects/{id}/snapshots: frozen dataset versions."""

    @extend_schema(responses=SnapshotSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        return _page(request, DatasetSnapshot.objects.filter(project=project).select_related("created_by")
                     .order_by("-id"), SnapshotSerializer)

    @extend_schema(request=SnapshotInSerializer, responses={201: SnapshotSerializer, 202: inline_serializer(
        "SnapshotJob", {"job": serializers.DictField()})})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        data = validated(SnapshotInSerializer, request.data)
        checked_split(data["split"])  # a 400 now, not a failed job later
        if Task.objects.filter(project=project).count() > settings.SNAPSHOT_SYNC_TASKS:
            job = job_start(organization=project.organization, created_by=request.user, kind="snapshot",
                            task=snapshot_create_task, params={"project": project.pk, "actor": request.user.pk, **data})
            return Response({"job": {"id": job.pk, "status": job.status}}, status=status.HTTP_202_ACCEPTED)
        snapshot = snapshot_create(project=project, actor=request.user, request=request, **data)
        return Response(SnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotView(OrgAPIView):
    """GET /snapshots/{id}."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses=SnapshotSerializer)
    def get(self, request, snapshot_id):
        snapshot = (DatasetSnapshot.objects.filter(organization=self.tenancy.organization, pk=snapshot_id,
                                                   project__in=projects_visible(tenancy=self.tenancy).values("pk"))
                    .select_related("created_by").first())
        if snapshot is None:
            raise NotFound("no such snapshot")
        self.require(READERS)
        return Response(SnapshotSerializer(snapshot).data)
