"""Input and output shapes of the exports API."""

from rest_framework import serializers

from .formats import FORMATS
from .models import DatasetSnapshot, Export


class SnapshotInSerializer(serializers.Serializer):
    filter = serializers.ChoiceField(choices=DatasetSnapshot.Filter.values, default="accepted")
    split = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1), required=False,
                                  default=dict)
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**62)
    stratify = serializers.BooleanField(default=False)
    include_gold = serializers.BooleanField(default=False)


class ExportInSerializer(SnapshotInSerializer):
    format = serializers.ChoiceField(choices=sorted(FORMATS))
    snapshot = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    include_media = serializers.BooleanField(default=False)


class SnapshotSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

    class Meta:
        model = DatasetSnapshot
        fields = ["id", "project", "schema_version", "filter", "include_gold", "split", "seed", "stratify", "counts",
                  "checksum", "created_by", "created_at"]
        read_only_fields = fields


class ExportSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "project", "snapshot", "format", "options", "status", "progress", "job", "checksum", "size",
                  "file_name", "counts", "error", "download_url", "created_at", "finished_at"]
        read_only_fields = fields

    def get_progress(self, export) -> float:
        if export.status == Export.Status.SUCCEEDED:
            return 1.0
        return float(export.job.progress) if export.job_id and export.job else 0.0

    def get_download_url(self, export) -> str | None:
        from .services import download_url

        request = self.context.get("request")
        url = download_url(export, request.user) if request is not None else None
        return request.build_absolute_uri(url) if url and request is not None else url
