from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"
    label = "tasks"
    verbose_name = "Tasks and annotations"

    def ready(self):
        from django.urls import re_path

        from apps.live import routing
        from apps.orgs import demo
        from apps.projects import schema_guard

        from . import receivers  # noqa: F401 - connects them
        from .consumers import ProjectConsumer
        from .demo import seed_demo_projects
        from .label_holder import TaskLabels

        schema_guard.register(TaskLabels())
        demo.register(seed_demo_projects)
        routing.register(re_path(r"^ws/projects/(?P<project_id>[0-9]{1,18})/$", ProjectConsumer.as_asgi()))
