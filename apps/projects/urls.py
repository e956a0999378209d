from apps.orgs.api import api_router

from . import views

router = api_router()
router.register("projects", views.ProjectViewSet, basename="project")

urlpatterns = router.urls
