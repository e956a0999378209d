"""Manager pages of the projects app: the project list, the create form (schema builder or Label Studio XML),
the live dashboard and the import page. Live numbers come from the REST API and /ws/projects/{id}/ in JS."""

import json

from django import forms
from django.shortcuts import redirect, render
from rest_framework.exceptions import APIException

from apps.orgs.manage_web import found_or_404, page_context, page_for
from apps.orgs.roles import MANAGERS, READERS

from .models import Project
from .selectors import access_project, projects_visible
from .services import project_create

CONTROL_TYPES = ["choices", "spans", "bbox", "polygon", "keypoints", "textarea", "rating", "relation"]
DATA_TYPES = ["text", "image", "html", "paragraphs", "audio", "url"]


def project_page_context(tenancy, project: Project, tab: str, **extra) -> dict:
    """What the project sub-navigation (templates/projects/_project_nav.html) needs."""
    return page_context(tenancy, project=project, tab=tab, may_manage=tenancy.role in MANAGERS,
                        **extra)


def project_for_page(tenancy, project_id) -> Project:
    return found_or_404(access_project, tenancy=tenancy, project_id=project_id)


@page_for(READERS, section="projects")
def project_list(request, tenancy):
    projects = projects_visible(tenancy=tenancy).order_by("status", "-created_at")
    status = request.GET.get("status", "")
    if status in Project.Status.values:
        projects = projects.filter(status=status)
    return render(request, "projects/manage_list.html", page_context(
        tenancy, projects=projects, status=status, statuses=Project.Status.choices,
        may_manage=tenancy.role in MANAGERS))


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}),
                                   help_text="Markdown, shown to annotators beside every task.")
    schema_source = forms.ChoiceField(choices=[("builder", "Build the schema"), ("xml", "Paste a Label Studio config")],
                                      initial="builder", widget=forms.RadioSelect)
    label_schema = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
                                   label="Schema (JSON)")
    label_config = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10, "class": "code"}),
                                   label="Label Studio XML config")
    overlap = forms.IntegerField(min_value=1, max_value=50, initial=1, label="Annotations per task")
    review_mode = forms.ChoiceField(choices=[("none", "No review"), ("all", "Review every annotation"),
                                             ("sample", "Review a sample")], initial="none", label="Review")
    review_fraction = forms.FloatField(min_value=0.0, max_value=1.0, initial=0.1, required=False,
                                       label="Sample share (0–1)")

    def clean(self):
        data = super().clean()
        if data.get("schema_source") == "xml":
            if not (data.get("label_config") or "").strip():
                self.add_error("label_config", "Paste a Label Studio config, e.g. <View>…</View>.")
        else:
            text = (data.get("label_schema") or "").strip()
            if not text:
                self.add_error("label_schema", "Add at least one data field and one control.")
            else:
                try:
                    data["spec"] = json.loads(text)  # checked by project_create, the one validator
                except json.JSONDecodeError as exc:
                    self.add_error("label_schema", f"Not valid JSON: {exc.msg} (line {exc.lineno}).")
        return data


@page_for(MANAGERS, section="projects")
def project_new(request, tenancy):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        review = {"mode": data["review_mode"]}
        if data["review_mode"] == "sample" and data.get("review_fraction") is not None:
            review["fraction"] = data["review_fraction"]
        settings = {"overlap": data["overlap"], "max_overlap": data["overlap"], "review_policy": review}
        try:
            project = project_create(
                organization=tenancy.organization, actor=request.user, name=data["name"],
                description=data["description"], instructions=data["instructions"], settings=settings,
                label_schema=data.get("spec") if data["schema_source"] == "builder" else None,
                label_config=data["label_config"] if data["schema_source"] == "xml" else None,
                request=request)
        except APIException as exc:
            details = getattr(exc, "details", {}) or {}
            placed = False
            for field in ("label_config", "label_schema"):
                if field in details:
                    form.add_error(field, str(exc.detail))
                    placed = True
            if "settings" in details:
                form.add_error(None, f"Settings: {details['settings']}")
                placed = True
            if not placed:
                form.add_error(None, str(exc.detail))
        else:
            return redirect("web-project-import", project_id=project.pk)
    return render(request, "projects/manage_new.html", page_context(
        tenancy, form=form, control_types=CONTROL_TYPES, data_types=DATA_TYPES),
        status=400 if form.is_bound and form.errors else 200)


@page_for(READERS, section="projects")
def project_dashboard(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    return render(request, "projects/manage_dashboard.html", project_page_context(tenancy, project, "dashboard"))


@page_for(MANAGERS, section="projects")
def project_import(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    schema = project.current_schema
    fields = sorted((schema.spec.get("data") or {}).keys()) if schema else []
    return render(request, "projects/manage_import.html", project_page_context(
        tenancy, project, "import", data_fields=fields))
