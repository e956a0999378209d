"""Output shapes of the workforce's access API (`GET /me/projects`)."""

from rest_framework import serializers


class BlockedSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="suspended, daily_cap_reached, project_paused, permission_denied, …")
    message = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)


class MyProgressSerializer(serializers.Serializer):
    tasks_remaining = serializers.IntegerField(help_text="tasks of the project still open (new, in progress, "
                                                         "rejected)")
    annotations_remaining = serializers.IntegerField(help_text="annotations the project still needs")
    annotations_today = serializers.IntegerField(help_text="your queue annotations since UTC midnight")
    annotations_total = serializers.IntegerField(help_text="all your queue annotations in the project")
    daily_cap = serializers.IntegerField(allow_null=True)


class MyProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    progress = MyProgressSerializer()
    can_start = serializers.BooleanField(help_text="whether `next` would serve you now")
    blocked = BlockedSerializer(allow_null=True, help_text="why not, when can_start is false")
