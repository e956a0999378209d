"""GET /jobs/{id}: any background job's status, progress and outcome."""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from rest_framework import mixins

from apps.orgs.api import OrgViewSet
from apps.orgs.roles import EVERYONE

from .models import Job
from .selectors import access_job, jobs_visible
from .serializers import JobSerializer
from .worker import worker_is_alive


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgViewSet):
    queryset = Job.objects.none()
    serializer_class = JobSerializer
    action_roles = {"list": EVERYONE, "retrieve": EVERYONE}
    filterset_fields = ["status", "kind"]

    def get_queryset(self):
        return jobs_visible(tenancy=self.tenancy)

    def get_object(self):
        return access_job(tenancy=self.tenancy, job_id=self.kwargs["pk"])


def healthz(request):
    """`GET /healthz`: 200 when everything configured answers, 503 otherwise (API.md)."""
    body, healthy = {}, True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        body["database"] = "ok"
    except Exception:
        body["database"], healthy = "down", False
    if settings.REDIS_URL:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
            body["redis"] = "ok"
        except Exception:
            body["redis"], healthy = "down", False
    else:
        body["redis"] = "not configured"
    try:
        alive = worker_is_alive()
    except Exception:
        alive = False
    body["worker"] = "ok" if alive else "down"
    healthy = healthy and alive
    return JsonResponse(body, status=200 if healthy else 503)
