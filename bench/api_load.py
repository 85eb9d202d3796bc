"""Client process of the API benchmark: GET load at a fixed arrival rate (open loop).

Requests start on a fixed schedule whether or not earlier ones have answered, so a slow
server meets a growing queue, as it would with real users; a request's latency runs
from its scheduled start (no coordinated omission: time spent waiting for a free
connection, or for this loop, counts). Even requests read one job's snapshot with its
owner's token, odd ones the first page of a random user's job list.

    python -m bench.api_load BASE_URL TARGETS_JSON RATE WARMUP_S DURATION_S

It prints `warm` when the measured window opens, `cool` when it closes, then one JSON
line with the figures of the requests scheduled inside the window.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop

from bench.api_http import HttpPool
from bench.api_support import LoopLag, answer

KINDS = ("job", "list")
MAX_CONNECTIONS = 256
TIMEOUT_S = 10.0


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)  # ms, answered 200
    errors: Counter[str] = field(default_factory=Counter)  # status code or exception
    finished_in_window: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "errors": dict(self.errors),
            "finished_in_window": self.finished_in_window,
        }


@dataclass
class Schedule:
    start: float
    warmup_s: float
    duration_s: float

    def measured(self, moment: float) -> bool:
        return self.start + self.warmup_s <= moment < self.start + self.warmup_s + self.duration_s


@dataclass
class Load:
    client: HttpPool
    targets: dict[str, Any]
    schedule: Schedule
    rng: random.Random = field(default_factory=lambda: random.Random(3))
    figures: dict[str, Figures] = field(default_factory=lambda: {k: Figures() for k in KINDS})
    start_lag: list[float] = field(default_factory=list)  # ms from schedule to sending

    def request_of(self, kind: str) -> tuple[str, str]:
        if kind == "job":
            job_id, token = self.rng.choice(self.targets["jobs"])
            return f"/api/jobs/{job_id}", token
        return "/api/jobs?limit=50", self.rng.choice(self.targets["tokens"])

    async def one(self, kind: str, scheduled: float) -> None:
        path, token = self.request_of(kind)
        measured = self.schedule.measured(scheduled)
        if measured:
            self.start_lag.append((time.perf_counter() - scheduled) * 1000)
        figures = self.figures[kind]
        try:
            status, _body = await self.client.get(path, {"Authorization": f"Bearer {token}"})
            outcome = "ok" if status == 200 else str(status)
        except Exception as error:  # counted, whatever it is: the load goes on
            outcome = f"{type(error).__name__}: {error}"[:100]
        finished = time.perf_counter()
        if self.schedule.measured(finished):
            figures.finished_in_window += outcome == "ok"
        if not measured:
            return
        if outcome == "ok":
            figures.latencies.append((finished - scheduled) * 1000)
        else:
            figures.errors[outcome] += 1


async def drive(load: Load, rate: float, lag: LoopLag) -> None:
    schedule = load.schedule
    total = int(rate * (schedule.warmup_s + schedule.duration_s))
    window_open = False
    running: set[asyncio.Task[None]] = set()
    for index in range(total):
        scheduled = schedule.start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not window_open and schedule.measured(scheduled):
            window_open = lag.recording = True
            answer("warm")
        task = asyncio.create_task(load.one(KINDS[index % 2], scheduled))
        running.add(task)
        task.add_done_callback(running.discard)
    end = schedule.start + schedule.warmup_s + schedule.duration_s
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    lag.recording = False
    answer("cool")
    await asyncio.gather(*running)


async def main(
    base_url: str, targets: dict[str, Any], rate: float, warmup_s: float, duration_s: float
) -> None:
    address = urlsplit(base_url)
    assert address.hostname is not None
    assert address.port is not None
    client = HttpPool(address.hostname, address.port, MAX_CONNECTIONS, TIMEOUT_S)
    lag = LoopLag()
    monitor = asyncio.create_task(lag.run())
    load = Load(client, targets, Schedule(time.perf_counter() + 0.2, warmup_s, duration_s))
    await drive(load, rate, lag)
    client.close()
    monitor.cancel()
    answer(
        {
            "figures": {kind: load.figures[kind].as_json() for kind in KINDS},
            "lag": lag.summary(),
            "start_lag": load.start_lag,
        }
    )


if __name__ == "__main__":
    url, targets_path, *numbers = sys.argv[1:]
    rate, warmup_s, duration_s = map(float, numbers)
    uvloop.run(main(url, json.loads(Path(targets_path).read_text()), rate, warmup_s, duration_s))
