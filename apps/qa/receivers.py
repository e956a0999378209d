"""How qa reacts to the events of the tasks app."""

from django.dispatch import receiver

from apps.tasks.signals import annotation_submitted, lease_ended, predictions_added, review_decided

from . import outliers, services


@receiver(annotation_submitted)
def on_annotation_submitted(sender, annotation, assignment, actor, **kwargs):
    services.annotation_process(annotation=annotation, assignment=assignment)


@receiver(lease_ended)
def on_lease_ended(sender, assignment, reason, **kwargs):
    if reason == "skipped":
        services.skip_process(assignment=assignment)


@receiver(review_decided)
def on_review_decided(sender, review, annotation, decision, **kwargs):
    if decision != "accept":
        services.review_process(annotation=annotation, decision=decision)


@receiver(predictions_added)
def on_predictions_added(sender, project, scores, **kwargs):
    outliers.predictions_flag(project=project, scores=scores)
