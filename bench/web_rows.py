"""(r) of bench/web.py: how soon a dashboard row shows a job's progress after its commit.

chromium (Playwright, Debian's binary) shows the viewer's dashboard; a MutationObserver in
the page notes the wall-clock time at which each running job's row first shows a new
"<done>/<total> units" count. This process writes the progress as a worker does: the
job's count and its `step_progress` event in one transaction (the trigger NOTIFYs the
API). Each write is stamped just before its transaction begins, so the latency includes
the commit itself. Browser and benchmark share the host's clock.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import async_playwright

from bench.api_support import REPO_ROOT, percentile, spread, verdict
from courseforge.domain.events import JobEvent
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import job_events, jobs
from courseforge.web.sessions import SESSION_COOKIE

EVENTS_PER_S = 4.0
DURATION_S = 15.0
DRAIN_S = 3.0
SCREENSHOTS = REPO_ROOT / "screenshots"
# Records, per job row, the first time each progress count appears in it.
OBSERVER = """
(jobIds) => {
  window.__rowSeen = {};
  const pattern = /(\\d+)\\/\\d+ units/;
  const look = () => {
    const now = performance.timeOrigin + performance.now();
    for (const id of jobIds) {
      const row = document.getElementById("job-" + id);
      const found = row && pattern.exec(row.textContent);
      if (!found) continue;
      const seen = (window.__rowSeen[id] ||= {});
      if (!(found[1] in seen)) seen[found[1]] = now;
    }
  };
  new MutationObserver(look).observe(document.body, {
    subtree: true, childList: true, characterData: true,
  });
  look();
}
"""


@dataclass
class RowFigures:
    latencies: list[float] = field(default_factory=list)  # ms, commit stamp → row shows it
    written: int = 0
    missed: int = 0
    stream_requests: int = 0


async def measure_row_updates(url: str, base_url: str, viewer: Any) -> RowFigures:
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed: run scripts/ensure-chromium.sh")
    figures = RowFigures()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        context = await browser.new_context()
        host = base_url.removeprefix("http://").split(":")[0]
        await context.add_cookies(
            [{"name": SESSION_COOKIE, "value": viewer.cookie, "domain": host, "path": "/"}]
        )
        page = await context.new_page()
        page.on(
            "request",
            lambda request: setattr(
                figures, "stream_requests", figures.stream_requests + ("/api/events" in request.url)
            ),
        )
        async with page.expect_response(lambda response: "/api/events" in response.url):
            await page.goto(base_url + "/")
        await page.evaluate(OBSERVER, viewer.running)
        stamps = await write_progress(url, viewer.running)
        await asyncio.sleep(DRAIN_S)  # a benchmark's drain window, not a synchronisation
        seen: dict[str, dict[str, float]] = await page.evaluate("window.__rowSeen")
        # The README's picture of a busy dashboard: one topic's jobs, in every state.
        await page.goto(base_url + "/?q=Baroque")
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "bench-dashboard.png")
        await browser.close()
    for (job_id, count), stamp in stamps.items():
        shown = seen.get(job_id, {}).get(str(count))
        figures.written += 1
        if shown is None:
            figures.missed += 1
        else:
            figures.latencies.append(shown - stamp)
    return figures


async def write_progress(url: str, job_ids: list[str]) -> dict[tuple[str, int], float]:
    """Round-robin progress over the jobs at EVENTS_PER_S; the stamp (ms since the epoch)
    of each (job, count) written."""
    stamps: dict[tuple[str, int], float] = {}
    settings = Settings(database_url=url, llm_provider="fake")
    async with open_runtime(settings) as runtime:
        start = time.perf_counter()
        for seq in range(int(EVENTS_PER_S * DURATION_S)):
            await asyncio.sleep(max(0.0, start + seq / EVENTS_PER_S - time.perf_counter()))
            job_id = job_ids[seq % len(job_ids)]
            count = seq // len(job_ids) + 1
            event = JobEvent(
                type="step_progress",
                job_id=job_id,
                timestamp=datetime.now(UTC),
                fields={"step": "lessons", "completed": count, "total": 1000},
            )
            stamps[(job_id, count)] = time.time() * 1000
            async with runtime.database.transaction() as conn:
                await conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(items_completed=count)
                )
                await conn.execute(
                    job_events.insert().values(
                        job_id=job_id,
                        type=event.type,
                        created_at=event.timestamp,
                        payload=event.fields,
                    )
                )
    return stamps


def report_rows(figures: RowFigures, target_ms: float) -> None:
    rate = f"{EVENTS_PER_S:.0f} events/s for {DURATION_S:.0f} s"
    print(f"(r) dashboard row updates in chromium: 20 running jobs, {rate}")
    print(
        f"    commit -> row shows it p50/p95/p99 {spread(figures.latencies)} ms;"
        f" {figures.written} written, {figures.missed} never shown;"
        f" {figures.stream_requests} event-stream request(s) by the page"
    )
    p95 = percentile(figures.latencies, 95)
    ok = p95 <= target_ms and figures.missed == 0
    print(f"    target: p95 <= {target_ms:.0f} ms, none missed: {verdict(ok)}")
