"""Paging of the product lists: the page size, and a paginator for a list whose length is known."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

PAGE_SIZE = 24  # products on a page of a category


class CountedPaginator(Paginator):
    """A Paginator told how many objects there are (counted and cached with the list's other
    figures), so it runs no COUNT query of its own."""

    def __init__(self, object_list, per_page: int, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count
