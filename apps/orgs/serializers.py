"""Input and output shapes of the orgs API (API.md)."""

from rest_framework import serializers

from .models import ApiToken, Membership, Organization
from .roles import Role


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "phi", "is_active", "created_at"]
        read_only_fields = ["is_active", "created_at"]


class OrganizationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "phi"]


class OrganizationCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phi = serializers.BooleanField(required=False, default=False)


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    phi = serializers.BooleanField(required=False)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    membership = serializers.IntegerField(help_text="the caller's member id in this organization")
    organization = OrganizationBriefSerializer()
    organizations = OrganizationBriefSerializer(many=True, help_text="every organization the caller belongs to")
    token = serializers.CharField(allow_null=True, help_text="the prefix of the token in use, if any")


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    is_service_account = serializers.BooleanField(source="user.is_service_account", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "status", "is_service_account", "created_at", "joined_at"]
        read_only_fields = fields


class MemberInviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "role", "prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="shown only in this response")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices)
    expires_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    service_account = serializers.BooleanField(
        default=False, help_text="act as a new service-account member instead of the caller (managers)"
    )
