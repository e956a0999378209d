"""Input and output shapes of the projects API."""

from rest_framework import serializers

from .instructions import render_instructions
from .models import LabelSchemaVersion, Project


class SchemaVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

    class Meta:
        model = LabelSchemaVersion
        fields = ["version", "spec", "source", "label_config", "remap", "created_by", "created_at"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    instructions_html = serializers.SerializerMethodField()
    label_schema = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "instructions", "instructions_html", "status", "settings",
                  "schema_version", "label_schema", "created_at", "updated_at"]
        read_only_fields = fields

    def get_instructions_html(self, project) -> str:
        return render_instructions(project.instructions)

    def get_label_schema(self, project) -> dict:
        if hasattr(project, "current_spec"):  # annotated by list views: no query per project
            return project.current_spec or {}
        current = project.current_schema
        return current.spec if current else {}


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    instructions = serializers.CharField(required=False, allow_blank=True, default="", max_length=100_000)
    settings = serializers.JSONField(required=False, default=dict)
    label_schema = serializers.JSONField(required=False, default=None)
    label_config = serializers.CharField(required=False, default=None, trim_whitespace=False)


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    status = serializers.ChoiceField(choices=Project.Status.choices, required=False)
    settings = serializers.JSONField(required=False)


class SchemaCreateSerializer(serializers.Serializer):
    label_schema = serializers.JSONField(required=False, default=None)
    label_config = serializers.CharField(required=False, default=None, trim_whitespace=False)
    remap = serializers.JSONField(required=False, default=None)
