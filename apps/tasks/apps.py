from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"
    label = "tasks"
    verbose_name = "Tasks and annotations"

    def ready(self):
        from apps.orgs import demo
        from apps.projects import schema_guard

        from .demo import seed_demo_projects
        from .label_holder import TaskLabels

        schema_guard.register(TaskLabels())
        demo.register(seed_demo_projects)
