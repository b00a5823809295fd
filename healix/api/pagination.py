"""Cursor pagination for every list of the REST API: stable under inserts (a page never
shifts because rows were added before it), cheap at any depth (no OFFSET scans)."""

from rest_framework.pagination import CursorPagination

__all__ = ["ApiCursorPagination"]


class ApiCursorPagination(CursorPagination):
    """`?limit=` (1 to 500, default 100) and an opaque `cursor`; `next` and `previous` are the
    URLs of the neighbouring pages. The view's `cursor_ordering` orders the list: its first
    field is the position, the last makes it unique."""

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = ("-created_at", "id")

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)
