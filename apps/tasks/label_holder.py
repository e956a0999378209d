"""The tasks app's plug-in for `projects.schema_guard`: labels in annotations, predictions and gold."""

from django.utils import timezone

from apps.projects.label_spec import remap_result, result_labels

from .models import Annotation, AnnotationVersion, Flag, Prediction, Task
from .queue import tasks_reopened

CHUNK = 2000


def _merge(into: dict[str, set[str]], more: dict[str, set[str]]) -> None:
    for control, labels in more.items():
        into.setdefault(control, set()).update(labels)


class TaskLabels:
    name = "tasks"

    def labels_in_use(self, *, project) -> dict[str, set[str]]:
        spec = project.current_schema.spec
        used: dict[str, set[str]] = {}
        for result in Annotation.objects.filter(project=project).values_list("result", flat=True).iterator(CHUNK):
            _merge(used, result_labels(spec, result))
        for result in Prediction.objects.filter(project=project).values_list("result", flat=True).iterator(CHUNK):
            _merge(used, result_labels(spec, result))
        gold = Task.objects.filter(project=project, gold_result__isnull=False).values_list("gold_result", flat=True)
        for result in gold.iterator(CHUNK):
            _merge(used, result_labels(spec, result))
        return used

    def apply_remap(self, *, project, remap, new_version, actor) -> int:
        """Rewrite results under the new schema; annotations get a new version, so history keeps the old."""
        spec, now, changed = new_version.spec, timezone.now(), 0
        annotations = Annotation.objects.filter(project=project).only("id", "result", "version", "schema_version")
        for annotation in annotations.iterator(CHUNK):
            result = remap_result(spec, annotation.result, remap)
            if result == annotation.result:
                continue
            annotation.result, annotation.version = result, annotation.version + 1
            annotation.schema_version, annotation.updated_at = new_version.version, now
            annotation.save(update_fields=["result", "version", "schema_version", "updated_at"])
            AnnotationVersion.objects.create(
                annotation=annotation, version=annotation.version, result=result, author=actor,
                schema_version=new_version.version, reason=f"label remap to schema v{new_version.version}",
            )
            changed += 1
        for prediction in Prediction.objects.filter(project=project).only("id", "result").iterator(CHUNK):
            result = remap_result(spec, prediction.result, remap)
            if result != prediction.result:
                Prediction.objects.filter(pk=prediction.pk).update(result=result,
                                                                   schema_version=new_version.version)
                changed += 1
        gold = Task.objects.filter(project=project, gold_result__isnull=False).only("id", "gold_result")
        reopened = []
        for task in gold.iterator(CHUNK):
            result = remap_result(spec, task.gold_result, remap)
            if result == [] and task.gold_result:
                # Every label of the answer was deleted: an empty gold would fail everyone. The task becomes an
                # ordinary one again, and the managers are told.
                Task.objects.filter(pk=task.pk).update(gold_result=None, is_gold=False, updated_at=now)
                Flag.objects.create(organization_id=project.organization_id, project_id=project.pk, task_id=task.pk,
                                    kind="gold_removed", reason=f"schema v{new_version.version} deleted every label "
                                                                "of its gold answer; it is no longer gold")
                reopened.append(task.pk)
                changed += 1
            elif result != task.gold_result:
                Task.objects.filter(pk=task.pk).update(gold_result=result, updated_at=now)
                changed += 1
        tasks_reopened(project_id=project.pk, task_ids=reopened)
        return changed
