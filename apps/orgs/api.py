"""The base every organization-scoped API view stands on: tenancy and role resolved before the handler."""

import re

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from rest_framework import permissions, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, DataAndFiles
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from .errors import Forbidden
from .tenancy import Tenancy, resolve_tenancy


class OrgRolePermission(permissions.BasePermission):
    """Resolves the caller's organization and role once, then checks the view's role table."""

    def has_permission(self, request, view):
        if request.method.lower() not in ("head", "options") and getattr(view, request.method.lower(), None) is None:
            return True  # the view answers 405 method_not_allowed
        if not getattr(request, "tenancy", None):
            request.tenancy = resolve_tenancy(request)
        if request.tenancy.role not in view.allowed_roles(request):
            raise Forbidden(f"the {request.tenancy.role} role may not do this")
        return True


class JSONNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, skipped where there is nothing to choose: a view with one renderer and a request
    that takes JSON (no Accept header, */* or application/json) and asks for no ?format. DRF parsed the Accept
    header into media types on every request, 5 % of a `next`'s CPU."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (len(renderers) == 1 and not format_suffix and accept in ("*/*", "application/json", "")
                and self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class OrgScopedMixin:
    """Declare `roles` per HTTP method or `action_roles` per viewset action; anything unlisted is refused."""

    permission_classes = [permissions.IsAuthenticated, OrgRolePermission]
    content_negotiation_class = JSONNegotiation
    roles: dict = {}
    action_roles: dict = {}

    def allowed_roles(self, request):
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        return self.roles.get(method, frozenset())

    @property
    def tenancy(self) -> Tenancy:
        return self.request.tenancy

    def require(self, roles) -> None:
        """For object actions: call after fetching the object, so an invisible one is a 404 first."""
        if self.tenancy.role not in roles:
            raise Forbidden(f"the {self.tenancy.role} role may not do this")


class OrgAPIView(OrgScopedMixin, APIView):
    pass


class UnreadBody(BaseParser):
    """For views that read the request body themselves (imports, media uploads): DRF leaves a raw body unread
    and a multipart one to Django's own parser, so its CSRF check for a session (which reads request.POST)
    neither refuses a multipart or JSONL body with 415 nor consumes the stream the view is about to read; the
    token then comes from the X-CSRFToken header."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        if (media_type or "").startswith("multipart/form-data"):
            request = parser_context["request"]._request  # Django's parser, its upload handlers and limits
            return DataAndFiles(request.POST, request.FILES)
        return DataAndFiles(QueryDict(""), MultiValueDict())


class OrgViewSet(OrgScopedMixin, viewsets.GenericViewSet):
    # Ids are bigints: anything else (or too long for one) is an unknown route, a 404, never a 500.
    lookup_value_regex = r"[0-9]{1,18}"


def validated(serializer_class, data) -> dict:
    """Parse input with a serializer; invalid input raises the 400 validation_error envelope."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def api_router():
    """Routes answer with and without a trailing slash (API.md)."""
    router = SimpleRouter()
    router.trailing_slash = "/?"
    return router


_OPTIONAL_SLASH = re.compile(r"/\?$")


def schema_paths_hook(endpoints):
    """Publish each route once, without the optional trailing slash."""
    seen = set()
    cleaned = []
    for path, path_regex, method, callback in endpoints:
        path = _OPTIONAL_SLASH.sub("", path).replace("/?", "")
        if (path, method) in seen:
            continue
        seen.add((path, method))
        cleaned.append((path, path_regex, method, callback))
    return cleaned
