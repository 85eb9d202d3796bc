"""Running caps out of the way, for tests about something else (claim order, exclusivity)."""

UNCAPPED: dict[str, int] = {
    "max_running_student": 10_000,
    "max_running_teacher": 10_000,
    "max_running_admin": 10_000,
    "max_running_per_organization": 10_000,
    "max_running_total": 10_000,
}
