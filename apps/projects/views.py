"""HTTP API of the projects app: /projects and /projects/{id}/schema."""

from django.db.models import JSONField, OuterRef, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.orgs.api import OrgViewSet, validated
from apps.orgs.roles import EVERYONE, MANAGERS

from . import services
from .models import LabelSchemaVersion, Project
from .selectors import access_project, projects_visible, schema_versions
from .serializers import (
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    SchemaCreateSerializer,
    SchemaVersionSerializer,
)


class ProjectViewSet(mixins.ListModelMixin, OrgViewSet):
    queryset = Project.objects.none()
    serializer_class = ProjectSerializer
    filterset_fields = ["status"]
    action_roles = {
        "list": EVERYONE,
        "retrieve": EVERYONE,
        "create": MANAGERS,
        # Object actions check the role after the lookup, so an invisible project is a 404 first.
        "partial_update": EVERYONE,
        "destroy": EVERYONE,
        "versions": EVERYONE,
    }

    def get_queryset(self):
        current = LabelSchemaVersion.objects.filter(project=OuterRef("pk"), version=OuterRef("schema_version"))
        return projects_visible(tenancy=self.tenancy).annotate(
            current_spec=Subquery(current.values("spec")[:1], output_field=JSONField())
        )

    def _project(self, pk):
        return access_project(tenancy=self.tenancy, project_id=pk)

    def _out(self, project):
        return ProjectSerializer(project).data

    def retrieve(self, request, pk=None):
        return Response(self._out(self._project(pk)))

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request):
        data = validated(ProjectCreateSerializer, request.data)
        project = services.project_create(organization=self.tenancy.organization, actor=request.user,
                                           request=request, **data)
        return Response(self._out(project), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def partial_update(self, request, pk=None):
        project = self._project(pk)
        self.require(MANAGERS)
        data = validated(ProjectUpdateSerializer, request.data)
        project = services.project_update(project=project, actor=request.user, request=request, **data)
        return Response(self._out(project))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        project = self._project(pk)
        self.require(MANAGERS)
        services.project_delete(project=project, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["get"], responses=SchemaVersionSerializer(many=True))
    @extend_schema(methods=["post"], request=SchemaCreateSerializer, responses={201: SchemaVersionSerializer})
    @action(detail=True, methods=["get", "post"], url_path="schema")
    def versions(self, request, pk=None):  # not `schema`: that name is DRF's view.schema
        project = self._project(pk)
        if request.method == "GET":
            versions = schema_versions(project=project).select_related("created_by")
            return Response({"results": SchemaVersionSerializer(versions, many=True).data,
                             "next": None, "previous": None})
        self.require(MANAGERS)
        data = validated(SchemaCreateSerializer, request.data)
        version = services.schema_version_create(project=project, actor=request.user, request=request, **data)
        return Response(SchemaVersionSerializer(version).data, status=status.HTTP_201_CREATED)
