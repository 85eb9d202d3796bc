"""A small valid course for the export and page tests, its texts chosen by the test."""

from __future__ import annotations

from courseforge.domain.course import (
    TRUE_FALSE_OPTIONS,
    Assessment,
    Course,
    Lesson,
    Module,
    Question,
    Task,
)

LESSON_MARKDOWN = """## Why it matters

Plants make **sugar** from light.

- Light is absorbed
- Water is split

| Input | Output |
|---|---|
| CO2 | sugar |
"""


def sample_course(
    *,
    title: str = "Photosynthesis basics",
    lesson_markdown: str = LESSON_MARKDOWN,
    key_point: str = "Light drives the reaction",
    prompt: str = "Which gas do plants take in?",
) -> Course:
    objectives = ["Explain photosynthesis", "Name its inputs"]
    lesson = Lesson(
        title="Light and leaves",
        objectives=["Explain photosynthesis"],
        content_markdown=lesson_markdown,
        key_points=[key_point],
        brain_bytes=["Leaves are green because of chlorophyll"],
        tasks=[
            Task(
                title="Watch a leaf",
                type="exercise",
                instructions="Put a leaf in water under a lamp and count the bubbles.",
                estimated_minutes=15,
                success_criteria=["Counted bubbles for five minutes"],
            )
        ],
    )
    questions = [
        Question(
            type="multiple_choice",
            prompt=prompt,
            options=["Oxygen", "Carbon dioxide", "Nitrogen"],
            answer_index=1,
            explanation="Plants fix carbon dioxide into sugar.",
            objective=objectives[1],
        ),
        Question(
            type="true_false",
            prompt="Photosynthesis needs light.",
            options=list(TRUE_FALSE_OPTIONS),
            answer_index=0,
            explanation="Light splits water.",
            objective=objectives[0],
        ),
    ]
    module = Module(
        title="How plants eat",
        summary="Where a plant's sugar comes from.",
        learning_objectives=objectives,
        lessons=[lesson],
        assessment=Assessment(questions=questions),
    )
    return Course(
        title=title,
        slug="photosynthesis-basics",
        description="A short course on how plants turn light into sugar.",
        audience="curious adults",
        level="beginner",
        estimated_hours=1.5,
        learning_objectives=objectives,
        modules=[module],
    )
