"""What the dashboard's URL asks for: a filter tab, a search, a page cursor.

They live in the query string (`/?status=active&q=tides&cursor=...`) so a link shows the
same view to whoever opens it. A value the page cannot use is a `BadDashboardQueryError` with
a message a person can act on (the page answers 400 with it), never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from courseforge.store.job_listing import MAX_SEARCH_LENGTH

# (status filter, tab label); None is every job.
TABS: tuple[tuple[str | None, str], ...] = (
    (None, "All"),
    ("active", "Active"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
)
TAB_FILTERS = tuple(value for value, _ in TABS if value)


class BadDashboardQueryError(ValueError):
    """A query value the dashboard cannot show; its text is shown on the page."""


@dataclass(frozen=True)
class DashboardQuery:
    status: str | None = None
    search: str | None = None
    cursor: str | None = None

    def url(self, *, status: str | None = None, cursor: str | None = None) -> str:
        """The dashboard's URL for this search with `status` and `cursor` instead."""
        params = {"status": status, "q": self.search, "cursor": cursor}
        query = urlencode({name: value for name, value in params.items() if value})
        return "/" + (f"?{query}" if query else "")

    @property
    def shows_newest_of_all(self) -> bool:
        """Whether a job queued elsewhere belongs at the top of this view."""
        return self.cursor is None and not self.search and self.status in (None, "active")


def parse_query(status: str | None, search: str | None, cursor: str | None) -> DashboardQuery:
    """The query from the URL's raw values; BadDashboardQueryError for one it cannot use (the
    cursor's own shape is checked where it is decoded, by the listing)."""
    if status and status not in TAB_FILTERS:
        raise BadDashboardQueryError(f"Unknown filter “{status[:40]}”: use one of the tabs below.")
    search = (search or "").strip()
    if len(search) > MAX_SEARCH_LENGTH:
        raise BadDashboardQueryError(
            f"The search is too long: at most {MAX_SEARCH_LENGTH} characters."
        )
    return DashboardQuery(status or None, search or None, cursor or None)
