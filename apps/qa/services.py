"""What quality control does when work arrives: statistics, gold scores, consensus, dynamic overlap, rules."""

from apps.tasks.models import Annotation, Assignment, Task
from apps.tasks.services import annotation_route_to_review

from . import annotator_stats, gold, rules
from .task_consensus import task_consensus_update


def annotation_process(*, annotation: Annotation, assignment: Assignment | None) -> None:
    """A submitted (or attached) annotation, inside its transaction."""
    author = annotation.author_id
    if author is None or annotation.source not in (Annotation.Source.HUMAN, Annotation.Source.IMPORT):
        return
    project = annotation.project
    quality, gold_deltas = gold.score_submission(annotation=annotation, assignment=assignment)
    deltas = {"annotations": 1, **gold_deltas}
    if annotation.lead_time_ms is not None:
        deltas.update(lead_time_sum_ms=annotation.lead_time_ms, lead_time_count=1)
    stats = annotator_stats.stats_add(organization_id=annotation.organization_id, project_id=project.pk,
                                      annotator_id=author, reset_skips_in_a_row=True, **deltas)
    collectors = set(rules.ON_SUBMIT)
    if quality is not None:
        collectors |= rules.ON_GOLD
        gold.feedback_send(annotation=annotation, assignment=assignment, quality=quality)
    if assignment is None or assignment.kind == Assignment.Kind.QUEUE:
        if stats.review_all:
            annotation_route_to_review(annotation=annotation)
        task = annotation.task  # the submit hands over the task with its counters as they now are
        if not task.is_gold and task.annotations_count >= task.target_annotations:
            task_consensus_update(task=task, project=project)
    rules.rules_evaluate(project=project, annotator_id=author, collectors=collectors, stats=stats)


def skip_process(*, assignment: Assignment) -> None:
    annotator_stats.stats_add(organization_id=assignment.organization_id, project_id=assignment.project_id,
                              annotator_id=assignment.annotator_id, skips=1, skips_in_a_row=1)
    rules.rules_evaluate(project=assignment.project, annotator_id=assignment.annotator_id,
                         collectors=rules.ON_SKIP)


def review_process(*, annotation: Annotation, decision: str) -> None:
    """A rejected (or fixed) annotation changes what its task's consensus is made of."""
    task = Task.objects.get(pk=annotation.task_id)
    if task.consensus_result is not None or task.annotations_count >= 2:
        task_consensus_update(task=task, project=annotation.project)
