"""The projects app on the tenant admin (/app/admin/): projects (edited through project_update) and their
schema versions (read-only; new versions go through the API's schema route, which remaps labels)."""

from django import forms
from django.contrib import admin

from apps.orgs.admin_site import TenantModelAdmin, tenant_admin_site

from . import project_settings
from .models import LabelSchemaVersion, Project
from .services import project_update


class ProjectAdminForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description", "instructions", "status", "settings"]

    def clean_settings(self):
        value = self.cleaned_data["settings"]
        try:
            project_settings.validate(project_settings.merge(self.instance.settings or {}, value or {}))
        except project_settings.SettingsError as exc:
            raise forms.ValidationError(f"invalid settings: {exc.errors}") from exc
        return value


@admin.register(Project, site=tenant_admin_site)
class ProjectTenantAdmin(TenantModelAdmin):
    editable = frozenset({"change"})
    form = ProjectAdminForm
    list_display = ("name", "status", "schema_version", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        self.service_call(request, form, lambda: project_update(
            project=obj, actor=request.user, settings=data["settings"], name=data["name"],
            description=data["description"], instructions=data["instructions"], status=data["status"],
            request=request))


@admin.register(LabelSchemaVersion, site=tenant_admin_site)
class LabelSchemaVersionTenantAdmin(TenantModelAdmin):
    tenant_filter = "project__organization"
    list_display = ("project", "version", "source", "created_at")
    list_filter = (("project", admin.RelatedOnlyFieldListFilter), "source")
