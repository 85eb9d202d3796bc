"""Writing a course to disk as course.json and course.md."""

from __future__ import annotations

from pathlib import Path

from courseforge.domain.course import Course
from courseforge.export.markdown import course_to_markdown


def write_course_files(course: Course, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "course.json", out_dir / "course.md"
    json_path.write_text(course.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path.write_text(course_to_markdown(course), encoding="utf-8")
    return [json_path, md_path]
