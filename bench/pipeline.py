"""Pipeline benchmark: how close a course's wall time gets to its critical path.

Runs the default standard course (5 modules × 3 lessons × 3 tasks) on the fake
provider with a fixed latency per call, then the same course strictly sequentially
(one call at a time), and prints calls, wall time, the critical-path lower bound
(longest chain of dependent LLM calls × latency), wall/bound and the speed-up.
Then once more with realistic latency (time to first token + output tokens per
second, published figures for gpt-4.1-mini and -nano).

    python bench/pipeline.py [--latency-ms 200] [--database-url URL] [--no-realistic]
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, where bench/queue.py would
# shadow the standard library's `queue` (which asyncio imports).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from courseforge.domain.outline import CourseOutline, CourseRequest
from courseforge.llm.fake import FakeProvider, LatencyProfile
from courseforge.pipeline import units as plan
from courseforge.pipeline.events import RecordingSink
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database

STANDARD = CourseRequest(topic="Introduction to data engineering")
REALISTIC = {
    "fake-complex": LatencyProfile(first_token_s=0.9, tokens_per_s=77),  # gpt-4.1-mini
    "fake-simple": LatencyProfile(first_token_s=0.6, tokens_per_s=180),  # gpt-4.1-nano
}


@dataclass
class RunResult:
    wall_s: float
    calls: int
    tokens_out: int
    chain: int


async def run_course(settings: Settings, provider: FakeProvider) -> RunResult:
    async with open_runtime(settings, provider=provider) as runtime:
        job_id = await runtime.store.create_course_job(STANDARD)
        started = time.perf_counter()
        await runtime.pipeline(RecordingSink()).run(job_id)
        wall = time.perf_counter() - started
        job = await runtime.store.get_job(job_id)
        assert job.outline is not None
        ctx = plan.PlanContext(job_id, STANDARD, runtime.llm, {}, job.outline)
    return RunResult(wall, job.llm_calls, job.tokens_out, longest_llm_chain(ctx, job.outline))


def longest_llm_chain(ctx: plan.PlanContext, outline: CourseOutline) -> int:
    """Dependent LLM calls on the deepest path: the outline, then the content graph."""
    content = {unit.key: unit for unit in plan.plan_content(ctx)}
    depth: dict[str, int] = {}

    def chain(key: str) -> int:
        if key not in depth:
            depth[key] = 1 + max((chain(need) for need in content[key].needs), default=0)
        return depth[key]

    outline_calls = len(plan.plan_outline(plan.PlanContext("", STANDARD, ctx.llm, {}, None)))
    return outline_calls + max(chain(key) for key in content)


def fresh_settings(base_url: str | None, folder: Path, name: str, concurrency: int) -> Settings:
    url = base_url or f"sqlite:///{folder / name}.db"
    upgrade_database(url)
    return Settings(database_url=url, llm_provider="fake", llm_concurrency=concurrency)


async def main(latency_ms: float, database_url: str | None, realistic: bool) -> None:
    latency = latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        default_concurrency = Settings().llm_concurrency
        fast = await run_course(
            fresh_settings(database_url, folder, "parallel", default_concurrency),
            FakeProvider(latency_ms=latency_ms),
        )
        sequential = await run_course(
            fresh_settings(database_url, folder, "sequential", 1),
            FakeProvider(latency_ms=latency_ms),
        )
        bound = fast.chain * latency
        backend = "PostgreSQL" if database_url else "SQLite"
        print(f"standard course 5×3×3 on {backend}, fake provider, {latency_ms:.0f} ms per call")
        print(f"  LLM calls:                {fast.calls}")
        print(f"  wall (parallel, {default_concurrency} slots): {fast.wall_s:.3f} s")
        print(
            f"  critical path:            {fast.chain} dependent calls × {latency:.3f} s = {bound:.3f} s"
        )
        print(f"  wall / bound:             {fast.wall_s / bound:.2f}  (target ≤ 1.25)")
        print(f"  wall (sequential):        {sequential.wall_s:.3f} s")
        print(f"  speed-up vs sequential:   {sequential.wall_s / fast.wall_s:.1f}×  (target ≥ 6×)")
        if realistic:
            real = await run_course(
                fresh_settings(database_url, folder, "realistic", default_concurrency),
                FakeProvider(profiles=REALISTIC),
            )
            print("realistic latency (0.9 s + 77 tok/s complex; 0.6 s + 180 tok/s simple)")
            print(f"  LLM calls: {real.calls}, output tokens: {real.tokens_out:,}")
            print(f"  wall: {real.wall_s:.1f} s  (target ≤ 60 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--database-url", default=None, help="a migrated-on-the-fly database")
    parser.add_argument("--no-realistic", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.latency_ms, options.database_url, not options.no_realistic))
