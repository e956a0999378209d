from django.contrib import admin

from .models import ApiToken, Invitation, Membership, Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "phi", "is_active", "created_at")
    search_fields = ("slug", "name")
    list_filter = ("phi", "is_active")

    def has_delete_permission(self, request, obj=None):
        return False  # organizations are deactivated, never deleted


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "status", "created_at")
    list_filter = ("role", "status")
    search_fields = ("user__email", "organization__slug")
    raw_id_fields = ("user", "invited_by")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "organization", "user", "role", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("role",)
    readonly_fields = ("secret_hash", "prefix", "last_used_at")
    search_fields = ("name", "prefix", "user__email")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("membership", "created_at", "expires_at", "accepted_at")
    readonly_fields = ("key_hash",)
