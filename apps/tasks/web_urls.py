"""Page URLs of the annotator workspace, under /app/. Names start with `web-` (web-home, web-label, …);
the other apps' page URLs under /app/ follow the same prefix."""

from django.urls import path

from apps.orgs import web as orgs_web
from apps.workforce import me_web

from . import web

urlpatterns = [
    path("", web.my_projects, name="web-home"),
    path("label/<int:project_id>/", web.label, name="web-label"),
    path("tasks/<int:task_id>/media/<str:field>/", web.task_media, name="web-task-media"),
    path("me/stats/", me_web.my_stats, name="web-me-stats"),
    path("me/earnings/", me_web.my_earnings, name="web-me-earnings"),
    path("org/switch/", orgs_web.organization_switch, name="web-org-switch"),
]
