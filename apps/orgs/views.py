"""HTTP API of the orgs app: /me, /orgs, /members, /tokens and the organization's /audit trail."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_events
from apps.audit.services import record
from apps.audit.verification import audit_verify

from . import services
from .api import OrgAPIView, OrgViewSet, validated
from .errors import Forbidden
from .models import ApiToken, Membership
from .roles import EVERYONE, MANAGERS, OWNERS
from .selectors import (
    access_membership,
    access_organization,
    access_token,
    may_revoke_token,
    memberships_visible,
    organizations_for_user,
    tokens_visible,
)
from .serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MemberInviteSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
)


class MeView(OrgAPIView):
    roles = {"GET": EVERYONE}

    @extend_schema(responses=MeSerializer, summary="The caller, its organization and role")
    def get(self, request):
        t = self.tenancy
        orgs = organizations_for_user(user=request.user).filter(is_active=True)
        if t.token is not None:
            orgs = orgs.filter(pk=t.organization.pk)
        data = {
            "id": request.user.pk,
            "email": request.user.email,
            "name": request.user.name,
            "role": t.role,
            "membership": t.membership.pk,
            "organization": t.organization,
            "organizations": orgs,
            "token": t.token.prefix if t.token else None,
        }
        return Response(MeSerializer(data).data)


class OrganizationViewSet(viewsets.ViewSet):
    """Organizations the caller belongs to. Not tenant-resolved: the slug names the organization."""

    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    serializer_class = OrganizationSerializer

    def _token(self, request):
        return request.auth if isinstance(request.auth, ApiToken) else None

    @extend_schema(responses=OrganizationSerializer(many=True))
    def list(self, request):
        orgs = organizations_for_user(user=request.user)
        token = self._token(request)
        if token is not None:
            orgs = orgs.filter(pk=token.organization_id)
        return Response({"results": OrganizationSerializer(orgs, many=True).data, "next": None, "previous": None})

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    def create(self, request):
        if self._token(request) is not None:
            raise Forbidden("API tokens cannot create organizations; sign in to do it")
        data = validated(OrganizationCreateSerializer, request.data)
        org = services.organization_create(owner=request.user, request=request, **data)
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=OrganizationSerializer)
    def retrieve(self, request, slug=None):
        org, _ = access_organization(user=request.user, slug=slug, token=self._token(request))
        return Response(OrganizationSerializer(org).data)

    @extend_schema(request=OrganizationUpdateSerializer, responses=OrganizationSerializer)
    def partial_update(self, request, slug=None):
        org = self._owned(request, slug)
        data = validated(OrganizationUpdateSerializer, request.data)
        org = services.organization_update(organization=org, actor=request.user, request=request, **data)
        return Response(OrganizationSerializer(org).data)

    @extend_schema(responses=OrganizationSerializer, summary="Deactivate (data and audit trail are kept)")
    def destroy(self, request, slug=None):
        org = self._owned(request, slug)
        org = services.organization_deactivate(organization=org, actor=request.user, request=request)
        return Response(OrganizationSerializer(org).data)

    def _owned(self, request, slug):
        token = self._token(request)
        org, membership = access_organization(user=request.user, slug=slug, token=token)
        role = token.role if token is not None else membership.role
        if role not in OWNERS or membership.role not in OWNERS:
            raise Forbidden("only owners change or deactivate an organization")
        return org


class MemberViewSet(mixins.ListModelMixin, OrgViewSet):
    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    action_roles = {
        "list": EVERYONE,
        "retrieve": EVERYONE,
        "create": MANAGERS,
        # Object actions check the role after the lookup: someone else's membership is a 404 first.
        "partial_update": EVERYONE,
        "destroy": EVERYONE,
    }
    filterset_fields = ["role", "status"]

    def get_queryset(self):
        return memberships_visible(tenancy=self.tenancy)

    def retrieve(self, request, pk=None):
        return Response(MembershipSerializer(access_membership(tenancy=self.tenancy, membership_id=pk)).data)

    @extend_schema(request=MemberInviteSerializer, responses={201: MembershipSerializer})
    def create(self, request):
        data = validated(MemberInviteSerializer, request.data)
        membership, _ = services.member_invite(
            organization=self.tenancy.organization, email=data["email"], role=data["role"],
            actor=request.user, actor_role=self.tenancy.role, request=request,
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateSerializer, responses=MembershipSerializer)
    def partial_update(self, request, pk=None):
        membership = access_membership(tenancy=self.tenancy, membership_id=pk)
        self.require(MANAGERS)
        data = validated(MemberUpdateSerializer, request.data)
        membership = services.membership_change_role(
            membership=membership, role=data["role"], actor=request.user, actor_role=self.tenancy.role,
            request=request,
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses=MembershipSerializer)
    def destroy(self, request, pk=None):
        membership = access_membership(tenancy=self.tenancy, membership_id=pk)
        self.require(MANAGERS)
        membership = services.membership_remove(
            membership=membership, actor=request.user, actor_role=self.tenancy.role, request=request
        )
        return Response(MembershipSerializer(membership).data)


class TokenViewSet(mixins.ListModelMixin, OrgViewSet):
    queryset = ApiToken.objects.none()
    serializer_class = ApiTokenSerializer
    action_roles = {"list": EVERYONE, "create": EVERYONE, "destroy": EVERYONE}

    def get_queryset(self):
        qs = tokens_visible(tenancy=self.tenancy)
        if self.request.query_params.get("include_revoked") not in ("1", "true"):
            qs = qs.filter(revoked_at__isnull=True)
        return qs

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        data = validated(ApiTokenCreateSerializer, request.data)
        if data["service_account"] and self.tenancy.role not in MANAGERS:
            raise Forbidden("only managers create service-account tokens")
        token, secret = services.token_create(
            organization=self.tenancy.organization, actor=request.user, actor_role=self.tenancy.role,
            name=data["name"], role=data["role"], expires_days=data.get("expires_days"),
            service_account=data["service_account"], request=request,
        )
        token.secret = secret
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, summary="Revoke a token")
    def destroy(self, request, pk=None):
        token = access_token(tenancy=self.tenancy, token_id=pk)
        if not may_revoke_token(tenancy=self.tenancy, token=token):
            raise Forbidden(f"a {self.tenancy.role} may not revoke a {token.role} token")
        services.token_revoke(token=token, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.IntegerField(source="actor_id", allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_label", "via", "action", "object_type", "object_id",
                  "before_digest", "after_digest", "data", "ip", "digest"]
        read_only_fields = fields


class AuditFilterSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, max_length=64)
    action_prefix = serializers.CharField(required=False, max_length=64)
    object_type = serializers.CharField(required=False, max_length=64)
    object_id = serializers.CharField(required=False, max_length=64)
    actor_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class AuditViewSet(mixins.ListModelMixin, OrgViewSet):
    """The organization's audit trail (owners and managers) and its verification."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    action_roles = {"list": MANAGERS, "verify": MANAGERS}
    filter_backends: list = []

    def get_queryset(self):
        filters = validated(AuditFilterSerializer, self.request.query_params)
        return audit_events(organization_id=self.tenancy.organization.pk, filters=filters)

    @extend_schema(parameters=[AuditFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "AuditVerification",
            {"ok": serializers.BooleanField(), "checked": serializers.IntegerField(),
             "first_bad": serializers.DictField(allow_null=True)},
        ),
    )
    @action(detail=False, methods=["post"])
    def verify(self, request):
        with transaction.atomic():
            result = audit_verify(organization_id=self.tenancy.organization.pk)
            record(action="audit.verify", organization=self.tenancy.organization, actor=request.user,
                   data={"ok": result["ok"], "checked": result["checked"]}, request=request)
        return Response(result)

