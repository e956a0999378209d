"""HTTP API of the workforce's profiles: skills, pools, annotators, onboarding links and bulk invitations."""

from django.conf import settings
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, MANAGERS, READERS

from . import profiles
from .csv_export import CsvRenderer
from .models import Pool, Skill
from .profiles_serializers import (
    AnnotatorDetailSerializer,
    AnnotatorFilterSerializer,
    AnnotatorSerializer,
    AnnotatorUpdateSerializer,
    BulkInviteResultSerializer,
    OnboardingLinkCreatedSerializer,
    OnboardingLinkCreateSerializer,
    OnboardingLinkSerializer,
    PoolCreateSerializer,
    PoolSerializer,
    PoolUpdateSerializer,
    SkillSerializer,
    SkillUpdateSerializer,
    annotator_csv_rows,
)

CSV_MAX_ROWS = 100_000
ID = r"[0-9]{1,18}"
CSV_PARAMETER = OpenApiParameter("format", str, enum=["json", "csv"], required=False,
                                 description="csv: every row (not one page) as a spreadsheet")


def _wants_csv(request) -> bool:
    return getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv"


def _list(request, qs, rows):
    """One cursor page of `rows(objects)`; with `?format=csv`, all of them (up to CSV_MAX_ROWS)."""
    if _wants_csv(request):
        return Response(rows(list(qs[:CSV_MAX_ROWS])))
    paginator = CursorPage()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response(rows(page))


class WorkforceListView(OrgAPIView):
    renderer_classes = [JSONRenderer, CsvRenderer]


# --- skills ------------------------------------------------------------------------------------------------------


class SkillsView(WorkforceListView):
    """GET, POST /workforce/skills: the organization's skills (names are slugs, unique in it)."""

    roles = {"GET": READERS, "POST": MANAGERS}

    @extend_schema(parameters=[CSV_PARAMETER], responses=SkillSerializer(many=True))
    def get(self, request):
        qs = Skill.objects.filter(organization=self.tenancy.organization)
        return _list(request, qs, lambda page: SkillSerializer(page, many=True).data)

    @extend_schema(request=SkillSerializer, responses={201: SkillSerializer})
    def post(self, request):
        data = validated(SkillSerializer, request.data)
        skill = profiles.skill_create(organization=self.tenancy.organization, actor=request.user, name=data["name"],
                                      description=data.get("description", ""), request=request)
        return Response(SkillSerializer(skill).data, status=status.HTTP_201_CREATED)


