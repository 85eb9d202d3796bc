"""Surviving database outages: which errors mean the database is out of reach, and the
one backoff every long-running loop (claims, heartbeats, sweeps, LISTEN readers) uses
while something it needs keeps failing.

A loop that meets an error waits (exponentially longer, with jitter so that the
workers of a fleet do not all knock at once) and tries again, for as long as it takes.
An outage is logged twice, when it starts and when it ends, however many tries fail
in between: a database that is down for a minute writes two warnings per loop, not
a line per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy import exc as sa_exc

from courseforge.logs import get_logger

_log = get_logger(__name__)


@dataclass(frozen=True)
class BackoffPolicy:
    initial_s: float = 0.1
    max_s: float = 5.0


def is_database_unreachable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or the connection died
    (not that a statement was wrong): the work that met it is worth trying again."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(
        error,
        sa_exc.TimeoutError | psycopg.OperationalError | psycopg.InterfaceError | OSError,
    )


def describe(error: BaseException) -> str:
    """One line: the error's type and the first line of its message (drivers write
    several, with hints and the statement)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Backoff:
    """One loop's retries while a dependency fails: waits that double from
    `policy.initial_s` up to `policy.max_s`, each drawn from its upper half."""

    def __init__(self, loop: str, policy: BackoffPolicy, **context: object) -> None:
        self._log = _log.bind(loop=loop, **context)
        self._policy = policy
        self._failures = 0
        self._since = 0.0

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def failed(self, error: BaseException) -> float:
        """Counts a failed try (logging the first of an outage); returns the wait
        before the next one."""
        if self._failures == 0:
            self._since = time.monotonic()
            self._log.warning("loop_failing", error=describe(error), note="retrying")
        else:
            self._log.debug("loop_still_failing", error=describe(error))
        self._failures += 1
        ceiling = min(self._policy.max_s, self._policy.initial_s * 2 ** (self._failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    def succeeded(self) -> None:
        """A try worked: logs the end of the outage, if there was one."""
        if self._failures:
            down_s = round(time.monotonic() - self._since, 1)
            self._log.warning("loop_recovered", failed_tries=self._failures, after_s=down_s)
        self._failures = 0

    async def wait_after(self, error: BaseException, stop: asyncio.Event) -> bool:
        """`failed`, then waits its delay or until `stop`; says whether `stop` was set."""
        return await _stopped_within(stop, self.failed(error))


async def repeat_every(
    interval_s: float,
    step: Callable[[], Awaitable[object]],
    backoff: Backoff,
    stop: asyncio.Event,
    *,
    first_wait_s: float | None = None,
) -> None:
    """Runs `step` every `interval_s` (the first time after `first_wait_s`, by default an
    interval) until `stop`; after a failed step, the next try comes after the backoff's
    wait, if that is sooner."""
    wait_s = interval_s if first_wait_s is None else first_wait_s
    while not await _stopped_within(stop, wait_s):
        try:
            await step()
        except Exception as error:  # the database is away (or a bug): try again
            wait_s = min(interval_s, backoff.failed(error))
            continue
        backoff.succeeded()
        wait_s = interval_s


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
