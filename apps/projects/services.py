"""Writes of the projects app: projects, their settings and their label schema versions."""

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import ApiError, Conflict

from . import project_settings, schema_guard, signals
from .label_spec import SpecError, normalize_spec, orphaned_labels, spec_labels, validate_remap
from .label_studio import spec_from_label_config
from .models import LabelSchemaVersion, Project

EDITABLE = ("name", "description", "instructions", "status")


def _spec_from_input(*, label_schema, label_config, previous: dict | None = None) -> tuple[dict, str, str]:
    """(normalized spec, source, original XML) from exactly one of our spec or a Label Studio config."""
    if (label_schema is None) == (label_config is None):
        raise ApiError("send either label_schema (Quorum spec) or label_config (Label Studio XML)",
                       details={"label_schema": ["exactly one of label_schema and label_config is required"]})
    try:
        if label_config is not None:
            if not isinstance(label_config, str):
                raise ApiError("label_config must be a string of XML", details={"label_config": ["not a string"]})
            converted = spec_from_label_config(label_config)
            if previous is not None:  # keep label ids stable across versions
                converted = normalize_spec(converted, previous=previous)
            return converted, LabelSchemaVersion.Source.LABEL_STUDIO, label_config
        return normalize_spec(label_schema, previous=previous), LabelSchemaVersion.Source.SPEC, ""
    except SpecError as exc:
        field = "label_config" if label_config is not None else "label_schema"
        raise ApiError(f"invalid {field}: {exc.reason} at {exc.path}",
                       details={field: [{"path": exc.path, "reason": exc.reason}]}) from exc


def _settings(value) -> dict:
    try:
        return project_settings.validate(value)
    except project_settings.SettingsError as exc:
        raise ApiError("invalid settings", details={"settings": exc.errors}) from exc


@transaction.atomic
def project_create(
    *,
    organization,
    actor,
    name: str,
    description: str = "",
    instructions: str = "",
    settings: dict | None = None,
    label_schema: dict | None = None,
    label_config: str | None = None,
    request=None,
) -> Project:
    spec, source, xml = _spec_from_input(label_schema=label_schema, label_config=label_config)
    project = Project(
        organization=organization, name=name, description=description, instructions=instructions,
        settings=_settings(settings or {}), schema_version=1, created_by=actor,
    )
    project.full_clean()
    project.save()
    LabelSchemaVersion.objects.create(project=project, version=1, spec=spec, source=source, label_config=xml,
                                      created_by=actor)
    record(action="project.create", organization=organization, actor=actor, object_type="project",
           object_id=project.pk, after={"name": name, "settings": project.settings, "spec": spec},
           data={"name": name, "schema_source": source}, request=request)
    return project


@transaction.atomic
def project_update(*, project: Project, actor, settings: dict | None = None, request=None, **changes) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = {field: getattr(project, field) for field in EDITABLE} | {"settings": project.settings}
    for field in EDITABLE:
        if changes.get(field) is not None:
            setattr(project, field, changes[field])
    if settings is not None:
        if not isinstance(settings, dict):
            raise ApiError("settings must be an object", details={"settings": ["must be an object"]})
        merged = project_settings.merge(project.settings, settings)
        overlap = settings.get("overlap")
        if "max_overlap" not in settings and isinstance(overlap, int) and overlap > merged.get("max_overlap", 0):
            merged["max_overlap"] = overlap  # raising overlap alone lifts the ceiling with it
        project.settings = _settings(merged)
    project.updated_at = timezone.now()
    project.full_clean()
    project.save()
    after = {field: getattr(project, field) for field in EDITABLE} | {"settings": project.settings}
    changed = sorted(key for key in after if after[key] != before[key])
    record(action="project.update", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, before=before, after=after, data={"changed": changed}, request=request)
    if before["settings"] != project.settings:
        signals.project_settings_changed.send(sender=Project, project=project, before=before["settings"],
                                              after=project.settings)
    return project


@transaction.atomic
def project_delete(*, project: Project, actor, request=None) -> Project:
    """Projects are hidden, not erased: their tasks, labels and audit trail stay for the record."""
    if project.deleted_at is None:
        project.deleted_at = timezone.now()
        project.save(update_fields=["deleted_at"])
        record(action="project.delete", organization=project.organization_id, actor=actor, object_type="project",
               object_id=project.pk, data={"name": project.name}, request=request)
    return project


def _check_remap(remap, new_spec) -> dict:
    """`{control: {old: new or null}}` or `{control: null}`; every new label must be in the new spec."""
    if remap in (None, {}):
        return {}
    try:
        validate_remap(new_spec, remap)
    except SpecError as exc:
        raise ApiError(f"invalid remap: {exc.reason} at {exc.path}",
                       details={"remap": [{"path": exc.path, "reason": exc.reason}]}) from exc
    return remap


@transaction.atomic
def schema_version_create(
    *, project: Project, actor, label_schema=None, label_config=None, remap=None, request=None
) -> LabelSchemaVersion:
    """A new schema version; labels in use that it drops need a remap, else 409 labels_in_use."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    current = project.current_schema
    spec, source, xml = _spec_from_input(label_schema=label_schema, label_config=label_config,
                                         previous=current.spec if current else None)
    remap = _check_remap(remap, spec)
    try:
        orphans = {}
        # Scanning stored results is only needed when the change could orphan a label at all:
        # adding labels or controls (the common case) never reads the project's annotations.
        if current and orphaned_labels(current.spec, spec, spec_labels(current.spec), remap):
            in_use = schema_guard.labels_in_use(project=project)
            orphans = orphaned_labels(current.spec, spec, in_use, remap)
    except SpecError as exc:
        raise ApiError(f"invalid remap: {exc.reason}", details={"remap": [exc.as_details()]}) from exc
    if orphans:
        # A dropped control without labels (textarea, rating) in use is listed with label null.
        labels = [{"control": control, "label": label} for control, names in sorted(orphans.items())
                  for label in (names or [None])]
        raise Conflict(
            "labels in use would be orphaned; send a remap for them",
            code="labels_in_use",
            details={"labels": labels},
        )
    version = LabelSchemaVersion.objects.create(
        project=project, version=project.schema_version + 1, spec=spec, source=source, label_config=xml,
        remap=remap, created_by=actor,
    )
    project.schema_version = version.version
    project.updated_at = timezone.now()
    project.save(update_fields=["schema_version", "updated_at"])
    rewritten = {}
    if remap:
        rewritten = schema_guard.apply_remap(project=project, remap=remap, new_version=version, actor=actor)
    record(action="schema.create", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, after={"spec": spec},
           data={"version": version.version, "remap": remap, "rewritten": rewritten}, request=request)
    return version
