from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "kind", "status", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("status", "kind")
