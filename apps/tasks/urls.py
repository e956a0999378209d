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
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/tasks/bulk/?$", views.ProjectTaskBulkView.as_view(),
            name="project-tasks-bulk"),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/media/?$", views.ProjectMediaView.as_view(),
            name="project-media"),
    re_path(r"^media/(?P<media_id>[0-9]{1,18})/?$", views.MediaFileView.as_view(), name="media-file"),
    *router.urls,
]
