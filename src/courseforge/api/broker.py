"""One event broker per API process: it fans a job's new events out to every stream.

Streams never query the database while they wait. The broker learns that a job has
news from a hint — PostgreSQL's NOTIFY (a trigger on job_events; any host's worker) or
this process's own worker — and then fetches what is new for every watched job in one
query, and hands it to each subscriber. A periodic sweep does the same without a hint,
which covers SQLite workers in other processes and notifications lost while the
listener reconnected.

Viewer-wide streams (`GET /api/events`: every job a user may see) ride on the same
query: while one is open, a hint for any job, or the sweep, also fetches every job's
events after the newest one the feed has handed out, with each event's owner and
organization, and each viewer gets those it may see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from courseforge.domain.accounts import User
from courseforge.domain.events import JobEvent
from courseforge.store.database import Database
from courseforge.store.event_feed import FeedEvent, news
from courseforge.store.outages import Backoff, BackoffPolicy

NumberedEvent = tuple[int, JobEvent]


@dataclass(eq=False)
class Subscription:
    job_id: str
    events: asyncio.Queue[NumberedEvent] = field(default_factory=asyncio.Queue)


@dataclass(eq=False)
class ViewerSubscription:
    viewer: User
    events: asyncio.Queue[NumberedEvent] = field(default_factory=asyncio.Queue)


class EventBroker:
    def __init__(
        self,
        database: Database,
        *,
        sweep_interval_s: float,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        self._database = database
        self._sweep_interval_s = sweep_interval_s
        self._retries = Backoff("event_broker", backoff or BackoffPolicy())
        self._subscribers: dict[str, set[Subscription]] = {}
        self._last_seen: dict[str, int] = {}  # per watched job: the newest id fanned out
        self._dirty: set[str] = set()
        self._viewers: set[ViewerSubscription] = set()
        self._feed_after: int | None = None  # while viewers watch: the newest id handed out
        self._feed_due = False
        self._news = asyncio.Event()

    @property
    def connections(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values()) + len(self._viewers)

    @asynccontextmanager
    async def subscribe(self, job_id: str, after_id: int) -> AsyncIterator[Subscription]:
        """Events of `job_id` from now on (the caller replays older ones from the store).

        Subscribe before replaying: whatever commits in between then reaches the queue,
        and the subscriber drops ids it has already sent.
        """
        subscription = Subscription(job_id)
        self._subscribers.setdefault(job_id, set()).add(subscription)
        self._last_seen.setdefault(job_id, after_id)
        try:
            yield subscription
        finally:
            watchers = self._subscribers.get(job_id, set())
            watchers.discard(subscription)
            if not watchers:
                self._subscribers.pop(job_id, None)
                self._last_seen.pop(job_id, None)

    @asynccontextmanager
    async def subscribe_viewer(
        self, viewer: User, after_id: int
    ) -> AsyncIterator[ViewerSubscription]:
        """Events of every job `viewer` may see from now on; as `subscribe`, the caller
        replays those after `after_id` from the store once subscribed."""
        subscription = ViewerSubscription(viewer)
        self._viewers.add(subscription)
        if self._feed_after is None:
            self._feed_after = after_id
        try:
            yield subscription
        finally:
            self._viewers.discard(subscription)
            if not self._viewers:
                self._feed_after = None
                self._feed_due = False

    def job_changed(self, job_id: str) -> None:
        """A hint that `job_id` has new events (cheap; ignored when nobody watches it)."""
        if job_id in self._subscribers:
            self._dirty.add(job_id)
        elif not self._viewers:
            return
        self._feed_due = bool(self._viewers)
        self._news.set()

    def everything_changed(self) -> None:
        self._all_due()
        self._news.set()

    def _all_due(self) -> None:
        self._dirty.update(self._subscribers)
        self._feed_due = bool(self._viewers)

    async def run(self, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        next_sweep = time.monotonic() + self._sweep_interval_s
        try:
            while not stop.is_set():
                await self._next_round(stopping, next_sweep - time.monotonic())
                if time.monotonic() >= next_sweep:  # on a schedule, however busy hints are
                    self._all_due()
                    next_sweep = time.monotonic() + self._sweep_interval_s
                if (self._dirty or self._feed_due) and not stop.is_set():
                    await self._fan_out_safely(stopping)
        finally:
            stopping.cancel()

    async def _next_round(self, stopping: asyncio.Task[bool], wait_s: float) -> None:
        """Waits for a hint, the stop, or the sweep's time."""
        news = asyncio.create_task(self._news.wait())
        await asyncio.wait(
            {news, stopping}, timeout=max(0.0, wait_s), return_when=asyncio.FIRST_COMPLETED
        )
        news.cancel()
        self._news.clear()

    async def _fan_out_safely(self, stopping: asyncio.Task[bool]) -> None:
        watched = {job: self._last_seen[job] for job in self._dirty if job in self._last_seen}
        feed_after = self._feed_after if self._feed_due else None
        self._dirty.clear()
        self._feed_due = False
        try:
            await self._fan_out(watched, feed_after)
        except Exception as error:  # the database is away: no stream ends, they wait
            self._dirty.update(watched)  # fetched again on the next try
            self._feed_due = self._feed_due or feed_after is not None
            await asyncio.wait({stopping}, timeout=self._retries.failed(error))
            return
        self._retries.succeeded()

    async def _fan_out(self, watched: dict[str, int], feed_after: int | None) -> None:
        for item in await news(self._database, watched, feed_after):
            # Only jobs fetched in full this round: the feed's rows of a job not fetched
            # may skip some of its events that its own hint will bring.
            if item.event.job_id in watched:
                self._to_job_watchers(item)
            if feed_after is not None:
                self._to_viewers(item)

    def _to_job_watchers(self, item: FeedEvent) -> None:
        job = item.event.job_id
        if job not in self._last_seen or item.id <= self._last_seen[job]:
            return
        self._last_seen[job] = item.id
        for subscription in self._subscribers.get(job, ()):
            subscription.events.put_nowait((item.id, item.event))

    def _to_viewers(self, item: FeedEvent) -> None:
        if self._feed_after is None or item.id <= self._feed_after:
            return  # the last viewer left during the fetch, or already handed out
        self._feed_after = item.id
        for subscription in self._viewers:
            if item.seen_by(subscription.viewer):
                subscription.events.put_nowait((item.id, item.event))


class BrokerSink:
    """The in-process worker's events reach the broker at once (SQLite has no NOTIFY)."""

    def __init__(self, broker: EventBroker) -> None:
        self._broker = broker

    async def publish(self, event: JobEvent) -> None:
        self._broker.job_changed(event.job_id)
