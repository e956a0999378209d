"""Page URLs of the reviewer view and the manager pages, under /app/ (names start with `web-`, as the
workspace's in apps/tasks/web_urls.py). Here, in the rightmost app, so one module may name every app's pages."""

from django.urls import path

from apps.orgs import manage_web as orgs_pages
from apps.projects import web as project_pages
from apps.qa import web as qa_pages
from apps.workforce import manage_web as workforce_pages

from . import web as export_pages

urlpatterns = [
    path("review/", qa_pages.review_projects, name="web-review"),
    path("review/<int:project_id>/", qa_pages.review_project, name="web-review-project"),
    path("projects/", project_pages.project_list, name="web-projects"),
    path("projects/new/", project_pages.project_new, name="web-project-new"),
    path("projects/<int:project_id>/", project_pages.project_dashboard, name="web-project"),
    path("projects/<int:project_id>/import/", project_pages.project_import, name="web-project-import"),
    path("projects/<int:project_id>/quality/", qa_pages.project_quality, name="web-project-quality"),
    path("projects/<int:project_id>/exports/", export_pages.project_exports, name="web-project-exports"),
    path("workforce/", workforce_pages.workforce, name="web-workforce"),
    path("workforce/annotators/<int:member_id>/", workforce_pages.annotator, name="web-workforce-annotator"),
    path("tokens/", orgs_pages.tokens, name="web-tokens"),
    path("audit/", orgs_pages.audit_log, name="web-audit"),
]
