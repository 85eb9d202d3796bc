"""What the API benchmark's parts share: processes, /proc readings, percentiles, pipes.

The API server and the load-generating clients are separate OS processes, so that the
server's latency is not the client's event loop's: the benchmark starts them, reads
their CPU and memory from /proc, and talks to the clients over stdin/stdout lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


# --- numbers ----------------------------------------------------------------------------


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method); NaN without values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def spread(values: list[float]) -> str:
    """p50/p95/p99 in ms, for a line of output."""
    return "/".join(f"{percentile(values, p):.1f}" for p in (50, 95, 99))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- databases --------------------------------------------------------------------------


def drop_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop {name!r}")
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def sessions_started(url: str) -> int:
    """How many connections PostgreSQL has accepted into this database so far (its
    statistics lag by up to a second)."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (parsed.database,)
        ).fetchone()
    return int(row[0]) if row else 0


# --- /proc --------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces); None once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of the children this process has waited for (ended ones)."""
    fields = _stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS if fields else 0.0


def rss_mib(pid: int) -> float:
    """VmRSS of one process, MiB (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _processes() -> Iterable[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process we may read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            yield int(entry.name), int(stat[stat.rindex(")") + 2 :].split()[1]), name


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (uvicorn's workers are children of `serve`)."""
    children: dict[int, list[int]] = {}
    for pid, parent, _name in _processes():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def postgres_cpu_seconds() -> float:
    """CPU of the local PostgreSQL so far (every database's work, other users' too): its
    live processes, and the backends that ended (a pool that opens and closes
    connections under load), which the postmaster has reaped."""
    procs = [(pid, parent) for pid, parent, name in _processes() if name == "postgres"]
    pids = {pid for pid, _parent in procs}
    postmasters = [pid for pid, parent in procs if parent not in pids]
    return sum(cpu_seconds(pid) for pid in pids) + sum(map(reaped_cpu_seconds, postmasters))


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores together."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


CpuReading = Callable[[], float]


def of_processes(pids: list[int]) -> CpuReading:
    """The CPU seconds of these processes (ones that end meanwhile drop out)."""
    return lambda: sum(map(cpu_seconds, pids))


@dataclass
class CpuWatch:
    """CPU used by groups of processes between start() and stop(), as % of one core;
    "others" is what the rest of the machine used (other tenants of a shared one)."""

    groups: dict[str, CpuReading]
    _before: dict[str, float] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _started: float = 0.0
    shares: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._before = {name: read() for name, read in self.groups.items()}
        self._machine = machine_busy_seconds()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._started
        for name, read in self.groups.items():
            self.shares[name] = max(0.0, 100 * (read() - self._before[name]) / wall)
        busy, total = machine_busy_seconds()
        cores = os.cpu_count() or 1
        machine = 100 * cores * (busy - self._machine[0]) / max(total - self._machine[1], 1e-9)
        self.shares["others"] = max(0.0, machine - sum(self.shares.values()))
        self.shares["machine"] = machine
        return self.shares

    def line(self) -> str:
        cores = os.cpu_count() or 1
        parts = [f"{name} {share:.0f}%" for name, share in self.shares.items()]
        return f"CPU (100% = one core, {cores} cores): " + ", ".join(parts)


def limiter(cpu: CpuWatch, client_lag_p99_ms: float) -> str:
    """Which side bounds a run, in a few words: a lagging client, or the machine's CPU."""
    if client_lag_p99_ms > 20:
        return f"the client (loop lag p99 {client_lag_p99_ms:.0f} ms)"
    cores = os.cpu_count() or 1
    if cpu.shares.get("machine", 0) < 90 * cores:
        return "no CPU saturation"
    shares = {name: share for name, share in cpu.shares.items() if name != "machine"}
    parts = ", ".join(f"{name} {share:.0f}%" for name, share in shares.items())
    return f"CPU, all {cores} cores busy ({parts})"


# --- the API server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ApiServer:
    """`courseforge serve --no-worker` as a separate process, on a free port."""

    database_url: str
    workers: int
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        command = Path(sys.executable).parent / "courseforge"
        args = ["serve", "--no-worker", "--workers", str(self.workers), "--port", str(self.port)]
        env = {
            **os.environ,
            "COURSEFORGE_DATABASE_URL": self.database_url,
            "COURSEFORGE_LLM_PROVIDER": "fake",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = await asyncio.create_subprocess_exec(
            str(command), *args, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.returncode is not None:
                    raise SystemExit(f"the API server exited ({self.process.returncode})")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise SystemExit(f"the API server was not ready within {READY_TIMEOUT_S:.0f} s")

    def api_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's workers, or `serve` itself alone."""
        tree = process_tree(self.pid)
        return tree[1:] if self.workers > 1 and len(tree) > 1 else tree[:1]

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            for pid in reversed(process_tree(self.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            await self.process.wait()


# --- client processes -----------------------------------------------------------------


@dataclass
class Child:
    """A client process (`python -m bench.<module>`) that speaks in lines on stdin/stdout."""

    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls, module: str, *args: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,  # the results come back as one JSON line
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def read_line(self) -> str:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            code = await self.process.wait()
            raise RuntimeError(f"client process {self.pid} ended ({code}) without answering")
        return line.decode().strip()

    async def read_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(await self.read_line())
        return answer

    async def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def answer(payload: dict[str, Any] | str) -> None:
    """A client process's line to the benchmark (stdout is the pipe)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def read_command() -> str:
    """The next line the benchmark sends a client process ('' when the pipe closes)."""
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


@dataclass
class LoopLag:
    """How late this process's event loop wakes a 10 ms timer: a saturated client shows here."""

    interval_s: float = 0.01
    samples: list[float] = field(default_factory=list)  # ms late
    recording: bool = False

    async def run(self) -> None:
        # perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds.
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            if self.recording:
                self.samples.append((time.perf_counter() - before - self.interval_s) * 1000)

    def summary(self) -> dict[str, float]:
        values = self.samples or [0.0]
        return {
            "p50": percentile(values, 50),
            "p99": percentile(values, 99),
            "max": max(values),
        }


def lag_line(lag: dict[str, float]) -> str:
    return f"loop lag p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms, max {lag['max']:.0f} ms"
