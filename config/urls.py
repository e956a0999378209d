"""URL map: pages, allauth, the REST API under /api/v1/, its OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.jobs.views import healthz
from apps.orgs import web as orgs_web
from apps.orgs.admin_site import tenant_admin_site
from apps.orgs.errors import page_not_found
from apps.workforce import profiles_web as workforce_web

api_v1 = [
    path("", include("apps.orgs.urls")),
    path("", include("apps.jobs.urls")),
    path("", include("apps.projects.urls")),
    path("", include("apps.tasks.urls")),
    path("", include("apps.qa.urls")),
    path("", include("apps.workforce.urls")),
    path("", include("apps.exports.urls")),
]

urlpatterns = [
    path("", orgs_web.home, name="home"),
    path("app/", include("apps.tasks.web_urls")),  # annotator workspace, my stats/earnings, org switch
    path("app/admin/", tenant_admin_site.urls),  # the tenant-scoped admin (apps/orgs/admin_site.py)
    path("app/", include("apps.exports.web_urls")),  # reviewer view and manager pages
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:key>/", orgs_web.invitation_accept, name="invitation_accept"),
    path("join/<str:key>/", workforce_web.onboarding_join, name="onboarding_join"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^healthz/?$", healthz, name="healthz"),
    # Unknown API routes answer with the error envelope even when DEBUG is on.
    re_path(r"^api/", page_not_found),
]

handler400 = "apps.orgs.errors.bad_request"
handler403 = "apps.orgs.errors.permission_denied"
handler404 = "apps.orgs.errors.page_not_found"
handler500 = "apps.orgs.errors.server_error"
