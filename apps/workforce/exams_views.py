"""HTTP API of the workforce's exams: managers create and edit them, annotators start attempts (no answers)."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError, NotFound
from apps.orgs.models import Membership
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS, READERS, WORKERS
from apps.projects.selectors import access_project, projects_visible

from . import exams
from .exams_serializers import (
    AttemptFilterSerializer,
    AttemptSerializer,
    ExamFilterSerializer,
    ExamForWorkerSerializer,
    ExamInSerializer,
    ExamSerializer,
)
from .models import Exam, ExamAttempt


def exams_visible(tenancy):
    """Readers (owners, managers, viewers): every exam of the organization; workers: the active exams of the
    projects open to them."""
    qs = Exam.objects.filter(organization=tenancy.organization, project__deleted_at__isnull=True)
    if tenancy.role in READERS:
        return qs
    return qs.filter(active=True, project__in=projects_visible(tenancy=tenancy).values("pk"))


def access_exam(tenancy, exam_id) -> Exam:
    """One exam the caller may see, else 404 (another tenant's, or a project not open to them)."""
    exam = exams_visible(tenancy).select_related("project", "organization", "skill").filter(pk=exam_id).first()
    if exam is None:
        raise NotFound("no such exam")
    return exam


def _page(request, qs, render):
    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response(render(page))


class ExamView(OrgAPIView):
    def body(self, exam_or_page, *, many=False):
        if self.tenancy.role in READERS:
            return ExamSerializer(exam_or_page, many=many).data
        return ExamForWorkerSerializer(exam_or_page, many=many, context={"user": self.request.user}).data

    def fetch(self, exam_id) -> Exam:
        return exams.exams_with_counts(exams_visible(self.tenancy)).select_related("project").prefetch_related(
            "tasks").get(pk=access_exam(self.tenancy, exam_id).pk)


class ExamsView(ExamView):
    """GET, POST /workforce/exams."""

    roles = {"GET": EVERYONE, "POST": MANAGERS}

    @extend_schema(parameters=[ExamFilterSerializer], responses=ExamSerializer(many=True))
    def get(self, request):
        filters = validated(ExamFilterSerializer, request.query_params)
        qs = exams.exams_with_counts(exams_visible(self.tenancy)).prefetch_related("tasks")
        if "project" in filters:
            qs = qs.filter(project_id=filters["project"])
        if "kind" in filters:
            qs = qs.filter(kind=filters["kind"])
        return _page(request, qs.order_by("-id"), lambda page: self.body(page, many=True))

    @extend_schema(request=ExamInSerializer, responses={201: ExamSerializer})
    def post(self, request):
        data = validated(ExamInSerializer, request.data)
        try:
            project = access_project(tenancy=self.tenancy, project_id=data["project"])
        except NotFound:
            raise ApiError(f"no project {data['project']}", details={"project": ["no such project"]}) from None
        exam = exams.exam_create(project=project, actor=request.user, data=data, request=request)
        return Response(self.body(self.fetch(exam.pk)), status=status.HTTP_201_CREATED)


class ExamDetailView(ExamView):
    """GET, PATCH, DELETE /workforce/exams/{id}."""

    roles = {"GET": EVERYONE, "PATCH": EVERYONE, "DELETE": EVERYONE}

    @extend_schema(responses=ExamSerializer)
    def get(self, request, exam_id):
        return Response(self.body(self.fetch(exam_id)))

    @extend_schema(request=ExamInSerializer, responses=ExamSerializer)
    def patch(self, request, exam_id):
        exam = access_exam(self.tenancy, exam_id)
        self.require(MANAGERS)
        serializer = ExamInSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        exams.exam_update(exam=exam, actor=request.user, data=serializer.validated_data, request=request)
        return Response(self.body(self.fetch(exam.pk)))

    @extend_schema(responses={204: None})
    def delete(self, request, exam_id):
        exam = access_exam(self.tenancy, exam_id)
        self.require(MANAGERS)
        exams.exam_delete(exam=exam, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExamAttemptsView(OrgAPIView):
    """GET, POST /workforce/exams/{id}/attempts: start one's next attempt; list one's own (readers: everyone's)."""

    roles = {"GET": EVERYONE, "POST": EVERYONE}

    @extend_schema(parameters=[AttemptFilterSerializer], responses=AttemptSerializer(many=True))
    def get(self, request, exam_id):
        exam = access_exam(self.tenancy, exam_id)
        filters = validated(AttemptFilterSerializer, request.query_params)
        qs = ExamAttempt.objects.filter(exam=exam)
        if self.tenancy.role not in READERS:
            qs = qs.filter(annotator=request.user)
        elif "annotator" in filters:
            user_id = (Membership.objects.filter(organization=self.tenancy.organization, pk=filters["annotator"])
                       .values_list("user_id", flat=True).first())
            qs = qs.filter(annotator_id=user_id) if user_id else qs.none()
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        return _page(request, exams.attempts_with_members(qs).order_by("-id"),
                     lambda page: AttemptSerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: AttemptSerializer, 200: AttemptSerializer})
    def post(self, request, exam_id):
        exam = access_exam(self.tenancy, exam_id)
        self.require(WORKERS)  # the lookup already checked that the exam's project is open to them
        attempt, created = exams.attempt_start(exam=exam, user=request.user, request=request)
        body = AttemptSerializer(exams.attempts_with_members(ExamAttempt.objects.filter(pk=attempt.pk)).get()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


EXAM = r"^workforce/exams/(?P<exam_id>[0-9]{1,18})"
urlpatterns = [
    re_path(r"^workforce/exams/?$", ExamsView.as_view(), name="workforce-exams"),
    re_path(rf"{EXAM}/?$", ExamDetailView.as_view(), name="workforce-exam"),
    re_path(rf"{EXAM}/attempts/?$", ExamAttemptsView.as_view(), name="workforce-exam-attempts"),
]
