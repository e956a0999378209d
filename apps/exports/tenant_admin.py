"""The exports app on the tenant admin (/app/admin/), read-only: exports and snapshots are made by jobs
(the exports page, the API or `manage.py export`) and never edited."""

from django.contrib import admin

from apps.orgs.admin_site import TenantModelAdmin, tenant_admin_site

from .models import DatasetSnapshot, Export

PROJECT_FILTER = ("project", admin.RelatedOnlyFieldListFilter)


@admin.register(Export, site=tenant_admin_site)
class ExportTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "format", "status", "size", "created_by", "created_at", "finished_at")
    list_filter = (PROJECT_FILTER, "format", "status")


@admin.register(DatasetSnapshot, site=tenant_admin_site)
class DatasetSnapshotTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "filter", "schema_version", "seed", "checksum", "created_at")
    list_filter = (PROJECT_FILTER, "filter")
