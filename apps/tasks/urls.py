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

from . import queue_views  # noqa: E402

ASSIGNMENT = r"^assignments/(?P<assignment_id>[0-9]{1,18})"
urlpatterns += [
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/next/?$", queue_views.NextView.as_view(), name="project-next"),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/progress/?$", queue_views.ProgressView.as_view(),
            name="project-progress"),
    re_path(rf"{ASSIGNMENT}/submit/?$", queue_views.SubmitView.as_view(), name="assignment-submit"),
    re_path(rf"{ASSIGNMENT}/skip/?$", queue_views.SkipView.as_view(), name="assignment-skip"),
    re_path(rf"{ASSIGNMENT}/release/?$", queue_views.ReleaseView.as_view(), name="assignment-release"),
    re_path(rf"{ASSIGNMENT}/heartbeat/?$", queue_views.HeartbeatView.as_view(), name="assignment-heartbeat"),
    re_path(rf"{ASSIGNMENT}/draft/?$", queue_views.DraftView.as_view(), name="assignment-draft"),
    re_path(rf"{ASSIGNMENT}/report/?$", queue_views.ReportView.as_view(), name="assignment-report"),
    re_path(rf"{ASSIGNMENT}/revoke/?$", queue_views.RevokeView.as_view(), name="assignment-revoke"),
    re_path(r"^tasks/(?P<task_id>[0-9]{1,18})/assign/?$", queue_views.TaskAssignView.as_view(), name="task-assign"),
]

from . import review_views  # noqa: E402

urlpatterns += [
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/reviews/next/?$", review_views.ReviewNextView.as_view(),
            name="project-reviews-next"),
    re_path(r"^reviews/(?P<review_id>[0-9]{1,18})/?$", review_views.ReviewView.as_view(), name="review"),
]

from . import annotation_views  # noqa: E402

ANNOTATION = r"^annotations/(?P<annotation_id>[0-9]{1,18})"
urlpatterns += [
    re_path(rf"{ANNOTATION}/?$", annotation_views.AnnotationView.as_view(), name="annotation"),
    re_path(rf"{ANNOTATION}/history/?$", annotation_views.AnnotationHistoryView.as_view(), name="annotation-history"),
    re_path(rf"{ANNOTATION}/revert/?$", annotation_views.AnnotationRevertView.as_view(), name="annotation-revert"),
    re_path(r"^tasks/(?P<task_id>[0-9]{1,18})/annotations/?$", annotation_views.TaskAnnotationsView.as_view(),
            name="task-annotations"),
    re_path(r"^tasks/(?P<task_id>[0-9]{1,18})/predictions/?$", annotation_views.TaskPredictionsView.as_view(),
            name="task-predictions"),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/predictions/?$", annotation_views.ProjectPredictionsView.as_view(),
            name="project-predictions"),
]
