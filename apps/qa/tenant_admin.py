"""The qa app on the tenant admin (/app/admin/): quality rules (written through rule_create/rule_update, which
refresh the rules cache), suspensions, rule firings and annotator stats (read-only)."""

from django import forms
from django.contrib import admin

from apps.orgs.admin_site import TenantModelAdmin, tenant_admin_site

from .models import AnnotatorStats, QualityRule, RuleFiring, Suspension
from .rules import rule_create, rule_delete, rule_update

PROJECT_FILTER = ("project", admin.RelatedOnlyFieldListFilter)
RULE_FIELDS = ["project", "collector", "params", "min_samples", "op", "threshold", "action", "duration_hours",
               "active"]


class QualityRuleForm(forms.ModelForm):
    op = forms.ChoiceField(choices=[(op, op) for op in QualityRule.OPS])

    class Meta:
        model = QualityRule
        fields = RULE_FIELDS


@admin.register(QualityRule, site=tenant_admin_site)
class QualityRuleTenantAdmin(TenantModelAdmin):
    editable = frozenset({"add", "change", "delete"})
    form = QualityRuleForm
    list_display = ("id", "project", "collector", "op", "threshold", "min_samples", "action", "active")
    list_filter = (PROJECT_FILTER, "action", "active")

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in RULE_FIELDS if name != "project"}
        if change:
            saved = self.service_call(request, form, lambda: rule_update(rule=obj, actor=request.user, data=data,
                                                                         request=request))
        else:
            saved = self.service_call(request, form, lambda: rule_create(
                project=form.cleaned_data["project"], actor=request.user, data=data, request=request))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        rule_delete(rule=obj, actor=request.user, request=request)


@admin.register(Suspension, site=tenant_admin_site)
class SuspensionTenantAdmin(TenantModelAdmin):
    list_display = ("id", "annotator", "project", "kind", "reason", "until", "lifted_at")
    list_filter = ("kind",)


@admin.register(RuleFiring, site=tenant_admin_site)
class RuleFiringTenantAdmin(TenantModelAdmin):
    list_display = ("id", "project", "rule", "annotator", "action", "value", "samples", "created_at", "reverted_at")
    list_filter = (PROJECT_FILTER, "action")


@admin.register(AnnotatorStats, site=tenant_admin_site)
class AnnotatorStatsTenantAdmin(TenantModelAdmin):
    list_display = ("annotator", "project", "annotations", "gold_seen", "gold_correct", "weight")
    list_filter = (PROJECT_FILTER,)
