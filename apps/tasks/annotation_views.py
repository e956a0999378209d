"""HTTP API of annotations outside the queue: read, edit, history, revert, attach; predictions (API.md)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS, WORKERS
from apps.projects.selectors import access_project

from . import annotations as writes
from .predictions import MAX_BULK, prediction_create, predictions_bulk_create
from .queue_views import idempotency_key
from .selectors import access_annotation, access_task, annotation_versions
from .serializers import AnnotationSerializer, PredictionSerializer, represented

INT32 = 2**31 - 1


class AnnotationDetailSerializer(AnnotationSerializer):
    class Meta(AnnotationSerializer.Meta):
        fields = [*AnnotationSerializer.Meta.fields, "task", "project", "model_version", "updated_at"]
        read_only_fields = fields


class EditIn(serializers.Serializer):
    result = serializers.JSONField(help_text="the whole new result (an array of regions)")
    version = serializers.IntegerField(min_value=1, max_value=INT32, help_text="the version this edit starts from")


class RevertIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=INT32, help_text="the version to restore")


class AttachIn(serializers.Serializer):
    result = serializers.JSONField()
    lead_time_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT32)
    model_version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100,
                                          help_text="given: the annotation's source is model")


class PredictionIn(serializers.Serializer):
    result = serializers.JSONField()
    score = serializers.FloatField(required=False, allow_null=True)
    model_version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100)


class BulkPredictionIn(PredictionIn):
    task = serializers.IntegerField(min_value=1)


Diff = inline_serializer("ResultDiff", {
    "added": serializers.ListField(child=serializers.DictField()),
    "removed": serializers.ListField(child=serializers.DictField()),
    "changed": serializers.ListField(child=inline_serializer("RegionChange", {
        "id": serializers.CharField(allow_null=True), "index": serializers.IntegerField(),
        "from_name": serializers.CharField(allow_null=True), "from": serializers.JSONField(),
        "to": serializers.JSONField()})),
})
HistoryItem = inline_serializer("AnnotationVersionItem", {
    "version": serializers.IntegerField(), "author": serializers.EmailField(allow_null=True),
    "created_at": serializers.DateTimeField(), "reason": serializers.CharField(), "source": serializers.CharField(),
    "schema_version": serializers.IntegerField(), "result": serializers.JSONField(), "diff": Diff,
})
HistoryPageOut = inline_serializer("AnnotationHistory", {
    "results": serializers.ListField(child=HistoryItem), "next": serializers.URLField(allow_null=True),
    "previous": serializers.URLField(allow_null=True),
})


def annotation_body(annotation) -> dict:
    return represented(AnnotationDetailSerializer, annotation)


class AnnotationView(OrgAPIView):
    """GET,PATCH /annotations/{id}: whoever sees it reads it; its author, reviewers and managers edit it."""

    roles = {"GET": EVERYONE, "PATCH": EVERYONE}  # PATCH checked after the lookup (404 before 403)

    @extend_schema(responses=AnnotationDetailSerializer)
    def get(self, request, annotation_id):
        return Response(annotation_body(access_annotation(tenancy=self.tenancy, annotation_id=annotation_id)))

    @extend_schema(request=EditIn, responses=AnnotationDetailSerializer)
    def patch(self, request, annotation_id):
        annotation = access_annotation(tenancy=self.tenancy, annotation_id=annotation_id)
        self.require(WORKERS)  # annotators see only their own annotations, so they edit only those
        data = validated(EditIn, request.data)
        annotation = writes.annotation_edit(annotation=annotation, actor=request.user, result=data["result"],
                                            version=data["version"], request=request)
        return Response(annotation_body(annotation))


class HistoryPage(CursorPage):
    ordering = "version"


class AnnotationHistoryView(OrgAPIView):
    """GET /annotations/{id}/history: every version, oldest first, each with its diff from the one before."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses=HistoryPageOut, parameters=[
        OpenApiParameter("cursor", str, description="from `next` or `previous`"),
        OpenApiParameter("page_size", int, description="up to 1,000"),
    ])
    def get(self, request, annotation_id):
        annotation = access_annotation(tenancy=self.tenancy, annotation_id=annotation_id)
        versions = annotation_versions(annotation=annotation)
        paginator = HistoryPage()
        page = paginator.paginate_queryset(versions, request, view=self)
        before = versions.filter(version__lt=page[0].version).last() if page else None
        previous = before.result if before is not None else []
        items = []
        for version in page:
            items.append({
                "version": version.version, "author": version.author.email if version.author else None,
                "created_at": version.created_at, "reason": version.reason, "source": version.source,
                "schema_version": version.schema_version, "result": version.result,
                "diff": writes.result_diff(previous, version.result),
            })
            previous = version.result
        return paginator.get_paginated_response(items)


class AnnotationRevertView(OrgAPIView):
    """POST /annotations/{id}/revert: managers restore an old version as a new one."""

    roles = {"POST": EVERYONE}  # checked after the lookup

    @extend_schema(request=RevertIn, responses=AnnotationDetailSerializer)
    def post(self, request, annotation_id):
        annotation = access_annotation(tenancy=self.tenancy, annotation_id=annotation_id)
        self.require(MANAGERS)
        data = validated(RevertIn, request.data)
        annotation = writes.annotation_revert(annotation=annotation, actor=request.user, version=data["version"],
                                              request=request)
        return Response(annotation_body(annotation))


class TaskAnnotationsView(OrgAPIView):
    """POST /tasks/{id}/annotations: managers and their pipelines attach labels made elsewhere."""

    roles = {"POST": EVERYONE}  # checked after the lookup

    @extend_schema(request=AttachIn, responses={201: AnnotationDetailSerializer, 200: AnnotationDetailSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                                description="a retry with the same key returns the same annotation")])
    def post(self, request, task_id):
        task = access_task(tenancy=self.tenancy, task_id=task_id)
        self.require(MANAGERS)
        data = validated(AttachIn, request.data)
        annotation, created = writes.annotation_attach(
            task=task, actor=request.user, result=data["result"], lead_time_ms=data.get("lead_time_ms"),
            model_version=data.get("model_version") or "", idempotency_key=idempotency_key(request),
            request=request,
        )
        return Response(annotation_body(annotation), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class TaskPredictionsView(OrgAPIView):
    """POST /tasks/{id}/predictions: one model prediction."""

    roles = {"POST": EVERYONE}  # checked after the lookup

    @extend_schema(request=PredictionIn, responses={201: PredictionSerializer})
    def post(self, request, task_id):
        task = access_task(tenancy=self.tenancy, task_id=task_id)
        self.require(MANAGERS)
        data = validated(PredictionIn, request.data)
        prediction = prediction_create(task=task, actor=request.user, result=data["result"], score=data.get("score"),
                                       model_version=data.get("model_version") or "", request=request)
        return Response(PredictionSerializer(prediction).data, status=status.HTTP_201_CREATED)


class ProjectPredictionsView(OrgAPIView):
    """POST /projects/{id}/predictions: up to 10,000 predictions, all or nothing."""

    roles = {"POST": EVERYONE}  # checked after the lookup

    @extend_schema(request=BulkPredictionIn(many=True), description=f"A JSON array of at most {MAX_BULK} items.",
                   responses={201: inline_serializer("PredictionsCreated", {"created": serializers.IntegerField()})})
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(MANAGERS)
        created = predictions_bulk_create(project=project, actor=request.user, items=request.data, request=request)
        return Response({"created": created}, status=status.HTTP_201_CREATED)
