from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "apps.qa"
    label = "qa"
    verbose_name = "Quality control"

    def ready(self):
        from apps.tasks import eligibility, feedback, sources

        from . import receivers  # noqa: F401 - connects them
        from .gold import GoldFeedback, GoldSource
        from .rules import SuspensionRule

        sources.register(GoldSource())
        eligibility.register(SuspensionRule())
        feedback.register(GoldFeedback())