class SkillView(OrgAPIView):
    """GET, PATCH, DELETE /workforce/skills/{id}."""

    roles = {"GET": EVERYONE, "PATCH": EVERYONE, "DELETE": EVERYONE}  # the role is checked after the lookup

    def skill(self, skill_id, roles):
        skill = profiles.access_skill(organization=self.tenancy.organization, skill_id=skill_id)
        self.require(roles)
        return skill

    @extend_schema(responses=SkillSerializer)
    def get(self, request, skill_id):
        return Response(SkillSerializer(self.skill(skill_id, READERS)).data)

    @extend_schema(request=SkillUpdateSerializer, responses=SkillSerializer)
    def patch(self, request, skill_id):
        skill = self.skill(skill_id, MANAGERS)
        data = validated(SkillUpdateSerializer, request.data)
        skill = profiles.skill_update(skill=skill, actor=request.user, request=request, **data)
        return Response(SkillSerializer(skill).data)

    @extend_schema(responses={204: None})
    def delete(self, request, skill_id):
        profiles.skill_delete(skill=self.skill(skill_id, MANAGERS), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- pools -------------------------------------------------------------------------------------------------------


class PoolsView(WorkforceListView):
    """GET, POST /workforce/pools: teams of annotators, members given by membership id."""

    roles = {"GET": READERS, "POST": MANAGERS}

    @extend_schema(parameters=[CSV_PARAMETER], responses=PoolSerializer(many=True))
    def get(self, request):
        qs = Pool.objects.filter(organization=self.tenancy.organization).prefetch_related("members")
        return _list(request, qs, lambda page: PoolSerializer(page, many=True).data)

    @extend_schema(request=PoolCreateSerializer, responses={201: PoolSerializer})
    def post(self, request):
        data = validated(PoolCreateSerializer, request.data)
        pool = profiles.pool_create(organization=self.tenancy.organization, actor=request.user, request=request,
                                    **data)
        pool = profiles.access_pool(organization=self.tenancy.organization, pool_id=pool.pk)
        return Response(PoolSerializer(pool).data, status=status.HTTP_201_CREATED)


class PoolView(OrgAPIView):
    """GET, PATCH, DELETE /workforce/pools/{id}: PATCH `members` replaces them, `add`/`remove` change them."""

    roles = {"GET": EVERYONE, "PATCH": EVERYONE, "DELETE": EVERYONE}

    def pool(self, pool_id, roles):
        pool = profiles.access_pool(organization=self.tenancy.organization, pool_id=pool_id)
        self.require(roles)
        return pool

    @extend_schema(responses=PoolSerializer)
    def get(self, request, pool_id):
        return Response(PoolSerializer(self.pool(pool_id, READERS)).data)

    @extend_schema(request=PoolUpdateSerializer, responses=PoolSerializer)
    def patch(self, request, pool_id):
        pool = self.pool(pool_id, MANAGERS)
        data = validated(PoolUpdateSerializer, request.data)
        pool = profiles.pool_update(pool=pool, actor=request.user, request=request, **data)
        return Response(PoolSerializer(pool).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pool_id):
        profiles.pool_delete(pool=self.pool(pool_id, MANAGERS), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- annotators --------------------------------------------------------------------------------------------------


class AnnotatorsView(WorkforceListView):
    """GET /workforce/annotators: every member as an annotator (managers), filtered by pool, skill level, status
    and language; `?format=csv` for a spreadsheet with a column per skill."""

    roles = {"GET": MANAGERS}

    @extend_schema(parameters=[AnnotatorFilterSerializer, CSV_PARAMETER], responses=AnnotatorSerializer(many=True))
    def get(self, request):
        organization = self.tenancy.organization
        query = validated(AnnotatorFilterSerializer, request.query_params)
        profiles.profiles_ensure(organization=organization)
        qs = profiles.annotators_filter(profiles.annotators_visible(tenancy=self.tenancy), organization=organization,
                                        **query)

        def rows(page):
            stats = profiles.annotator_stats(organization=organization, user_ids=[m.user_id for m in page])
            if _wants_csv(request):
                names = list(Skill.objects.filter(organization=organization).order_by("name")
                             .values_list("name", flat=True))
                return annotator_csv_rows(page, stats=stats, skill_names=names)
            return AnnotatorSerializer(page, many=True, context={"stats": stats, "with_notes": True}).data

        return _list(request, qs, rows)


class AnnotatorView(OrgAPIView):
    """GET, PATCH /workforce/annotators/{id} (membership id): profile, skills, pools, suspensions in force and
    stats. Managers read anyone and change them; a member reads only their own profile, without the notes."""

    roles = {"GET": EVERYONE, "PATCH": EVERYONE}

    def body(self, membership):
        organization = self.tenancy.organization
        context = {
            "stats": profiles.annotator_stats(organization=organization, user_ids=[membership.user_id]),
            "suspensions": list(profiles.annotator_suspensions(organization=organization, user=membership.user)),
            "with_notes": self.tenancy.role in MANAGERS,
        }
        return AnnotatorDetailSerializer(membership, context=context).data

    @extend_schema(responses=AnnotatorDetailSerializer)
    def get(self, request, member_id):
        return Response(self.body(profiles.access_annotator(tenancy=self.tenancy, membership_id=member_id)))

    @extend_schema(request=AnnotatorUpdateSerializer, responses=AnnotatorDetailSerializer)
    def patch(self, request, member_id):
        membership = profiles.access_annotator(tenancy=self.tenancy, membership_id=member_id)
        self.require(MANAGERS)
        data = validated(AnnotatorUpdateSerializer, request.data)
        profiles.annotator_update(tenancy=self.tenancy, membership=membership, data=data, request=request)
        return Response(self.body(profiles.access_annotator(tenancy=self.tenancy, membership_id=member_id)))


# --- onboarding ---------------------------------------------------------------------------------------------------


class OnboardingLinksView(OrgAPIView):
    """GET, POST /workforce/onboarding-links: links that make whoever signs up through them an annotator."""

    roles = {"GET": MANAGERS, "POST": MANAGERS}

    @extend_schema(responses=OnboardingLinkSerializer(many=True))
    def get(self, request):
        paginator = CursorPage()
        page = paginator.paginate_queryset(
            profiles.onboarding_links_visible(organization=self.tenancy.organization), request)
        return paginator.get_paginated_response(OnboardingLinkSerializer(page, many=True).data)

    @extend_schema(request=OnboardingLinkCreateSerializer, responses={201: OnboardingLinkCreatedSerializer})
    def post(self, request):
        data = validated(OnboardingLinkCreateSerializer, request.data)
        link, url = profiles.onboarding_link_create(organization=self.tenancy.organization, actor=request.user,
                                                    request=request, **data)
        link = profiles.access_onboarding_link(organization=self.tenancy.organization, link_id=link.pk)
        return Response(OnboardingLinkCreatedSerializer(link, context={"url": url}).data,
                        status=status.HTTP_201_CREATED)


class OnboardingLinkView(OrgAPIView):
    """GET, DELETE /workforce/onboarding-links/{id}: DELETE revokes the link (it stays listed)."""

    roles = {"GET": EVERYONE, "DELETE": EVERYONE}

    def link(self, link_id):
        link = profiles.access_onboarding_link(organization=self.tenancy.organization, link_id=link_id)
        self.require(MANAGERS)
        return link

    @extend_schema(responses=OnboardingLinkSerializer)
    def get(self, request, link_id):
        return Response(OnboardingLinkSerializer(self.link(link_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, link_id):
        profiles.onboarding_link_revoke(link=self.link(link_id), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BulkInvitationsView(OrgAPIView):
    """POST /workforce/invitations/bulk: a CSV of emails (header `email` optional) invited as annotators."""

    roles = {"POST": MANAGERS}

    @extend_schema(
        request={"text/csv": str,
                 "multipart/form-data": inline_serializer("BulkInviteUpload", {"file": serializers.FileField()})},
        responses={201: BulkInviteResultSerializer},
    )
    def post(self, request):
        raw = request._request
        content_type = request.content_type or ""
        if content_type.startswith("multipart/form-data"):
            upload = raw.FILES.get("file")
            if upload is None:
                raise ApiError("send the CSV in the multipart field 'file'", details={"file": ["required"]})
            if upload.size > profiles.BULK_MAX_BYTES:
                raise ApiError(f"the file is larger than {profiles.BULK_MAX_BYTES} bytes", code="too_large",
                               status_code=413)
            content = upload.read()
        elif content_type.split(";")[0].strip() in ("text/csv", "text/plain"):
            try:
                length = int(raw.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > min(profiles.BULK_MAX_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or profiles.BULK_MAX_BYTES):
                raise ApiError(f"the file is larger than {profiles.BULK_MAX_BYTES} bytes", code="too_large",
                               status_code=413)
            content = raw.body
        else:
            raise ApiError("send text/csv, or multipart/form-data with a 'file'", code="unsupported_media_type",
                           status_code=415)
        result = profiles.invitations_bulk(organization=self.tenancy.organization, actor=request.user,
                                           actor_role=self.tenancy.role, content=content, request=request)
        return Response({"invited": result.invited, "skipped": result.skipped}, status=status.HTTP_201_CREATED)


urlpatterns = [
    re_path(r"^workforce/skills/?$", SkillsView.as_view(), name="workforce-skills"),
    re_path(rf"^workforce/skills/(?P<skill_id>{ID})/?$", SkillView.as_view(), name="workforce-skill"),
    re_path(r"^workforce/pools/?$", PoolsView.as_view(), name="workforce-pools"),
    re_path(rf"^workforce/pools/(?P<pool_id>{ID})/?$", PoolView.as_view(), name="workforce-pool"),
    re_path(r"^workforce/annotators/?$", AnnotatorsView.as_view(), name="workforce-annotators"),
    re_path(rf"^workforce/annotators/(?P<member_id>{ID})/?$", AnnotatorView.as_view(), name="workforce-annotator"),
    re_path(r"^workforce/onboarding-links/?$", OnboardingLinksView.as_view(), name="workforce-onboarding-links"),
    re_path(rf"^workforce/onboarding-links/(?P<link_id>{ID})/?$", OnboardingLinkView.as_view(),
            name="workforce-onboarding-link"),
    re_path(r"^workforce/invitations/bulk/?$", BulkInvitationsView.as_view(), name="workforce-invitations-bulk"),
]
