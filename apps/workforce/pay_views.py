"""HTTP API of the workforce's pay: the ledger, statements (payout CSV), bonuses and bonus rules, own earnings."""

from datetime import timedelta

from django.http import StreamingHttpResponse
from django.urls import re_path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError, NotFound
from apps.orgs.models import Membership
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS
from apps.projects.models import Project
from apps.projects.selectors import access_project

from . import pay
from .csv_export import CsvRenderer, csv_line, safe_cell
from .models import BonusRule, LedgerEntry
from .pay_serializers import (
    BonusCreateSerializer,
    BonusRuleSerializer,
    EarningsSerializer,
    LedgerEntrySerializer,
    LedgerFilterSerializer,
    OwnEntrySerializer,
    ReverseSerializer,
    StatementFilterSerializer,
    StatementSerializer,
)

LEDGER_COLUMNS = ["id", "annotator", "annotator_email", "amount", "currency", "kind", "annotation", "project",
                  "reverses", "reversed_by", "note", "created_by", "created_at"]
STATEMENT_COLUMNS = ["annotator", "email", "currency", "since", "until", *pay.TOTAL_KINDS, "net", "entries"]
CSV_FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the rows as a CSV file")


class PayView(OrgAPIView):
    renderer_classes = [JSONRenderer, CsvRenderer]
    csv_columns: list | None = None

    def get_renderer_context(self):
        context = super().get_renderer_context()
        context["csv_columns"] = self.csv_columns
        return context

    def wants_csv(self) -> bool:
        return getattr(self.request, "accepted_renderer", None) is not None and \
            self.request.accepted_renderer.format == "csv"

    def member(self, member_id) -> Membership:
        """A member of the caller's organization by membership id; another organization's is a 404."""
        member = (Membership.objects.select_related("user")
                  .filter(organization=self.tenancy.organization, pk=member_id).first())
        if member is None:
            raise NotFound("no such member")
        return member

    def org_project(self, project_id) -> Project:
        project = Project.objects.filter(organization=self.tenancy.organization, pk=project_id).first()
        if project is None:
            raise NotFound("no such project")
        return project


def _entries_page(request, qs, serializer_class, organization, extra=None):
    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, request)
    members = pay.member_ids(organization=organization, user_ids={entry.annotator_id for entry in page})
    response = paginator.get_paginated_response(serializer_class(page, many=True,
                                                                 context={"members": members}).data)
    if extra:
        response.data = {**extra, **response.data}
    return response


