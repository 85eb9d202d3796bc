"""What one GET costs the API: server CPU per request, and latency without queueing.

bench/api.py's open-loop latencies measure the server and the machine together; on a
busy shared machine its p95 says more about the neighbours than about the code. This
one sends requests one after another (closed loop, `--concurrency` at once, default 1)
to `courseforge serve --no-worker --workers 1` over the same seeded database, and
reports per endpoint the API process's CPU milliseconds per request (read from /proc:
what a change saves whatever else runs) and the latency p50/p95. With `--profile` it
records the API process with py-spy meanwhile and prints the functions holding the most
samples (inclusive), to say where the time goes.

    python -m bench.api_cost [--database-url URL] [--jobs 10000] [--requests 2000]
                             [--concurrency 1] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.api_http import HttpPool
from bench.api_seed import Population, seed
from bench.api_support import ApiServer, cpu_seconds, drop_database, spread
from bench.queue import recreate_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/courseforge_bench_api_cost"
WARMUP_REQUESTS = 200
TOP_FUNCTIONS = 25
TRUNK_SHARE = 0.6  # a frame in more of the samples than this (of the most) is trunk


def paths_of(population: Population, kind: str, count: int) -> list[tuple[str, str]]:
    rng = random.Random(3)
    if kind == "job":
        picked = [rng.choice(population.jobs) for _ in range(count)]
        return [(f"/api/jobs/{job.id}", job.owner.token) for job in picked]
    return [("/api/jobs?limit=50", rng.choice(population.owners).token) for _ in range(count)]


async def send_all(
    pool: HttpPool, requests: list[tuple[str, str]], concurrency: int
) -> list[float]:
    """Latencies (ms) of `requests`, `concurrency` in flight at a time; fails on a non-200."""
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def lane() -> None:
        while queue:
            path, token = queue.pop()
            started = time.perf_counter()
            status, body = await pool.get(path, {"Authorization": f"Bearer {token}"})
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies


async def measure(
    server: ApiServer, population: Population, options: argparse.Namespace
) -> dict[str, tuple[float, list[float]]]:
    """CPU ms per request and latencies, per kind."""
    address = urlsplit(server.base_url)
    assert address.hostname is not None
    assert address.port is not None
    pool = HttpPool(address.hostname, address.port, options.concurrency, 10.0)
    results = {}
    try:
        for kind in ("job", "list"):
            await send_all(pool, paths_of(population, kind, WARMUP_REQUESTS), options.concurrency)
            requests = paths_of(population, kind, options.requests)
            before = cpu_seconds(server.pid)
            latencies = await send_all(pool, requests, options.concurrency)
            cpu_ms = (cpu_seconds(server.pid) - before) * 1000 / len(requests)
            results[kind] = (cpu_ms, latencies)
    finally:
        pool.close()
    return results


def start_profiler(pid: int, folder: Path) -> tuple[subprocess.Popen[bytes], Path] | None:
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent)
    if py_spy is None:
        print("  py-spy is not installed: no profile (pip install py-spy)")
        return None
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / "profile.txt"
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(output)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, output


def report_profile(output: Path) -> None:
    """Functions by the share of samples they appear in (inclusive) and run themselves
    (own), from py-spy's collapsed stacks (`frame;frame;... count` a line). The frames
    every request passes through (the server's trunk) are left out of the inclusive list."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples, frames = int(count), stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    trunk = max(inclusive.values(), default=0) * TRUNK_SHARE
    branches = Counter({frame: n for frame, n in inclusive.items() if n < trunk})
    for title, counts in (("inclusive, below the trunk", branches), ("own", own)):
        print(f"  profile ({total} samples), {title}:")
        for frame, samples in counts.most_common(TOP_FUNCTIONS):
            print(f"    {100 * samples / max(total, 1):5.1f}%  {frame[:110]}")


async def main(options: argparse.Namespace) -> None:
    url = options.database_url
    recreate_database(url)
    try:
        population = await seed(url, users=100, organizations=4, job_count=options.jobs)
        server = ApiServer(url, workers=1)
        await server.start()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(options.profile_folder or tmp)
            profiler = start_profiler(server.pid, folder) if options.profile else None
            try:
                results = await measure(server, population, options)
            finally:
                await server.stop()
            if profiler is not None:
                profiler[0].wait(timeout=30)
                report_profile(profiler[1])
    finally:
        drop_database(url)
    for kind, label in (("job", "GET /api/jobs/{id}"), ("list", "GET /api/jobs?limit=50")):
        cpu_ms, latencies = results[kind]
        print(
            f"  {label:<24} API CPU {cpu_ms:5.2f} ms/request, "
            f"latency p50/p95/p99 {spread(latencies)} ms ({len(latencies)} requests, "
            f"{options.concurrency} at a time)"
        )


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="py-spy the API meanwhile")
    parser.add_argument("--profile-folder", help="keep py-spy's profile.txt there")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_options()))
