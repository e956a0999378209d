"""HTTP API of the workforce's performance: reports, leaderboards, promotions, appeals and /me/stats."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError, NotFound
from apps.orgs.models import Membership
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS, READERS
from apps.projects.models import Project
from apps.projects.selectors import access_project

from . import performance
from .csv_export import CsvRenderer
from .models import Appeal, PromotionProposal, PromotionRule
from .performance_serializers import (
    AppealCreateSerializer,
    AppealDecideSerializer,
    AppealFilterSerializer,
    AppealSerializer,
    LeaderboardQuerySerializer,
    PerformanceQuerySerializer,
    PeriodSerializer,
    PromotionFilterSerializer,
    PromotionProposalSerializer,
    PromotionRuleSerializer,
)

Report = inline_serializer("AnnotatorPerformance", {
    "annotator": serializers.IntegerField(), "project": serializers.IntegerField(allow_null=True),
    "annotations": serializers.IntegerField(), "hours_worked": serializers.FloatField(),
    "throughput_per_hour": serializers.FloatField(allow_null=True), "lead_time": serializers.DictField(),
    "gold": serializers.DictField(), "weeks": serializers.ListField(child=serializers.DictField()),
    "agreement": serializers.DictField(), "review": serializers.DictField(),
    "earnings": serializers.ListField(child=serializers.DictField()),
})
LeaderboardPage = inline_serializer("Leaderboard", {"results": serializers.ListField(child=serializers.DictField()),
                                                    "next": serializers.CharField(allow_null=True),
                                                    "previous": serializers.CharField(allow_null=True)})
MyStats = inline_serializer("MyStats", {"annotator": serializers.IntegerField(), "overall": serializers.DictField(),
                                        "projects": serializers.ListField(child=serializers.DictField())})


class CsvListView(OrgAPIView):
    """Workforce lists answer `?format=csv` as well as JSON (API.md)."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    def wants_csv(self) -> bool:
        return getattr(self.request.accepted_renderer, "format", "") == "csv"


def _members(organization, user_ids) -> dict[int, int]:
    return performance.member_ids(organization=organization, user_ids=[u for u in user_ids if u])


def _page(view, qs, serializer_class, *, users, extra_context=None):
    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, view.request, view=None)
    context = {"members": _members(view.tenancy.organization, users(page)), **(extra_context or {})}
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


def _member(tenancy, member_id) -> Membership:
    found = (Membership.objects.filter(organization=tenancy.organization, pk=member_id)
             .exclude(status=Membership.Status.INVITED).select_related("user").first())
    if found is None:
        raise NotFound("no such member")
    return found


def _project_or_400(tenancy, project_id) -> Project | None:
    if project_id is None:
        return None
    try:
        return access_project(tenancy=tenancy, project_id=project_id)
    except NotFound:
        raise ApiError("no such project", details={"project": ["no such project"]}) from None


# --- reports ---------------------------------------------------------------------------------------------------


class AnnotatorPerformanceView(CsvListView):
    """GET /workforce/annotators/{member id}/performance?project=&since=&until= (managers); `?format=csv`: one
    row per ISO week."""

    roles = {"GET": MANAGERS}

    @extend_schema(parameters=[PerformanceQuerySerializer], responses=Report)
    def get(self, request, member_id):
        member = _member(self.tenancy, member_id)
        query = validated(PerformanceQuerySerializer, request.query_params)
        project = (access_project(tenancy=self.tenancy, project_id=query["project"]) if query.get("project")
                   else None)
        report = performance.performance_for(organization=self.tenancy.organization, user=member.user,
                                             member_id=member.pk, project=project, since=query.get("since"),
                                             until=query.get("until"))
        if self.wants_csv():
            return Response([{"annotator": member.pk, "project": report["project"], **week}
                             for week in report["weeks"]])
        return Response(report)


