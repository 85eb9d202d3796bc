"""What an export format is: a name, a media type, a file extension and a writer.

Each format is a small module that defines its `EXPORTER`; export/registry.py lists
them, and the API route and the CLI command look a format up there by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from courseforge.domain.course import Course


@dataclass(frozen=True)
class Exporter:
    name: str  # what `format=` takes
    label: str  # what a person reads: "Markdown"
    media_type: str  # with its charset when it is text
    extension: str
    write: Callable[[Course], bytes]

    def filename(self, course: Course) -> str:
        return f"{course.slug}.{self.extension}"
