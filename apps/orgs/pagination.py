"""Cursor pagination for every list (API.md): `{"results", "next", "previous"}`, page_size up to 1,000."""

from django.conf import settings
from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"

    def __init__(self):
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
