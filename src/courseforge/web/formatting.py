"""How the pages show a job's facts: its badge, times, durations and money.

Registered as Jinja filters on the one template environment (web/pages.py), so every
page words a status or a duration the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from courseforge.domain.jobs import JobStatus
from courseforge.store.job_view import JobView

STEP_LABELS = {
    "outline": "Generating outline",
    "lessons": "Generating lessons",
    "tasks": "Generating tasks",
    "assessments": "Generating assessments",
    "summaries": "Generating summaries",
    "evaluation": "Evaluating",
    "finalizing": "Finalizing",
}
EVALUATING_STEPS = ("evaluation", "finalizing")


def status_badge(job: JobView) -> tuple[str, str]:
    """(label, CSS class) of a job's badge: grey queued and cancelled, blue generating,
    purple evaluating and finalizing, green completed, red failed."""
    if job.status == JobStatus.RUNNING:
        label = STEP_LABELS.get(job.step or "", "Generating")
        return label, "evaluating" if job.step in EVALUATING_STEPS else "generating"
    return {
        JobStatus.PENDING: ("Queued", "queued"),
        JobStatus.COMPLETED: ("Completed", "completed"),
        JobStatus.FAILED: ("Failed", "failed"),
        JobStatus.CANCELLED: ("Cancelled", "cancelled"),
    }[job.status]


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """ "2 min ago"; an empty string for no time."""
    if moment is None:
        return ""
    seconds = max(0.0, ((now or datetime.now(UTC)) - _aware(moment)).total_seconds())
    if seconds < 60:
        return "just now"
    for unit_s, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= unit_s:
            return f"{int(seconds // unit_s)} {unit} ago"
    return "just now"  # pragma: no cover - every positive duration matched above


def exact_time(moment: datetime | None) -> str:
    """The moment in UTC to the second, for a tooltip and a <time datetime>."""
    return _aware(moment).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso_time(moment: datetime | None) -> str:
    return _aware(moment).isoformat() if moment else ""


def duration(seconds: float | None) -> str:
    """ "1 min 05 s", "42 s", "—" for none."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def money(usd: float | None) -> str:
    """Dollars to the cent, or to four places under a cent (one lesson's calls)."""
    if usd is None:
        return "—"
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


FILTERS = {
    "time_ago": time_ago,
    "exact_time": exact_time,
    "iso_time": iso_time,
    "duration": duration,
    "money": money,
}
