from django.urls import re_path

from apps.orgs.api import api_router

from . import views

router = api_router()
router.register("tasks", views.TaskViewSet, basename="task")

urlpatterns = [
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/import/?$", views.ProjectImportView.as_view(),
            name="project-import"),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/tasks/?$",
            views.ProjectTaskListView.as_view({"get": "list"}), name="project-tasks"),
    *router.urls,
]
