"""Every export format, by name: the one list the API route, the CLI command and the
course page read (a new format is a module with an EXPORTER, added here)."""

from __future__ import annotations

from courseforge.domain.course import Course
from courseforge.export import html, json_format, markdown
from courseforge.export.exporter import Exporter

EXPORTERS: dict[str, Exporter] = {
    module.EXPORTER.name: module.EXPORTER for module in (json_format, markdown, html)
}
FORMAT_NAMES: tuple[str, ...] = tuple(EXPORTERS)


class UnknownFormatError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r}; use one of: {', '.join(FORMAT_NAMES)}")


def exporter(name: str) -> Exporter:
    try:
        return EXPORTERS[name]
    except KeyError:
        raise UnknownFormatError(name) from None


def export(course: Course, name: str) -> tuple[str, Exporter, bytes]:
    """(file name, its format, its bytes) of the course in the named format."""
    chosen = exporter(name)
    return chosen.filename(course), chosen, chosen.write(course)