class LeaderboardView(CsvListView):
    """GET /projects/{id}/leaderboard?by=accuracy|throughput|annotations|agreement&min_golds= (managers, viewers)."""

    roles = {"GET": EVERYONE}  # checked after the project lookup, so a project not open to them is a 404

    @extend_schema(parameters=[LeaderboardQuerySerializer], responses=LeaderboardPage)
    def get(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(READERS)
        query = validated(LeaderboardQuerySerializer, request.query_params)
        rows = performance.leaderboard(project=project, by=query["by"], min_golds=query.get("min_golds"),
                                       since=query.get("since"), until=query.get("until"), limit=query["limit"])
        return Response({"results": rows, "next": None, "previous": None})


class MyStatsView(OrgAPIView):
    """GET /me/stats: the caller's own quality and speed, per project and overall."""

    roles = {"GET": EVERYONE}

    @extend_schema(parameters=[PeriodSerializer], responses=MyStats)
    def get(self, request):
        query = validated(PeriodSerializer, request.query_params)
        return Response(performance.my_stats(organization=self.tenancy.organization, user=request.user,
                                             member_id=self.tenancy.membership.pk, since=query.get("since"),
                                             until=query.get("until")))


# --- promotion -------------------------------------------------------------------------------------------------


class PromotionRulesView(CsvListView):
    """GET, POST /workforce/promotion-rules."""

    roles = {"GET": MANAGERS, "POST": MANAGERS}

    @extend_schema(responses=PromotionRuleSerializer(many=True))
    def get(self, request):
        qs = PromotionRule.objects.filter(organization=self.tenancy.organization)
        paginator = CursorPage()
        page = paginator.paginate_queryset(qs, request, view=None)
        return paginator.get_paginated_response(PromotionRuleSerializer(page, many=True).data)

    @extend_schema(request=PromotionRuleSerializer, responses={201: PromotionRuleSerializer})
    def post(self, request):
        data = dict(validated(PromotionRuleSerializer, request.data))
        data["project"] = _project_or_400(self.tenancy, data.pop("project", None))
        rule = performance.promotion_rule_create(organization=self.tenancy.organization, actor=request.user,
                                                 data=data, request=request)
        return Response(PromotionRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class PromotionRuleRunView(OrgAPIView):
    """POST /workforce/promotion-rules/{id}/run: propose the rule's candidates now."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=None, responses=inline_serializer("PromotionRun", {
        "created": PromotionProposalSerializer(many=True)}))
    def post(self, request, rule_id):
        rule = PromotionRule.objects.filter(organization=self.tenancy.organization, pk=rule_id).first()
        if rule is None:
            raise NotFound("no such promotion rule")
        made = performance.promotion_run(rule=rule, actor=request.user, request=request)
        members = _members(self.tenancy.organization, [p.annotator_id for p in made])
        return Response({"created": PromotionProposalSerializer(made, many=True, context={"members": members}).data})


class PromotionsView(CsvListView):
    """GET /workforce/promotions?status=proposed|confirmed|dismissed."""

    roles = {"GET": MANAGERS}

    @extend_schema(parameters=[PromotionFilterSerializer], responses=PromotionProposalSerializer(many=True))
    def get(self, request):
        filters = validated(PromotionFilterSerializer, request.query_params)
        qs = PromotionProposal.objects.filter(organization=self.tenancy.organization).select_related("annotator")
        if filters.get("status"):
            qs = qs.filter(status=filters["status"])
        return _page(self, qs, PromotionProposalSerializer,
                     users=lambda page: [u for p in page for u in (p.annotator_id, p.decided_by_id)])


class PromotionDecideView(OrgAPIView):
    """POST /workforce/promotions/{id}/confirm (the member becomes a reviewer) · /dismiss."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=None, responses=PromotionProposalSerializer)
    def post(self, request, proposal_id, action):
        proposal = PromotionProposal.objects.filter(organization=self.tenancy.organization, pk=proposal_id).first()
        if proposal is None:
            raise NotFound("no such promotion proposal")
        if action == "confirm":
            proposal = performance.promotion_confirm(proposal=proposal, actor=request.user,
                                                     actor_role=self.tenancy.role, request=request)
        else:
            proposal = performance.promotion_dismiss(proposal=proposal, actor=request.user, request=request)
        members = _members(self.tenancy.organization, [proposal.annotator_id, proposal.decided_by_id])
        return Response(PromotionProposalSerializer(proposal, context={"members": members}).data)


# --- appeals ---------------------------------------------------------------------------------------------------


class MyAppealsView(OrgAPIView):
    """GET, POST /me/appeals: the caller's appeals against their own suspensions."""

    roles = {"GET": EVERYONE, "POST": EVERYONE}

    @extend_schema(responses=AppealSerializer(many=True))
    def get(self, request):
        qs = Appeal.objects.filter(organization=self.tenancy.organization, annotator=request.user
                                   ).select_related("suspension")
        return _page(self, qs, AppealSerializer, users=lambda page: [a.annotator_id for a in page])

    @extend_schema(request=AppealCreateSerializer, responses={201: AppealSerializer})
    def post(self, request):
        data = validated(AppealCreateSerializer, request.data)
        appeal = performance.appeal_create(organization=self.tenancy.organization, user=request.user,
                                           suspension_id=data["suspension"], message=data["message"],
                                           request=request)
        context = {"members": {request.user.pk: self.tenancy.membership.pk}}
        return Response(AppealSerializer(appeal, context=context).data, status=status.HTTP_201_CREATED)


class AppealsView(CsvListView):
    """GET /workforce/appeals?status=open (managers)."""

    roles = {"GET": MANAGERS}

    @extend_schema(parameters=[AppealFilterSerializer], responses=AppealSerializer(many=True))
    def get(self, request):
        filters = validated(AppealFilterSerializer, request.query_params)
        qs = Appeal.objects.filter(organization=self.tenancy.organization).select_related("suspension")
        if filters.get("status"):
            qs = qs.filter(status=filters["status"])
        return _page(self, qs, AppealSerializer, extra_context={"manager": True},
                     users=lambda page: [u for a in page for u in (a.annotator_id, a.decided_by_id)])


class AppealDecideView(OrgAPIView):
    """POST /workforce/appeals/{id}/decide {"decision": "grant"|"deny", "response"}."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=AppealDecideSerializer, responses=AppealSerializer)
    def post(self, request, appeal_id):
        appeal = Appeal.objects.filter(organization=self.tenancy.organization, pk=appeal_id).first()
        if appeal is None:
            raise NotFound("no such appeal")
        data = validated(AppealDecideSerializer, request.data)
        appeal = performance.appeal_decide(appeal=appeal, actor=request.user, decision=data["decision"],
                                           response=data["response"], request=request)
        members = _members(self.tenancy.organization, [appeal.annotator_id, appeal.decided_by_id])
        return Response(AppealSerializer(appeal, context={"members": members, "manager": True}).data)


ID = "[0-9]{1,18}"
urlpatterns = [
    re_path(rf"^workforce/annotators/(?P<member_id>{ID})/performance/?$", AnnotatorPerformanceView.as_view(),
            name="workforce-annotator-performance"),
    re_path(rf"^projects/(?P<project_id>{ID})/leaderboard/?$", LeaderboardView.as_view(), name="project-leaderboard"),
    re_path(r"^me/stats/?$", MyStatsView.as_view(), name="me-stats"),
    re_path(r"^workforce/promotion-rules/?$", PromotionRulesView.as_view(), name="workforce-promotion-rules"),
    re_path(rf"^workforce/promotion-rules/(?P<rule_id>{ID})/run/?$", PromotionRuleRunView.as_view(),
            name="workforce-promotion-rule-run"),
    re_path(r"^workforce/promotions/?$", PromotionsView.as_view(), name="workforce-promotions"),
    re_path(rf"^workforce/promotions/(?P<proposal_id>{ID})/(?P<action>confirm|dismiss)/?$",
            PromotionDecideView.as_view(), name="workforce-promotion-decide"),
    re_path(r"^me/appeals/?$", MyAppealsView.as_view(), name="me-appeals"),
    re_path(r"^workforce/appeals/?$", AppealsView.as_view(), name="workforce-appeals"),
    re_path(rf"^workforce/appeals/(?P<appeal_id>{ID})/decide/?$", AppealDecideView.as_view(),
            name="workforce-appeal-decide"),
]
