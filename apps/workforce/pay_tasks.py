"""Celery tasks of workforce pay (registered from apps.workforce.pay.ready(); the beat schedule is the lead's)."""

from celery import shared_task


@shared_task(name="workforce.pay_bonuses", ignore_result=True, time_limit=600, soft_time_limit=570)
def pay_bonuses_task():
    """Beat: run every active bonus rule for its period in progress; idempotent (one bonus per rule,
    annotator and period), so a redelivered or overlapping run pays nothing twice."""
    from .pay import bonus_rules_run_all

    return bonus_rules_run_all()
