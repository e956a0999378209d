"""The tenant-scoped admin at /app/admin/: Django's admin for what has no page of its own, limited to the signed-in
manager's active organization.

Only owners and managers of the active organization enter (anonymous visitors go to the sign-in page, anyone
else gets 403); `is_staff` plays no part. Every ModelAdmin here derives from TenantModelAdmin, whose querysets,
foreign-key and many-to-many choices and list filters are limited to that organization, and whose missing
objects (another organization's included) are 404. Models are read-only unless their admin says how a write
goes through the app's services. Apps register their models from their own `tenant_admin.py` modules
(autodiscovered here, as `admin.py` is for the platform admin), so each app keeps to DESIGN §3's order.
"""

from functools import wraps

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.module_loading import autodiscover_modules
from rest_framework.exceptions import APIException

from .models import Membership, Organization
from .roles import MANAGERS
from .web import page_tenancy


def scoped_queryset(model, organization):
    """The rows of `model` that belong to `organization` (users: its members); none when it cannot tell."""
    if model is Organization:
        return Organization.objects.filter(pk=organization.pk)
    if model is get_user_model():
        return model.objects.filter(memberships__organization=organization).distinct()
    fields = {field.name for field in model._meta.get_fields()}
    if "organization" in fields:
        return model.objects.filter(organization=organization)
    if "project" in fields:
        return model.objects.filter(project__organization=organization)
    return model.objects.none()


class TenantAdminSite(admin.AdminSite):
    site_header = "Quorum admin"
    site_title = "Quorum admin"
    index_title = "Your organization's data"
    enable_nav_sidebar = False
    site_url = "/app/projects/"
    _discovered = False

    def has_permission(self, request):
        if not (request.user.is_authenticated and request.user.is_active):
            return False
        tenancy = page_tenancy(request)
        return tenancy is not None and tenancy.role in MANAGERS

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guard(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("account_login"))
            if not self.has_permission(request):
                raise PermissionDenied("only owners and managers of the organization may use its admin")
            request.nav_section = "admin"
            return inner(request, *args, **kwargs)

        return guard

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            raise PermissionDenied("only owners and managers of the organization may use its admin")
        return redirect_to_login(request.GET.get("next") or reverse(f"{self.name}:index"), reverse("account_login"))

    def logout(self, request, extra_context=None):
        return redirect("account_logout")

    def password_change(self, request, extra_context=None):
        return redirect("account_change_password")

    def each_context(self, request):
        context = super().each_context(request)
        tenancy = page_tenancy(request)
        if tenancy is not None:
            context["site_header"] = f"Quorum admin · {tenancy.organization.name}"
        return context

    def get_urls(self):
        if not TenantAdminSite._discovered:
            TenantAdminSite._discovered = True
            autodiscover_modules("tenant_admin", register_to=self)
        return super().get_urls()


tenant_admin_site = TenantAdminSite(name="tenant_admin")


class TenantModelAdmin(admin.ModelAdmin):
    """Rows of the active organization only. `editable` grants add/change/delete; subclasses that set it
    route writes through services (save_model, delete_model)."""

    editable: frozenset = frozenset()  # of "add", "change", "delete"
    tenant_filter = "organization"  # the lookup from the model to its organization
    list_per_page = 50

    def organization(self, request) -> Organization:
        tenancy = page_tenancy(request)
        if tenancy is None:
            raise PermissionDenied("no active organization")
        return tenancy.organization

    def get_queryset(self, request):
        return super().get_queryset(request).filter(**{self.tenant_filter: self.organization(request)})

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("no such object in your organization")
        return found

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if "organization" in {f.name for f in self.model._meta.fields}:
            exclude.append("organization")
        return exclude

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = scoped_queryset(db_field.related_model, self.organization(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = scoped_queryset(db_field.related_model, self.organization(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request):
        return "add" in self.editable and self.admin_site.has_permission(request)

    def has_change_permission(self, request, obj=None):
        return "change" in self.editable and self.admin_site.has_permission(request)

    def has_delete_permission(self, request, obj=None):
        return "delete" in self.editable and self.admin_site.has_permission(request)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def service_call(self, request, form, call):
        """Run a service; its refusal (ApiError) becomes a form error instead of a 500."""
        try:
            return call()
        except APIException as exc:
            raise ServiceRefused(str(exc.detail)) from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            self.message_user(request, f"Not saved: {refused}", level="error")
            return redirect(request.get_full_path())


class ServiceRefused(Exception):
    pass


@admin.register(Membership, site=tenant_admin_site)
class MembershipTenantAdmin(TenantModelAdmin):
    list_display = ("user", "role", "status", "created_at")
    list_filter = ("role", "status")
    search_fields = ("user__email", "user__name")
