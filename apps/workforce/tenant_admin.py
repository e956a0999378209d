"""The workforce app on the tenant admin (/app/admin/): skills and pools (written through their services, which
audit and re-route queues), exams, profiles, appeals and the pay ledger (read-only: it is append-only)."""

from django import forms
from django.contrib import admin

from apps.orgs.admin_site import TenantModelAdmin, tenant_admin_site

from .models import AnnotatorProfile, Appeal, Exam, LedgerEntry, Pool, Skill
from .profiles import pool_create, pool_delete, pool_member_ids, pool_update, skill_create, skill_delete, skill_update


@admin.register(Skill, site=tenant_admin_site)
class SkillTenantAdmin(TenantModelAdmin):
    editable = frozenset({"add", "change", "delete"})
    fields = ("name", "description")
    list_display = ("name", "description", "created_at")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = self.service_call(request, form, lambda: skill_update(
                skill=obj, actor=request.user, name=data["name"], description=data["description"], request=request))
        else:
            saved = self.service_call(request, form, lambda: skill_create(
                organization=self.organization(request), actor=request.user, name=data["name"],
                description=data["description"], request=request))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        skill_delete(skill=obj, actor=request.user, request=request)


class ProfileChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.user.email


class PoolForm(forms.ModelForm):
    class Meta:
        model = Pool
        fields = ["name", "description", "members"]
        field_classes = {"members": ProfileChoiceField}


@admin.register(Pool, site=tenant_admin_site)
class PoolTenantAdmin(TenantModelAdmin):
    editable = frozenset({"add", "change", "delete"})
    form = PoolForm
    list_display = ("name", "description", "member_count", "created_at")
    search_fields = ("name",)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "members":
            field.queryset = field.queryset.select_related("user").order_by("user__email")
        return field

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        members = sorted(profile.membership_id for profile in data.get("members") or [])
        if change:
            saved = self.service_call(request, form, lambda: pool_update(
                pool=obj, actor=request.user, name=data["name"], description=data["description"], members=members,
                request=request))
        else:
            saved = self.service_call(request, form, lambda: pool_create(
                organization=self.organization(request), actor=request.user, name=data["name"],
                description=data["description"], members=members, request=request))
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # the members were set by pool_create / pool_update

    def delete_model(self, request, obj):
        pool_delete(pool=obj, actor=request.user, request=request)

    @admin.display(description="members")
    def member_count(self, obj):
        return len(pool_member_ids(obj))


@admin.register(AnnotatorProfile, site=tenant_admin_site)
class AnnotatorProfileTenantAdmin(TenantModelAdmin):
    list_display = ("user", "status", "timezone", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__email",)


@admin.register(Exam, site=tenant_admin_site)
class ExamTenantAdmin(TenantModelAdmin):
    list_display = ("name", "project", "kind", "skill", "skill_level", "pass_threshold", "active")
    list_filter = ("kind", "active")
    raw_id_fields = ("tasks",)


@admin.register(LedgerEntry, site=tenant_admin_site)
class LedgerEntryTenantAdmin(TenantModelAdmin):
    list_display = ("id", "annotator", "kind", "amount", "currency", "project", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("annotator__email",)
    show_full_result_count = False


@admin.register(Appeal, site=tenant_admin_site)
class AppealTenantAdmin(TenantModelAdmin):
    list_display = ("id", "annotator", "status", "created_at")
