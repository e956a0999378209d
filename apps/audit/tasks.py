"""Celery tasks of the audit app."""

from celery import shared_task

from .services import audit_seal


@shared_task(name="audit.seal", ignore_result=True, time_limit=300, soft_time_limit=270)
def audit_seal_task():
    return audit_seal()
