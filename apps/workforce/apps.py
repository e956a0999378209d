from django.apps import AppConfig

AREAS = ("profiles", "access", "exams", "pay", "performance")


class WorkforceConfig(AppConfig):
    name = "apps.workforce"
    label = "workforce"
    verbose_name = "Crowd workforce"

    def ready(self):
        from importlib import import_module

        # Each area plugs its registries and receivers in from its own module's ready().
        for area in AREAS:
            import_module(f"{self.name}.{area}").ready()
