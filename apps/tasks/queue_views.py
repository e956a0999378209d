"""HTTP API of the queue: next, the lease actions, pins, revocation and progress (API.md)."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError, Conflict, Forbidden
from apps.orgs.models import Membership
from apps.orgs.roles import EVERYONE, MANAGERS, READERS, REVIEWERS, WORKERS
from apps.projects.models import Project
from apps.projects.selectors import access_project

from . import annotations as writes
from . import eligibility, feedback
from .progress import project_progress
from .queue import next_task
from .selectors import access_assignment, access_task, best_predictions
from .serializers import AnnotationSerializer, PredictionSerializer, represented

LeaseOut = inline_serializer("Lease", {
    "assignment": inline_serializer("LeaseAssignment", {
        "id": serializers.IntegerField(), "expires_at": serializers.DateTimeField(),
        "status": serializers.CharField()}),
    "task": inline_serializer("LeaseTask", {
        "id": serializers.IntegerField(), "data": serializers.JSONField(),
        "predictions": PredictionSerializer(many=True)}),
    "draft": serializers.JSONField(allow_null=True),
})


def lease_body(assignment, *, has_predictions: bool = True) -> dict:
    project, task = assignment.project, assignment.task
    show = has_predictions and project.settings.get("show_predictions", True)
    predictions = best_predictions(task.pk) if show else []
    return {
        "assignment": {"id": assignment.pk, "expires_at": assignment.expires_at, "status": assignment.status},
        "task": {"id": task.pk, "data": task.data, "predictions": PredictionSerializer(predictions, many=True).data},
        "draft": assignment.draft,
    }


def refuse_if_closed(project, user) -> None:
    if project.status == Project.Status.PAUSED:
        raise Conflict("the project is paused", code="project_paused")
    if project.status != Project.Status.ACTIVE:
        raise Conflict(f"the project is {project.status}", code="project_paused")
    refusal = eligibility.refusal(project=project, user=user)
    if refusal is not None:
        if refusal.code == "suspended" or refusal.until is not None:
            raise Forbidden(refusal.message, code=refusal.code,
                            details={"until": refusal.until.isoformat() if refusal.until else None,
                                     "reason": refusal.reason})
        raise Forbidden(refusal.message, code=refusal.code)


class NextView(OrgAPIView):
    """POST /projects/{id}/next: the caller's lease (their active one again, if they have one)."""

    roles = {"POST": EVERYONE}  # checked after the project lookup

    @extend_schema(request=None, responses={200: LeaseOut, 204: None})
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(WORKERS)
        refuse_if_closed(project, request.user)
        lease = next_task(project=project, user=request.user)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        lease.assignment.project = project
        return Response(lease_body(lease.assignment, has_predictions=lease.has_predictions))


class SubmitIn(serializers.Serializer):
    result = serializers.JSONField()
    lead_time_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)


class DraftIn(serializers.Serializer):
    draft = serializers.JSONField(required=False)
    result = serializers.JSONField(required=False)


class ReportIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


def idempotency_key(request) -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 200:
        raise ApiError("Idempotency-Key is at most 200 characters", details={"Idempotency-Key": ["too long"]})
    return key


class AssignmentActionView(OrgAPIView):
    """POST /assignments/{id}/<action>: the lease holder's actions."""

    roles = {"POST": WORKERS, "PUT": WORKERS}
    action_name = ""

    def assignment(self, assignment_id):
        return access_assignment(tenancy=self.tenancy, assignment_id=assignment_id)


class SubmitView(AssignmentActionView):
    @extend_schema(request=SubmitIn, responses={201: AnnotationSerializer, 200: AnnotationSerializer})
    def post(self, request, assignment_id):
        assignment = self.assignment(assignment_id)
        data = validated(SubmitIn, request.data)
        annotation, created = writes.assignment_submit(
            assignment=assignment, actor=request.user, result=data["result"], lead_time_ms=data.get("lead_time_ms"),
            idempotency_key=idempotency_key(request), request=request,
        )
        body = {**represented(AnnotationSerializer, annotation),
                **feedback.for_submit(annotation=annotation, assignment=assignment)}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


AssignmentOut = inline_serializer("AssignmentState", {
    "id": serializers.IntegerField(), "status": serializers.CharField(),
    "expires_at": serializers.DateTimeField(allow_null=True)})


def assignment_body(assignment) -> dict:
    return {"id": assignment.pk, "status": assignment.status, "expires_at": assignment.expires_at,
            "task": assignment.task_id}


class SkipView(AssignmentActionView):
    @extend_schema(request=None, responses=AssignmentOut)
    def post(self, request, assignment_id):
        assignment = writes.assignment_skip(assignment=self.assignment(assignment_id), actor=request.user,
                                            request=request)
        return Response(assignment_body(assignment))


