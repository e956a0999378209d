from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "apps.orgs"
    label = "orgs"
    verbose_name = "Organizations"

    def ready(self):
        from . import receivers, schema  # noqa: F401
