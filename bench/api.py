"""API benchmark on PostgreSQL: GET latency under a fixed request rate, and SSE fan-out.

(g) GET load. A fresh database holds 10,000 jobs in plausible states (bulk-inserted rows,
    never run) of 100 users in 4 organizations, with a token each. `courseforge serve
    --no-worker --workers 2` runs as its own process; a separate client process sends
    GET /api/jobs/{id} and GET /api/jobs?limit=50 (half each, the owners' tokens) at a
    fixed arrival rate (open loop: latency counts from each request's scheduled start)
    of 300 req/s for 20 s after a 3 s warm-up; then, for 8 s each, higher rates while
    p95 ≤ 25 ms holds, or lower ones until it does (the highest rate held is printed).
    The client is a lean keep-alive one (bench/api_http.py): httpx would spend more CPU
    than the server on this 2-core machine.
(s) SSE fan-out. `serve --no-worker --workers 1`; 2,000 clients in 4 client processes
    follow 200 running jobs (10 each). This process appends step_progress events to
    those jobs as a worker does (JobStore.append_events; the trigger NOTIFYs the API,
    whose broker fans out) at 20 events/s for 20 s, each stamped just before its
    insert; delivery latency = receive time − that stamp (one host, one clock). Every
    client must receive every event of its job once: missing and duplicates are counted.

CPU is read from /proc for the API, PostgreSQL, the clients and the whole machine
(100% = one core; "others" is the rest of a shared machine), and each client process
reports its event loop's lag, so the output says which side saturates. The database is
dropped at the end; the benchmark reports and always exits 0.

    python -m bench.api [--database-url URL] [--rate 300] [--steps 450,600,900]
                        [--sse-clients 2000] [--sse-processes 4] [--phases gs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.api_seed import Population, SeededJob, seed
from bench.api_support import (
    ApiServer,
    Child,
    CpuReading,
    CpuWatch,
    drop_database,
    lag_line,
    limiter,
    of_processes,
    percentile,
    postgres_cpu_seconds,
    rss_mib,
    sessions_started,
    spread,
    verdict,
)
from bench.queue import recreate_database
from courseforge.domain.events import JobEvent
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.job_store import JobStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/courseforge_bench_api"
GET_P95_MS = 25.0
SSE_P95_MS = 250.0
ENDPOINTS = {"job": "GET /api/jobs/{id}", "list": "GET /api/jobs?limit=50"}
DRAIN_S = 3.0  # after the last event, before the clients stop: later is counted missing


# --- (g) GET load -------------------------------------------------------------------------


@dataclass
class GetRun:
    rate: float
    duration_s: float
    figures: dict[str, dict[str, Any]]
    lag: dict[str, float]
    start_lag: list[float]
    cpu: CpuWatch
    sessions: int  # PostgreSQL connections opened in the window

    def p95(self, kind: str) -> float:
        latencies: list[float] = self.figures[kind]["latencies"]
        return percentile(latencies, 95)

    def achieved(self, kind: str | None = None) -> float:
        kinds = [kind] if kind else list(ENDPOINTS)
        done: int = sum(self.figures[k]["finished_in_window"] for k in kinds)
        return done / self.duration_s

    def errors(self) -> int:
        return sum(sum(self.figures[k]["errors"].values()) for k in ENDPOINTS)

    def held(self) -> bool:
        """p95 within target for both, ≥ 95% of the rate achieved, under 1% errors."""
        requests = sum(len(self.figures[k]["latencies"]) for k in ENDPOINTS) + self.errors()
        return (
            all(self.p95(k) <= GET_P95_MS for k in ENDPOINTS)
            and self.achieved() >= 0.95 * self.rate
            and self.errors() <= 0.01 * max(requests, 1)
        )


async def drive_get(
    server: ApiServer, targets: Path, rate: float, warmup_s: float, duration_s: float
) -> GetRun:
    args = [server.base_url, str(targets), str(rate), str(warmup_s), str(duration_s)]
    child = await Child.start("bench.api_load", *args)
    try:
        if await child.read_line() != "warm":
            raise RuntimeError("the load process did not start its window")
        cpu = CpuWatch(
            {
                "API": of_processes(server.api_pids()),
                "PostgreSQL": postgres_cpu_seconds,
                "load client": of_processes([child.pid]),
            }
        )
        cpu.start()
        sessions = await asyncio.to_thread(sessions_started, server.database_url)
        await child.read_line()  # cool
        cpu.stop()
        sessions = await asyncio.to_thread(sessions_started, server.database_url) - sessions
        result = await child.read_json()
    finally:
        await child.finish()
    figures, lag, start_lag = result["figures"], result["lag"], result["start_lag"]
    return GetRun(rate, duration_s, figures, lag, start_lag, cpu, sessions)


def report_get_run(run: GetRun) -> None:
    print(f"  at {run.rate:.0f} req/s scheduled ({run.duration_s:.0f} s measured):")
    for kind, label in ENDPOINTS.items():
        figures = run.figures[kind]
        latencies = figures["latencies"]
        errors = figures["errors"]
        detail = f" {errors}" if errors else ""
        print(
            f"    {label:<24} requests {len(latencies) + sum(errors.values()):>5}, "
            f"errors {sum(errors.values())}{detail}, achieved {run.achieved(kind):5.1f} req/s, "
            f"p50/p95/p99 {spread(latencies)} ms"
        )
    print(f"    {run.cpu.line()}")
    print(f"    PostgreSQL connections opened meanwhile: {run.sessions}")
    print(
        f"    load client: {lag_line(run.lag)}; "
        f"send delay behind schedule p99 {percentile(run.start_lag, 99):.1f} ms"
    )


def write_targets(population: Population, folder: Path) -> Path:
    path = folder / "targets.json"
    targets = {
        "jobs": [[job.id, job.owner.token] for job in population.jobs],
        "tokens": [owner.token for owner in population.owners],
    }
    path.write_text(json.dumps(targets))
    return path


@dataclass
class GetOutcome:
    base: GetRun
    steps: list[GetRun] = field(default_factory=list)

    def highest_held(self) -> float | None:
        held = [run.rate for run in [self.base, *self.steps] if run.held()]
        return max(held) if held else None


async def phase_get(url: str, population: Population, options: argparse.Namespace) -> GetOutcome:
    print(
        f"(g) GET load: {len(population.jobs):,} jobs of {len(population.owners)} users, "
        "serve --no-worker --workers 2, open-loop client in its own process"
    )
    with tempfile.TemporaryDirectory() as tmp:
        targets = write_targets(population, Path(tmp))
        server = ApiServer(url, workers=2)
        await server.start()
        try:
            base = await drive_get(
                server, targets, options.rate, options.warmup_s, options.duration_s
            )
            report_get_run(base)
            outcome = GetOutcome(base)
            # Above the target while it holds; below it, until one holds, when it does not.
            for rate in options.steps if base.held() else options.steps_down:
                step = await drive_get(server, targets, rate, 2.0, options.step_s)
                report_get_run(step)
                outcome.steps.append(step)
                if step.held() != base.held():
                    break
        finally:
            await server.stop()
    highest = outcome.highest_held()
    tried = ", ".join(f"{run.rate:.0f}" for run in [base, *outcome.steps])
    shown = f"{highest:.0f} req/s" if highest else "none"
    print(
        f"  highest rate held (p95 ≤ {GET_P95_MS:.0f} ms, ≥ 95% achieved): {shown} (tried {tried})"
    )
    return outcome


# --- (s) SSE fan-out ------------------------------------------------------------------


@dataclass
class Delivery:
    expected: int = 0
    delivered: int = 0
    missing: int = 0
    duplicated: int = 0
    failed_streams: int = 0
    latencies: list[float] = field(default_factory=list)  # from the stamp before the append
    after_commit: list[float] = field(default_factory=list)  # from the append's return
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class SseOutcome:
    clients: int
    opened: int = 0
    open_s: float = 0.0
    open_cpu: CpuWatch | None = None
    connections_seen: int = 0
    rss_before: float = 0.0
    rss_open: float = 0.0
    rss_after: float = 0.0
    events_written: int = 0
    write_ms: list[float] = field(default_factory=list)
    delivery: Delivery = field(default_factory=Delivery)
    lags: list[dict[str, float]] = field(default_factory=list)
    cpu: CpuWatch | None = None


def assign_clients(
    population: Population, jobs: int, per_job: int, processes: int
) -> tuple[list[SeededJob], list[list[list[str]]]]:
    running = population.running()[:jobs]
    if len(running) < jobs:
        print(f"  only {len(running)} running jobs were seeded; using them all")
    clients = [[job.id, job.owner.token] for job in running for _ in range(per_job)]
    return running, [clients[index::processes] for index in range(processes)]


async def start_stream_clients(
    server: ApiServer, shares: list[list[list[str]]], folder: Path, at_once: int
) -> list[Child]:
    children = []
    for index, share in enumerate(shares):
        path = folder / f"clients-{index}.json"
        path.write_text(json.dumps(share))
        args = [server.base_url, str(path), str(at_once)]
        children.append(await Child.start("bench.api_streams", *args))
    return children


def cpu_watch(server: ApiServer, children: list[Child], **more: CpuReading) -> CpuWatch:
    groups = {"API": of_processes([server.pid]), "PostgreSQL": postgres_cpu_seconds}
    clients = of_processes([child.pid for child in children])
    return CpuWatch({**groups, "clients": clients, **more})


async def open_connections(server: ApiServer) -> int:
    """What the API process itself counts as open streams (its Prometheus gauge)."""
    token = os.environ.get("COURSEFORGE_METRICS_TOKEN")  # the server shares this environment
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, headers=headers) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("courseforge_sse_connections "):
            return int(float(line.split()[1]))
    return -1


async def write_events(
    store: JobStore, jobs: list[SeededJob], rate: float, duration_s: float
) -> tuple[dict[str, set[int]], list[float]]:
    """step_progress events at a fixed rate, round-robin over the jobs, one a transaction
    as a worker's checkpoint writes them. Each is stamped just before its append (so its
    latency includes the append's own round trips). The seqs written per job, and each
    append's duration in ms."""
    loop = asyncio.get_running_loop()
    order = random.Random(5).sample(jobs, len(jobs))
    written: dict[str, set[int]] = {job.id: set() for job in jobs}
    durations = []
    start = loop.time()
    for seq in range(int(rate * duration_s)):
        await asyncio.sleep(max(0.0, start + seq / rate - loop.time()))
        job = order[seq % len(order)]
        fields = {"step": "lessons", "completed": seq // len(order), "total": 99, "benchSeq": seq}
        began = time.perf_counter()
        event = JobEvent(
            type="step_progress", job_id=job.id, timestamp=datetime.now(UTC), fields=fields
        )
        await store.append_events([event])
        durations.append((time.perf_counter() - began) * 1000)
        written[job.id].add(seq)
    return written, durations


def tally(
    results: list[dict[str, Any]], written: dict[str, set[int]], write_ms: list[float]
) -> Delivery:
    """Deliveries against what was written; `write_ms` is each append's duration, by seq."""
    delivery = Delivery()
    for result in results:
        for stream in result["streams"]:
            expected = written[stream["job"]]
            got = Counter(stream["seqs"])
            delivery.expected += len(expected)
            delivery.delivered += len(got.keys() & expected)
            delivery.missing += len(expected - got.keys())
            delivery.duplicated += sum(n - 1 for n in got.values() if n > 1)
            delivery.latencies.extend(stream["latencies"])
            pairs = zip(stream["seqs"], stream["latencies"], strict=True)
            delivery.after_commit.extend(latency - write_ms[seq] for seq, latency in pairs)
            if stream["failure"]:
                delivery.failed_streams += 1
                delivery.failures[stream["failure"][:80]] += 1
    return delivery


async def open_all_streams(server: ApiServer, children: list[Child], outcome: SseOutcome) -> None:
    outcome.open_cpu = cpu_watch(server, children)
    outcome.open_cpu.start()
    started = time.monotonic()
    opened = await asyncio.gather(*(child.read_json() for child in children))
    outcome.open_s = time.monotonic() - started
    outcome.open_cpu.stop()
    outcome.opened = sum(answer["open"] for answer in opened)
    outcome.connections_seen = await open_connections(server)
    outcome.rss_open = rss_mib(server.pid)


async def fan_out(
    server: ApiServer,
    children: list[Child],
    jobs: list[SeededJob],
    options: argparse.Namespace,
    outcome: SseOutcome,
) -> None:
    """Writes the events while the clients listen, then collects what they received."""
    settings = Settings(database_url=options.database_url, llm_provider="fake")
    outcome.cpu = cpu_watch(server, children, writer=of_processes([os.getpid()]))
    async with open_runtime(settings) as runtime:
        for child in children:
            await child.say("go")
        outcome.cpu.start()
        written, outcome.write_ms = await write_events(
            runtime.store, jobs, options.sse_rate, options.sse_duration_s
        )
        await asyncio.sleep(DRAIN_S)
        outcome.cpu.stop()
    outcome.rss_after = rss_mib(server.pid)
    for child in children:
        await child.say("stop")
    results = [await child.read_json() for child in children]
    outcome.events_written = sum(len(seqs) for seqs in written.values())
    outcome.delivery = tally(results, written, outcome.write_ms)
    outcome.lags = [result["lag"] for result in results]


async def phase_sse(population: Population, options: argparse.Namespace) -> SseOutcome:
    per_job = options.sse_clients // options.sse_jobs
    jobs, shares = assign_clients(population, options.sse_jobs, per_job, options.sse_processes)
    outcome = SseOutcome(clients=sum(len(share) for share in shares))
    print(
        f"(s) SSE fan-out: {outcome.clients:,} clients on {len(jobs)} running jobs, "
        f"{options.sse_processes} client processes, serve --no-worker --workers 1, "
        f"{options.sse_rate:.0f} events/s for {options.sse_duration_s:.0f} s"
    )
    server = ApiServer(options.database_url, workers=1)
    children: list[Child] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            await server.start()
            outcome.rss_before = rss_mib(server.pid)
            children = await start_stream_clients(server, shares, Path(tmp), options.sse_opening)
            await open_all_streams(server, children, outcome)
            await fan_out(server, children, jobs, options, outcome)
        finally:
            for child in children:
                with contextlib.suppress(ConnectionError):
                    await child.say("stop")
                await child.finish()
            await server.stop()
    return outcome


def report_sse(outcome: SseOutcome) -> None:
    delivery = outcome.delivery
    print(
        f"  streams open: {outcome.opened:,}/{outcome.clients:,} in {outcome.open_s:.1f} s "
        f"(the API counts {outcome.connections_seen:,})"
    )
    if outcome.open_cpu is not None:
        print(f"    while opening: {outcome.open_cpu.line()}")
    write_ms = outcome.write_ms
    print(
        f"  events written: {outcome.events_written} (append p50/p95 "
        f"{percentile(write_ms, 50):.1f}/{percentile(write_ms, 95):.1f} ms, "
        f"max {max(write_ms, default=0):.0f} ms)"
    )
    print(
        f"  deliveries: {delivery.delivered:,}/{delivery.expected:,} expected, "
        f"missing {delivery.missing}, duplicated {delivery.duplicated}"
    )
    if delivery.failed_streams:
        failures = dict(delivery.failures)
        print(f"  streams that failed or ended: {delivery.failed_streams} {failures}")
    slowest = max(delivery.latencies, default=0)
    print(f"  delivery latency p50/p95/p99: {spread(delivery.latencies)} ms, max {slowest:.0f} ms")
    after = delivery.after_commit
    late = sum(1 for latency in after if latency > 1000)
    print(
        f"    of which after the append returned: {spread(after)} ms, "
        f"max {max(after, default=0):.0f} ms; {late} later than 1 s"
    )
    per_stream = (outcome.rss_open - outcome.rss_before) * 1024 / max(outcome.opened, 1)
    print(
        f"  API RSS: {outcome.rss_before:.0f} MiB before, {outcome.rss_open:.0f} MiB with the "
        f"streams open, {outcome.rss_after:.0f} MiB after the events (~{per_stream:.0f} KiB a stream)"
    )
    if outcome.cpu is not None:
        print(f"    while writing: {outcome.cpu.line()}")
    for index, lag in enumerate(outcome.lags):
        print(f"  client process {index}: {lag_line(lag)}")


# --- summary ----------------------------------------------------------------------------

Row = tuple[str, str, str, str]


def get_rows(get: GetOutcome) -> list[Row]:
    base = get.base
    rows = []
    for kind, label in ENDPOINTS.items():
        p95 = base.p95(kind)
        target = f"≤ {GET_P95_MS:.0f} ms"
        rows.append(
            (
                f"{label} p95 at {base.rate:.0f}/s",
                f"{p95:.1f} ms",
                target,
                verdict(p95 <= GET_P95_MS),
            )
        )
    achieved = base.achieved()
    held = verdict(achieved >= 0.95 * base.rate)
    rows.append(("GET rate achieved", f"{achieved:.0f} req/s", f"{base.rate:.0f} req/s", held))
    rows.append(("GET errors", str(base.errors()), "0", verdict(base.errors() == 0)))
    highest = get.highest_held()
    shown = f"{highest:.0f} req/s" if highest else "none held"
    rows.append(("highest GET rate held", shown, "(reported)", ""))
    return rows


def sse_rows(sse: SseOutcome) -> list[Row]:
    delivery = sse.delivery
    p95 = percentile(delivery.latencies, 95)
    complete = delivery.missing == delivery.duplicated == 0 and sse.opened == sse.clients
    counts = (
        f"{delivery.delivered:,}/{delivery.expected:,} ({delivery.missing}/{delivery.duplicated})"
    )
    return [
        (
            f"SSE delivery p95, {sse.opened:,} streams",
            f"{p95:.0f} ms",
            f"≤ {SSE_P95_MS:.0f} ms",
            verdict(p95 <= SSE_P95_MS),
        ),
        ("SSE delivered (missing/dup)", counts, "all, once", verdict(complete)),
        (
            "API RSS before / with streams",
            f"{sse.rss_before:.0f} / {sse.rss_open:.0f} MiB",
            "(reported)",
            "",
        ),
    ]


def limits(get: GetOutcome | None, sse: SseOutcome | None) -> list[str]:
    lines = []
    if get is not None:
        lines.append(f"GET at {get.base.rate:.0f}/s: {limiter(get.base.cpu, get.base.lag['p99'])}")
    if sse is not None and sse.open_cpu is not None and sse.cpu is not None:
        lag = max((lag["p99"] for lag in sse.lags), default=0.0)
        lines.append(f"SSE opening: {limiter(sse.open_cpu, 0.0)}")
        lines.append(f"SSE fan-out: {limiter(sse.cpu, lag)}")
    return lines


def summary(get: GetOutcome | None, sse: SseOutcome | None) -> None:
    rows = (get_rows(get) if get else []) + (sse_rows(sse) if sse else [])
    print("summary")
    width = max(len(row[0]) for row in rows)
    for name, value, target, result in rows:
        print(f"  {name:<{width}}  {value:>20}  {target:>10}  {result}")
    for line in limits(get, sse):
        print(f"  limited by: {line}")


async def main(options: argparse.Namespace) -> None:
    url = options.database_url
    started = time.monotonic()
    recreate_database(url)
    try:
        population = await seed(
            url, users=options.users, organizations=options.organizations, job_count=options.jobs
        )
        print(
            f"seeded {len(population.jobs):,} jobs and {len(population.owners)} users in {time.monotonic() - started:.1f} s"
        )
        get = await phase_get(url, population, options) if "g" in options.phases else None
        sse = None
        if "s" in options.phases:
            sse = await phase_sse(population, options)
            report_sse(sse)
        summary(get, sse)
    finally:
        drop_database(url)
    print(f"total {time.monotonic() - started:.0f} s")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--organizations", type=int, default=4)
    parser.add_argument("--rate", type=float, default=300.0, help="(g) requests/s, both endpoints")
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument(
        "--steps",
        type=lambda text: [float(v) for v in text.split(",") if v],
        default=[450.0, 600.0, 900.0],
        help="(g) higher rates tried while p95 holds ('' for none)",
    )
    parser.add_argument(
        "--steps-down",
        type=lambda text: [float(v) for v in text.split(",") if v],
        default=[200.0, 150.0, 100.0],
        help="(g) lower rates tried, when the target rate does not hold, until one does",
    )
    parser.add_argument("--step-s", type=float, default=8.0)
    parser.add_argument("--sse-clients", type=int, default=2000)
    parser.add_argument("--sse-jobs", type=int, default=200)
    parser.add_argument("--sse-processes", type=int, default=4)
    parser.add_argument(
        "--sse-opening", type=int, default=100, help="streams connecting at once, per process"
    )
    parser.add_argument("--sse-rate", type=float, default=20.0, help="events/s")
    parser.add_argument("--sse-duration-s", type=float, default=20.0)
    parser.add_argument("--phases", default="gs", help="g (GET load), s (SSE fan-out)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_options()))
