"""Celery tasks of workforce performance: the nightly promotion proposals (the lead puts it on beat)."""

from celery import shared_task


@shared_task(name="workforce.propose_promotions", ignore_result=True, time_limit=900, soft_time_limit=870)
def propose_promotions_task():
    """Run every active promotion rule; idempotent (an open or lately dismissed proposal is not made again)."""
    from .performance import promotions_propose_all

    return promotions_propose_all()
