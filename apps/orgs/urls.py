from django.urls import re_path

from . import views
from .api import api_router

router = api_router()
router.register("orgs", views.OrganizationViewSet, basename="org")
router.register("members", views.MemberViewSet, basename="member")
router.register("tokens", views.TokenViewSet, basename="token")
router.register("audit", views.AuditViewSet, basename="audit")

urlpatterns = [
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
    *router.urls,
]