def _stream_entries_csv(qs, organization, filename):
    def rows():
        yield csv_line(LEDGER_COLUMNS)
        for chunk in _chunks(qs.order_by("id"), 2000):
            members = pay.member_ids(organization=organization, user_ids={e.annotator_id for e in chunk})
            for row in LedgerEntrySerializer(chunk, many=True, context={"members": members}).data:
                yield csv_line([safe_cell(row.get(c)) for c in LEDGER_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _chunks(qs, size):
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _filters(view, params, serializer_class=LedgerFilterSerializer) -> dict:
    data = validated(serializer_class, params)
    out = {"since": data.get("since"), "until": data.get("until"), "kind": data.get("kind")}
    out["annotator_id"] = view.member(data["annotator"]).user_id if data.get("annotator") else None
    out["project_id"] = view.org_project(data["project"]).pk if data.get("project") else None
    return out


class LedgerView(PayView):
    """GET /workforce/ledger: entries (managers), filtered by annotator, project, since, until, kind."""

    roles = {"GET": MANAGERS}

    @extend_schema(parameters=[LedgerFilterSerializer, CSV_FORMAT], responses=LedgerEntrySerializer(many=True))
    def get(self, request):
        filters = _filters(self, request.query_params)
        qs = pay.ledger_entries(organization=self.tenancy.organization, **filters)
        if self.wants_csv():
            return _stream_entries_csv(qs, self.tenancy.organization, "ledger.csv")
        return _entries_page(request, qs, LedgerEntrySerializer, self.tenancy.organization)


class LedgerReverseView(PayView):
    """POST /workforce/ledger/{id}/reverse: a manager reverses one entry (a new, negated entry)."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=ReverseSerializer, responses={201: LedgerEntrySerializer})
    def post(self, request, entry_id):
        entry = LedgerEntry.objects.filter(organization=self.tenancy.organization, pk=entry_id).first()
        if entry is None:
            raise NotFound("no such ledger entry")
        data = validated(ReverseSerializer, request.data)
        reversal = pay.ledger_entry_reverse(entry=entry, actor=request.user, reason=data["reason"], request=request)
        reversal = pay.ledger_entries(organization=self.tenancy.organization).get(pk=reversal.pk)
        members = pay.member_ids(organization=self.tenancy.organization, user_ids={reversal.annotator_id})
        return Response(LedgerEntrySerializer(reversal, context={"members": members}).data,
                        status=status.HTTP_201_CREATED)


class StatementsView(PayView):
    """GET /workforce/statements?since=&until=: per annotator and currency, totals by kind and the net; the
    period defaults to the current UTC month. `?format=csv` is the payout export."""

    roles = {"GET": MANAGERS}
    csv_columns = STATEMENT_COLUMNS

    @extend_schema(parameters=[StatementFilterSerializer, CSV_FORMAT],
                   responses=inline_serializer("Statements", {"since": serializers.DateTimeField(),
                                                              "until": serializers.DateTimeField(),
                                                              "results": StatementSerializer(many=True),
                                                              "next": serializers.URLField(allow_null=True),
                                                              "previous": serializers.URLField(allow_null=True)}))
    def get(self, request):
        filters = _filters(self, request.query_params, StatementFilterSerializer)
        now = timezone.now()
        since = filters["since"] or pay.month_start(now)
        until = filters["until"] or (pay.month_start(since + timedelta(days=32)))
        if since >= until:
            raise ApiError("the period is empty", details={"until": ["must be after since"]})
        rows = pay.statements(organization=self.tenancy.organization, since=since, until=until,
                              annotator_id=filters["annotator_id"], project_id=filters["project_id"])
        results = StatementSerializer(rows, many=True).data
        response = Response({"since": since, "until": until, "results": results, "next": None, "previous": None})
        if self.wants_csv():
            response["Content-Disposition"] = f'attachment; filename="payout-{since:%Y%m%d}-{until:%Y%m%d}.csv"'
        return response


class BonusesView(PayView):
    """POST /workforce/bonuses: a manual bonus to one member."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=BonusCreateSerializer, responses={201: LedgerEntrySerializer})
    def post(self, request):
        data = validated(BonusCreateSerializer, request.data)
        member = self.member(data["annotator"])
        project = access_project(tenancy=self.tenancy, project_id=data["project"]) if data.get("project") else None
        currency = data.get("currency") or (pay.pay_rates(project)["currency"] if project else "USD")
        entry = pay.bonus_grant(organization=self.tenancy.organization, annotator=member.user,
                                amount=data["amount"], currency=currency, project=project, note=data["note"],
                                actor=request.user, request=request)
        entry = pay.ledger_entries(organization=self.tenancy.organization).get(pk=entry.pk)
        return Response(LedgerEntrySerializer(entry, context={"members": {member.user_id: member.pk}}).data,
                        status=status.HTTP_201_CREATED)


class BonusRulesView(PayView):
    """GET, POST /workforce/bonus-rules."""

    roles = {"GET": MANAGERS, "POST": MANAGERS}

    @extend_schema(parameters=[CSV_FORMAT], responses=BonusRuleSerializer(many=True))
    def get(self, request):
        qs = BonusRule.objects.filter(organization=self.tenancy.organization).order_by("-id")
        paginator = CursorPage()
        page = paginator.paginate_queryset(qs, request)
        return paginator.get_paginated_response(BonusRuleSerializer(page, many=True).data)

    @extend_schema(request=BonusRuleSerializer, responses={201: BonusRuleSerializer})
    def post(self, request):
        data = validated(BonusRuleSerializer, request.data)
        data["project"] = access_project(tenancy=self.tenancy, project_id=data.pop("project_id"))
        rule = pay.bonus_rule_create(organization=self.tenancy.organization, actor=request.user, data=data,
                                     request=request)
        return Response(BonusRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


def _rule(view, rule_id) -> BonusRule:
    rule = BonusRule.objects.filter(organization=view.tenancy.organization, pk=rule_id).first()
    if rule is None:
        raise NotFound("no such bonus rule")
    return rule


class BonusRuleView(PayView):
    """PATCH, DELETE /workforce/bonus-rules/{id}."""

    roles = {"PATCH": MANAGERS, "DELETE": MANAGERS}

    @extend_schema(request=BonusRuleSerializer, responses=BonusRuleSerializer)
    def patch(self, request, rule_id):
        rule = _rule(self, rule_id)
        serializer = BonusRuleSerializer(rule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "project_id" in data:
            data["project"] = access_project(tenancy=self.tenancy, project_id=data.pop("project_id"))
        rule = pay.bonus_rule_update(rule=rule, actor=request.user, data=data, request=request)
        return Response(BonusRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, rule_id):
        pay.bonus_rule_delete(rule=_rule(self, rule_id), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BonusRuleRunView(PayView):
    """POST /workforce/bonus-rules/{id}/run: pay the rule for the period in progress (once per annotator)."""

    roles = {"POST": MANAGERS}

    @extend_schema(request=None, responses=inline_serializer("BonusRuleRun", {
        "period": serializers.ListField(child=serializers.DateTimeField()),
        "paid": LedgerEntrySerializer(many=True)}))
    def post(self, request, rule_id):
        rule = _rule(self, rule_id)
        if not rule.active:
            raise ApiError("this bonus rule is not active", details={"active": ["is false"]})
        made = pay.bonus_rule_run(rule=rule, actor=request.user, request=request)
        start, end = pay.rule_period(rule, timezone.now())
        entries = list(pay.ledger_entries(organization=self.tenancy.organization)
                       .filter(pk__in=[e.pk for e in made]).order_by("id"))
        members = pay.member_ids(organization=self.tenancy.organization, user_ids={e.annotator_id for e in entries})
        return Response({"period": [start, end],
                         "paid": LedgerEntrySerializer(entries, many=True, context={"members": members}).data})


class MyEarningsView(PayView):
    """GET /me/earnings: the caller's own entries (newest first) and net totals per currency."""

    roles = {"GET": EVERYONE}

    @extend_schema(responses=EarningsSerializer)
    def get(self, request):
        organization = self.tenancy.organization
        qs = pay.ledger_entries(organization=organization, annotator_id=request.user.pk)
        totals = pay.earnings_totals(organization=organization, user=request.user)
        return _entries_page(request, qs, OwnEntrySerializer, organization, extra={"totals": totals})


ID = r"(?P<{}>[0-9]{{1,18}})"
urlpatterns = [
    re_path(r"^workforce/ledger/?$", LedgerView.as_view(), name="workforce-ledger"),
    re_path(rf"^workforce/ledger/{ID.format('entry_id')}/reverse/?$", LedgerReverseView.as_view(),
            name="workforce-ledger-reverse"),
    re_path(r"^workforce/statements/?$", StatementsView.as_view(), name="workforce-statements"),
    re_path(r"^workforce/bonuses/?$", BonusesView.as_view(), name="workforce-bonuses"),
    re_path(r"^workforce/bonus-rules/?$", BonusRulesView.as_view(), name="workforce-bonus-rules"),
    re_path(rf"^workforce/bonus-rules/{ID.format('rule_id')}/?$", BonusRuleView.as_view(),
            name="workforce-bonus-rule"),
    re_path(rf"^workforce/bonus-rules/{ID.format('rule_id')}/run/?$", BonusRuleRunView.as_view(),
            name="workforce-bonus-rule-run"),
    re_path(r"^me/earnings/?$", MyEarningsView.as_view(), name="me-earnings"),
]
