"""The tasks app on the tenant admin (/app/admin/), read-only: tasks, annotations, reviews, predictions,
flags and leases are written through the queue and the API, which keep counters and versions right."""

from django.contrib import admin

from apps.orgs.admin_site import TenantModelAdmin, tenant_admin_site

from .models import Annotation, Assignment, Flag, Prediction, Review, Task

PROJECT_FILTER = ("project", admin.RelatedOnlyFieldListFilter)


@admin.register(Task, site=tenant_admin_site)
class TaskTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "status", "is_gold", "annotations_count", "target_annotations", "agreement",
                    "created_at")
    list_filter = (PROJECT_FILTER, "status", "is_gold")
    search_fields = ("external_id",)
    exclude = ("gold_result",)  # the gold answer has its own API (managers), not a list column
    show_full_result_count = False


@admin.register(Annotation, site=tenant_admin_site)
class AnnotationTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "task", "author", "status", "source", "version", "created_at")
    list_filter = (PROJECT_FILTER, "status", "source")
    search_fields = ("author__email",)
    raw_id_fields = ("task",)
    show_full_result_count = False


@admin.register(Review, site=tenant_admin_site)
class ReviewTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "annotation", "reviewer", "status", "decision", "decided_at")
    list_filter = (PROJECT_FILTER, "status", "decision")


@admin.register(Prediction, site=tenant_admin_site)
class PredictionTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "task", "model_version", "score", "created_at")
    list_filter = (PROJECT_FILTER,)
    show_full_result_count = False


@admin.register(Flag, site=tenant_admin_site)
class FlagTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "task", "kind", "annotator", "reason", "created_at", "resolved_at")
    list_filter = (PROJECT_FILTER, "kind")


@admin.register(Assignment, site=tenant_admin_site)
class AssignmentTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "task", "annotator", "status", "leased_at", "expires_at")
    list_filter = (PROJECT_FILTER, "status")
    show_full_result_count = False
