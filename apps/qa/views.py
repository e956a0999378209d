"""HTTP API of quality control: gold, consensus, quality rules, firings, suspensions, flags and the report."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.jobs.services import job_start
from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError, NotFound
from apps.orgs.models import Membership
from apps.orgs.roles import EVERYONE, MANAGERS, READERS
from apps.projects.selectors import access_project, projects_visible
from apps.tasks.models import Flag, Task
from apps.tasks.services import flag_resolve

from . import gold, rules
from .models import QualityRule, RuleFiring, Suspension
from .report import quality_report
from .serializers import (
    ConsensusRequestSerializer,
    FlagFilterSerializer,
    FlagSerializer,
    GoldFromConsensusSerializer,
    GoldItemSerializer,
    QualityRuleSerializer,
    RuleFiringSerializer,
    SuspensionCreateSerializer,
    SuspensionLiftSerializer,
    SuspensionSerializer,
)
from .tasks import consensus_project_task

GoldTask = inline_serializer("GoldTask", {"task": serializers.IntegerField(), "data": serializers.DictField(),
                                          "result": serializers.ListField(child=serializers.DictField())},
                             many=True)


def gold_body(task: Task) -> dict:
    return {"task": task.pk, "data": task.data, "result": task.gold_result}


class ProjectScopedView(OrgAPIView):
    """The project is fetched first (another tenant's is a 404), then the role is checked (403)."""

    write_roles = MANAGERS
    read_roles = READERS
    roles = {"GET": EVERYONE, "POST": EVERYONE, "PATCH": EVERYONE, "DELETE": EVERYONE}

    def project(self, project_id, *, write: bool):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(self.write_roles if write else self.read_roles)
        return project


def _page(request, qs, serializer):
    from apps.orgs.pagination import CursorPage

    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response(serializer(page, many=True).data if serializer else page)


class ProjectGoldView(ProjectScopedView):
    """GET, POST /projects/{id}/gold: gold tasks and their answers (managers only)."""

    read_roles = MANAGERS

    @extend_schema(responses=GoldTask)
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        tasks = Task.objects.filter(project=project, is_gold=True).order_by("id")
        from apps.orgs.pagination import CursorPage

        paginator = CursorPage()
        page = paginator.paginate_queryset(tasks, request)
        return paginator.get_paginated_response([gold_body(t) for t in page])

    @extend_schema(request=GoldItemSerializer(many=True), responses={201: GoldTask})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        if isinstance(request.data, dict) and "from_consensus" in request.data:
            data = validated(GoldFromConsensusSerializer, request.data)
            task = gold.gold_from_consensus(project=project, task_id=data["task"], actor=request.user,
                                            request=request)
            return Response([gold_body(task)], status=status.HTTP_201_CREATED)
        items = request.data if isinstance(request.data, list) else [request.data]
        if not items or len(items) > 10_000:
            raise ApiError("send a list of 1 to 10,000 {task, result} items", details={"items": ["1..10000"]})
        serializer = GoldItemSerializer(data=items, many=True)
        serializer.is_valid(raise_exception=True)
        tasks = gold.gold_set_many(project=project, items=serializer.validated_data, actor=request.user,
                                   request=request)
        return Response([gold_body(t) for t in tasks], status=status.HTTP_201_CREATED)


class ProjectGoldTaskView(ProjectScopedView):
    """DELETE /projects/{id}/gold/{task}: the task is an ordinary one again."""

    @extend_schema(responses={204: None})
    def delete(self, request, project_id, task_id):
        project = self.project(project_id, write=True)
        gold.gold_unset(project=project, task_id=task_id, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectConsensusView(ProjectScopedView):
    """POST /projects/{id}/consensus: recompute the project's consensus as a job."""

    @extend_schema(request=ConsensusRequestSerializer,
                   responses={202: inline_serializer("ConsensusJob", {"job": serializers.DictField()})})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        data = validated(ConsensusRequestSerializer, request.data)
        method = data.get("method") or project.settings.get("consensus_method", "auto")
        job = job_start(organization=project.organization, created_by=request.user, kind="consensus",
                        task=consensus_project_task, params={"project": project.pk, "method": method},
                        dedupe_key=f"consensus:{project.pk}:{method}")
        return Response({"job": {"id": job.pk, "status": job.status}}, status=status.HTTP_202_ACCEPTED)


class ProjectQualityView(ProjectScopedView):
    """GET /projects/{id}/quality: agreement, consensus confidence, per-annotator table, flags, rule firings."""

    @extend_schema(responses=inline_serializer("QualityReport", {"agreement": serializers.DictField(),
                                                                 "consensus": serializers.DictField(),
                                                                 "annotators": serializers.ListField(),
                                                                 "flags": serializers.DictField(),
                                                                 "rule_firings": serializers.ListField()}))
    def get(self, request, project_id):
        return Response(quality_report(project=self.project(project_id, write=False)))


class ProjectQualityRulesView(ProjectScopedView):
    """GET, POST /projects/{id}/quality-rules."""

    @extend_schema(responses=QualityRuleSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        return _page(request, QualityRule.objects.filter(project=project).order_by("id"), QualityRuleSerializer)

    @extend_schema(request=QualityRuleSerializer, responses={201: QualityRuleSerializer})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        serializer = QualityRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = rules.rule_create(project=project, actor=request.user, data=serializer.validated_data,
                                 request=request)
        return Response(QualityRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


def _org_object(model, tenancy, pk, **extra):
    found = (model.objects.filter(organization=tenancy.organization, pk=pk, **extra)
             .filter(project__in=projects_visible(tenancy=tenancy).values("pk")).first())
    if found is None:
        raise NotFound(f"no such {model._meta.verbose_name}")
    return found


class QualityRuleView(OrgAPIView):
    """PATCH, DELETE /quality-rules/{id}."""

    roles = {"PATCH": EVERYONE, "DELETE": EVERYONE}

    @extend_schema(request=QualityRuleSerializer, responses=QualityRuleSerializer)
    def patch(self, request, rule_id):
        rule = _org_object(QualityRule, self.tenancy, rule_id)
        self.require(MANAGERS)
        serializer = QualityRuleSerializer(rule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = rules.rule_update(rule=rule, actor=request.user, data=serializer.validated_data, request=request)
        return Response(QualityRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, rule_id):
        rule = _org_object(QualityRule, self.tenancy, rule_id)
        self.require(MANAGERS)
        rules.rule_delete(rule=rule, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectRuleFiringsView(ProjectScopedView):
    """GET /projects/{id}/rule-firings: what the rules did, newest first."""

    @extend_schema(responses=RuleFiringSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        qs = RuleFiring.objects.filter(project=project).select_related("annotator").order_by("-id")
        return _page(request, qs, RuleFiringSerializer)


class RuleFiringRevertView(OrgAPIView):
    """POST /rule-firings/{id}/revert: a manager undoes a firing (suspension lifted, weight restored)."""

    roles = {"POST": EVERYONE}

    @extend_schema(request=None, responses=RuleFiringSerializer)
    def post(self, request, firing_id):
        firing = _org_object(RuleFiring, self.tenancy, firing_id)
        self.require(MANAGERS)
        return Response(RuleFiringSerializer(rules.firing_revert(firing=firing, actor=request.user,
                                                                 request=request)).data)


class ProjectSuspensionsView(ProjectScopedView):
    """GET, POST /projects/{id}/suspensions: who is kept from this project's work, and why."""

    read_roles = MANAGERS

    @extend_schema(responses=SuspensionSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        from django.db.models import Q

        qs = (Suspension.objects.filter(Q(project=project) | Q(project__isnull=True),
                                        organization=self.tenancy.organization)
              .select_related("annotator").order_by("-id"))
        if request.query_params.get("active") in ("true", "1"):
            qs = qs.filter(lifted_at__isnull=True).filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))
        return _page(request, qs, SuspensionSerializer)

    @extend_schema(request=SuspensionCreateSerializer, responses={201: SuspensionSerializer})
    def post(self, request, project_id):
        project = self.project(project_id, write=True)
        data = validated(SuspensionCreateSerializer, request.data)
        member = Membership.objects.filter(organization=self.tenancy.organization, pk=data["annotator"]).first()
        if member is None:
            raise ApiError("no such member", details={"annotator": ["not a member of this organization"]})
        suspension = rules.suspension_create(
            organization=self.tenancy.organization, project=None if data["all_projects"] else project,
            annotator=member.user, kind=data["kind"], reason=data["reason"], until=data.get("until"),
            actor=request.user, request=request,
        )
        return Response(SuspensionSerializer(suspension).data, status=status.HTTP_201_CREATED)


class SuspensionLiftView(OrgAPIView):
    """POST /suspensions/{id}/lift."""

    roles = {"POST": EVERYONE}

    @extend_schema(request=SuspensionLiftSerializer, responses=SuspensionSerializer)
    def post(self, request, suspension_id):
        suspension = Suspension.objects.filter(organization=self.tenancy.organization, pk=suspension_id).first()
        if suspension is None or (suspension.project_id is not None and not projects_visible(
                tenancy=self.tenancy).filter(pk=suspension.project_id).exists()):
            raise NotFound("no such suspension")
        self.require(MANAGERS)
        data = validated(SuspensionLiftSerializer, request.data)
        return Response(SuspensionSerializer(rules.suspension_lift(suspension=suspension, actor=request.user,
                                                                   reason=data["reason"], request=request)).data)


class ProjectFlagsView(ProjectScopedView):
    """GET /projects/{id}/flags: reported problems and what QA raised, filtered by kind and resolution."""

    @extend_schema(parameters=[FlagFilterSerializer], responses=FlagSerializer(many=True))
    def get(self, request, project_id):
        project = self.project(project_id, write=False)
        filters = validated(FlagFilterSerializer, request.query_params)
        qs = Flag.objects.filter(project=project).select_related("raised_by", "annotator").order_by("-id")
        if filters.get("kind"):
            qs = qs.filter(kind=filters["kind"])
        if filters.get("resolved") is not None:
            qs = qs.filter(resolved_at__isnull=not filters["resolved"])
        return _page(request, qs, FlagSerializer)


class FlagResolveView(OrgAPIView):
    """POST /flags/{id}/resolve."""

    roles = {"POST": EVERYONE}

    @extend_schema(request=None, responses=FlagSerializer)
    def post(self, request, flag_id):
        flag = _org_object(Flag, self.tenancy, flag_id)
        self.require(MANAGERS)
        return Response(FlagSerializer(flag_resolve(flag=flag, actor=request.user, request=request)).data)
