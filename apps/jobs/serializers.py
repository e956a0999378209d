from rest_framework import serializers

from .models import Job


class JobSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "result", "error", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields

    def get_error(self, job) -> str | None:
        return job.error or None
