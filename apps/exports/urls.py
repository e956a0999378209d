from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/exports/?$", views.ProjectExportsView.as_view(),
            name="project-exports"),
    re_path(r"^exports/(?P<export_id>[0-9]{1,18})/?$", views.ExportView.as_view(), name="export"),
    re_path(r"^exports/(?P<export_id>[0-9]{1,18})/download/?$", views.ExportDownloadView.as_view(),
            name="export-download"),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/snapshots/?$", views.ProjectSnapshotsView.as_view(),
            name="project-snapshots"),
    re_path(r"^snapshots/(?P<snapshot_id>[0-9]{1,18})/?$", views.SnapshotView.as_view(), name="snapshot"),
]
