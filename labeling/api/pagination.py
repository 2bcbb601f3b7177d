"""Cursor pagination on every list: opaque cursors, stable while rows are inserted."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    # Lists order by an immutable, unique column so a cursor never skips or repeats a row;
    # views may allow `?ordering=id` or `-id` through OrderingFilter.
    ordering = "-id"
