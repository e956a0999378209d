from django.urls import re_path

from apps.orgs.api import api_router

from . import views

router = api_router()
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    re_path(r"^healthz/?$", views.healthz, name="api-healthz"),
    *router.urls,
]
