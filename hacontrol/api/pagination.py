"""The API's pages (a module of its own: REST framework imports it from its settings, early)."""

from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    """50 per page, ``?page=N``; ``?page_size=`` up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
