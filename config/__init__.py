"""Quorum's Django project package (named `config`, not `platform`: see README)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
