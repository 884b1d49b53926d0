"""The HTML lists' paginator (the API's is clinic/pagination.py)."""

from functools import cached_property

from django.core.paginator import Paginator

COUNT_CAP = 10_000


def requested_page(number) -> int:
    """The page number asked for, or 1 for anything that is not one (as Paginator.get_page reads it)."""
    try:
        return max(int(number), 1)
    except (TypeError, ValueError):
        return 1


class CappedPaginator(Paginator):
    """Counts the rows only up to COUNT_CAP, or to the end of the page asked for if that is later; past
    that, the list says "more than 10,000" instead of an exact count. An exact COUNT(*) over a
    50,000-patient clinic was a quarter of the patient list's time (issue 11), and nobody pages through
    2,000 pages. Searches and filtered tabs, which match fewer rows, keep their exact count.

    `to_count`, if given, is a query with the same rows as object_list that is cheaper to count
    (selectors.patient_search_to_count)."""

    def __init__(self, object_list, per_page, *, number=None, count=None, to_count=None):
        super().__init__(object_list, per_page)
        self.to_count = to_count
        self.counted_up_to = max(COUNT_CAP, requested_page(number) * per_page)
        if count is not None:
            # The caller knows the exact count (the referral queue's tab counts): no query, and no cap.
            self.count = count
            self.counted_up_to = max(self.counted_up_to, count)

    @cached_property
    def count(self) -> int:
        # One row past the limit tells "more" from "exactly"; the order is not needed to count.
        rows = self.object_list.order_by() if self.to_count is None else self.to_count
        return rows[: self.counted_up_to + 1].count()

    @property
    def is_capped(self) -> bool:
        """True when there are more rows than were counted: `count` is then a lower bound, one past
        `counted_up_to`, so the next page's link still shows."""
        return self.count > self.counted_up_to


def capped_page(object_list, per_page: int, number, *, count=None, to_count=None):
    return CappedPaginator(object_list, per_page, number=number, count=count, to_count=to_count).get_page(number)