class ReleaseView(AssignmentActionView):
    @extend_schema(request=None, responses=AssignmentOut)
    def post(self, request, assignment_id):
        assignment = writes.assignment_release(assignment=self.assignment(assignment_id), actor=request.user,
                                               request=request)
        return Response(assignment_body(assignment))


class HeartbeatView(AssignmentActionView):
    @extend_schema(request=None, responses=AssignmentOut)
    def post(self, request, assignment_id):
        assignment = writes.assignment_heartbeat(assignment=self.assignment(assignment_id), actor=request.user)
        return Response(assignment_body(assignment))


class DraftView(AssignmentActionView):
    roles = {"PUT": WORKERS, "GET": WORKERS}

    @extend_schema(request=DraftIn, responses=inline_serializer("Draft", {
        "draft": serializers.JSONField(allow_null=True), "saved_at": serializers.DateTimeField(allow_null=True)}))
    def put(self, request, assignment_id):
        assignment = self.assignment(assignment_id)
        data = validated(DraftIn, request.data)
        draft = data.get("draft", data.get("result"))
        if draft is None:
            raise ApiError("send the draft as {\"draft\": [...]}", details={"draft": ["required"]})
        assignment = writes.assignment_draft_save(assignment=assignment, actor=request.user, draft=draft)
        return Response({"draft": assignment.draft, "saved_at": assignment.draft_saved_at})

    @extend_schema(responses=inline_serializer("DraftRead", {
        "draft": serializers.JSONField(allow_null=True), "saved_at": serializers.DateTimeField(allow_null=True)}))
    def get(self, request, assignment_id):
        assignment = self.assignment(assignment_id)
        return Response({"draft": assignment.draft, "saved_at": assignment.draft_saved_at})


class ReportView(AssignmentActionView):
    @extend_schema(request=ReportIn, responses={201: inline_serializer("Report", {
        "flag": serializers.IntegerField(), "kind": serializers.CharField()})})
    def post(self, request, assignment_id):
        assignment = self.assignment(assignment_id)
        data = validated(ReportIn, request.data)
        flag = writes.assignment_report(assignment=assignment, actor=request.user, reason=data["reason"],
                                        request=request)
        return Response({"flag": flag.pk, "kind": flag.kind}, status=status.HTTP_201_CREATED)


class RevokeView(OrgAPIView):
    """POST /assignments/{id}/revoke: a manager takes a lease or a pin back."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=None, responses=AssignmentOut)
    def post(self, request, assignment_id):
        assignment = access_assignment(tenancy=self.tenancy, assignment_id=assignment_id, own=False)
        assignment = writes.assignment_revoke(assignment=assignment, actor=request.user, request=request)
        return Response(assignment_body(assignment))


class AssignIn(serializers.Serializer):
    annotator = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="member id")


class TaskAssignView(OrgAPIView):
    """POST /tasks/{id}/assign: pin a task to a member; it is served to them first."""

    roles = {"POST": EVERYONE}  # checked after the task lookup

    @extend_schema(request=AssignIn, responses={201: AssignmentOut})
    def post(self, request, task_id):
        task = access_task(tenancy=self.tenancy, task_id=task_id)
        self.require(MANAGERS)
        data = validated(AssignIn, request.data)
        member = (Membership.objects.select_related("user")
                  .filter(pk=data["annotator"], organization=self.tenancy.organization,
                          status=Membership.Status.ACTIVE).first())
        if member is None or member.role not in WORKERS:
            raise ApiError("annotator must be an active member who may annotate (annotator, reviewer, manager, owner)",
                           details={"annotator": ["not an active member who may annotate"]})
        with transaction.atomic():
            assignment = writes.task_assign(task=task, annotator=member.user, actor=request.user, request=request)
        return Response(assignment_body(assignment), status=status.HTTP_201_CREATED)


class ProgressView(OrgAPIView):
    """GET /projects/{id}/progress: counts by status, annotations per hour (24 h), median lead time, ETA."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses=inline_serializer("Progress", {
        "counts": serializers.DictField(child=serializers.IntegerField()), "tasks": serializers.IntegerField(),
        "annotations": serializers.IntegerField(), "remaining_annotations": serializers.IntegerField(),
        "annotations_per_hour": serializers.ListField(child=serializers.DictField()),
        "rate_per_hour": serializers.FloatField(), "median_lead_time_ms": serializers.FloatField(allow_null=True),
        "eta_seconds": serializers.IntegerField(allow_null=True), "eta": serializers.DateTimeField(allow_null=True),
    }))
    def get(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(READERS | REVIEWERS)
        return Response(project_progress(project=project))
