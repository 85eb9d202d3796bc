"""When a run must stop because its lease may be gone.

A lease ends `lease_s` after the moment its claim or last renewal was sent. While the
heartbeat keeps failing (the database is out of reach) a run goes on: its lease is
still good, and the database may come back in time. But it must have stopped before
the lease ends, because from then on another worker may rescue the job and run it. So
each job has a deadline, pushed back by each renewal the database confirms, and the
run is stopped when it passes, heartbeat or no heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

# Stop with a tenth of the lease to spare: the stop itself takes a moment, and clocks
# (the worker's and the rescuer's) are never quite the same.
LEASE_USED_BEFORE_STOP = 0.9


class LeaseDeadlines:
    def __init__(self, lease_s: float, on_lapse: Callable[[str], None]) -> None:
        self._lease_s = lease_s
        self._on_lapse = on_lapse
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def renewed(self, job_ids: Iterable[str], sent_at: float) -> None:
        """The database confirmed leases asked for at `sent_at` (the event loop's clock)."""
        loop = asyncio.get_running_loop()
        for job_id in job_ids:
            self.forget(job_id)
            deadline = sent_at + self._lease_s * LEASE_USED_BEFORE_STOP
            self._timers[job_id] = loop.call_at(deadline, self._lapse, job_id)

    def forget(self, job_id: str) -> None:
        """The run ended: nothing to stop any more."""
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()

    def _lapse(self, job_id: str) -> None:
        self._timers.pop(job_id, None)
        self._on_lapse(job_id)
