"""Client process of the API benchmark: many SSE clients, each following one job.

Each client opens GET /api/jobs/{id}/events with its owner's Bearer token and counts as
connected once its first (replayed) event arrives: the server subscribes a stream to
the broker before it replays, so from then on the client misses nothing. Events that
carry the benchmark's `benchSeq` are recorded with their delivery latency: the
receive time minus the event's `timestamp` (the writer's clock: the same host's).

    python -m bench.api_streams BASE_URL CLIENTS_JSON OPENING_AT_ONCE

Lines: it prints one JSON line once every stream is open (or failed); it starts
recording its loop lag on `go`, and on `stop` closes the streams and prints the
figures as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from httpx_sse import aconnect_sse

from bench.api_support import LoopLag, answer, read_command

OPEN_TIMEOUT_S = 90.0


@dataclass
class Stream:
    job_id: str
    token: str
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    seqs: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # ms
    failure: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "seqs": self.seqs,
            "latencies": self.latencies,
            "failure": self.failure,
        }


async def follow(client: httpx.AsyncClient, stream: Stream, opening: asyncio.Semaphore) -> None:
    """Follows the stream until cancelled; holds an opening slot until the first event."""
    headers = {"Authorization": f"Bearer {stream.token}"}
    url = f"/api/jobs/{stream.job_id}/events"
    await opening.acquire()
    holding = True
    try:
        async with aconnect_sse(client, "GET", url, headers=headers) as events:
            events.response.raise_for_status()
            async for sse in events.aiter_sse():
                received = time.time()
                if not sse.data:
                    # httpx-sse hands on the heartbeat (a comment) as an empty
                    # message once an id has been seen; a browser would not.
                    continue
                if holding:
                    holding = False
                    opening.release()
                    stream.connected.set()
                record(stream, json.loads(sse.data), received)
            stream.failure = "the stream ended"
    except Exception as error:  # recorded, whatever it is: the other streams go on
        stream.failure = f"{type(error).__name__}: {error}"
    finally:
        if holding:
            opening.release()
        stream.connected.set()


def record(stream: Stream, data: dict[str, Any], received: float) -> None:
    if "benchSeq" not in data:
        return
    sent = datetime.fromisoformat(data["timestamp"]).timestamp()
    stream.seqs.append(int(data["benchSeq"]))
    stream.latencies.append((received - sent) * 1000)


async def open_all(
    client: httpx.AsyncClient, streams: list[Stream], at_once: int
) -> list[asyncio.Task[None]]:
    """Starts every client, `at_once` connecting at a time; returns once all are in."""
    opening = asyncio.Semaphore(at_once)
    tasks = [asyncio.create_task(follow(client, stream, opening)) for stream in streams]
    waits = [stream.connected.wait() for stream in streams]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*waits), timeout=OPEN_TIMEOUT_S)
    return tasks


async def main(base_url: str, pairs: list[list[str]], at_once: int) -> None:
    streams = [Stream(job_id, token) for job_id, token in pairs]
    lag = LoopLag()
    monitor = asyncio.create_task(lag.run())
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(30.0, read=None, pool=None)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        started = time.monotonic()
        tasks = await open_all(client, streams, at_once)
        opened = sum(1 for s in streams if s.failure is None and s.connected.is_set())
        answer({"open": opened, "of": len(streams), "open_s": time.monotonic() - started})
        await wait_for("go")
        lag.recording = True
        await wait_for("stop")
        lag.recording = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    monitor.cancel()
    answer({"streams": [s.as_json() for s in streams], "lag": lag.summary()})


async def wait_for(command: str) -> None:
    while (line := await read_command()) != command:
        if not line:
            raise SystemExit("the benchmark went away")


if __name__ == "__main__":
    url, clients_path, at_once = sys.argv[1:]
    uvloop.run(main(url, json.loads(Path(clients_path).read_text()), int(at_once)))
