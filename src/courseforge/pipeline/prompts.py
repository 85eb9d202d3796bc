"""The messages each unit sends. `Topic:` and `Focus:` lines name what a unit is about."""

from __future__ import annotations

from courseforge.domain.drafts import LessonDraft
from courseforge.domain.outline import CourseOutline, CourseRequest, ModuleOutline, SourceTopic
from courseforge.llm.port import ChatMessage

LESSON_EXCERPT_CHARS = 1500
SYSTEM = (
    "You are an expert instructional designer. You write accurate, concrete, well-structured "
    "course material for the stated audience and level, in the requested language. "
    "Answer with a single JSON object that matches the given schema, and nothing else."
)


def _brief(request: CourseRequest) -> str:
    return (
        f"Topic: {request.topic}\nAudience: {request.audience}\nLevel: {request.level}\n"
        f"Language: {request.language}"
    )


def _course_context(outline: CourseOutline, module: ModuleOutline) -> str:
    return (
        f"Topic: {outline.title}\nAudience: {outline.audience}\nLevel: {outline.level}\n"
        f"Language: {outline.language}\nModule: {module.title} — {module.summary}\n"
        f"Module objectives: {'; '.join(module.learning_objectives)}"
    )


def _key_points(module: ModuleOutline, lessons: list[LessonDraft]) -> str:
    return "Lessons and their key points:\n" + "\n".join(
        f"- {plan.title}: {'; '.join(written.key_points)}"
        for plan, written in zip(module.lessons, lessons, strict=True)
    )


def messages(user: str) -> list[ChatMessage]:
    return [ChatMessage("system", SYSTEM), ChatMessage("user", user)]


def source_topics(request: CourseRequest) -> list[ChatMessage]:
    return messages(
        f"{_brief(request)}\n\nList the distinct topics this source material covers, in the "
        f"order a learner should meet them, each with a one-sentence summary.\n\n"
        f"Source material:\n{request.source_material}"
    )


# Each outline candidate takes its own angle, so that the ones offered side by side differ.
CANDIDATE_ANGLES = (
    ("conventional", "Follow a clear, conventional syllabus."),
    (
        "project-based",
        "Take a different angle than a conventional syllabus: build each module around "
        "something the learner makes.",
    ),
    (
        "problem-first",
        "Take a different angle than a conventional syllabus: open each module with a real "
        "question or case the learner solves.",
    ),
)


def _candidate(request: CourseRequest, number: int, count: int) -> str:
    """`number` of `count` outlines offered to choose from (nothing when there is one)."""
    if count <= 1:
        return ""
    name, angle = CANDIDATE_ANGLES[(number - 1) % len(CANDIDATE_ANGLES)]
    return (
        f"\nFocus: {name} outline of {request.topic}\n"
        f"This is outline candidate {number} of {count}. {angle}"
    )


def outline(
    request: CourseRequest, topics: list[SourceTopic], candidate: tuple[int, int] = (1, 1)
) -> list[ChatMessage]:
    """`candidate`: (number, count) when several alternative outlines are drafted."""
    shape = (
        f"Plan exactly {request.modules} modules with exactly {request.lessons_per_module} "
        "lessons each. Give the course a clear title, a description, and course-level learning "
        "objectives; each module a title, a summary and 2-4 measurable learning objectives; each "
        "lesson a title and 1-3 objectives. Titles must all be different."
    )
    if topics:
        listed = "\n".join(f"{i}. {t.name}: {t.summary}" for i, t in enumerate(topics))
        shape += (
            "\nThe course is built from source material with these topics (cite them in each "
            f"module's source_topic_indexes by number):\n{listed}"
        )
    return messages(f"{_brief(request)}{_candidate(request, *candidate)}\n\n{shape}")


def lesson(outline_: CourseOutline, module: ModuleOutline, index: int) -> list[ChatMessage]:
    item = module.lessons[index]
    return messages(
        f"{_course_context(outline_, module)}\nFocus: {item.title}\n"
        f"Lesson objectives: {'; '.join(item.objectives)}\n\n"
        "Write this lesson's content in Markdown (explanations, an example, a common mistake) "
        "and 2-5 key points a learner should remember."
    )


def _taught(lesson_: LessonDraft) -> str:
    points = "\n".join(f"- {point}" for point in lesson_.key_points)
    excerpt = lesson_.content_markdown[:LESSON_EXCERPT_CHARS]
    return f"What the lesson taught:\n{points}\nLesson text (excerpt):\n{excerpt}"


def tasks(
    outline_: CourseOutline, module: ModuleOutline, index: int, count: int, lesson_: LessonDraft
) -> list[ChatMessage]:
    item = module.lessons[index]
    return messages(
        f"{_course_context(outline_, module)}\nFocus: {item.title}\n"
        f"Lesson objectives: {'; '.join(item.objectives)}\n{_taught(lesson_)}\n\n"
        f"Write exactly {count} practice tasks for this lesson (exercise, reflection, project or "
        "discussion), each with clear instructions, a time estimate and success criteria."
    )


def brain_bytes(
    outline_: CourseOutline, module: ModuleOutline, index: int, lesson_: LessonDraft
) -> list[ChatMessage]:
    item = module.lessons[index]
    return messages(
        f"{_course_context(outline_, module)}\nFocus: {item.title}\n{_taught(lesson_)}\n\n"
        "Write 2-3 brain bytes: self-contained micro-learning facts of one or two sentences "
        "that a learner can read in ten seconds."
    )


def quiz(
    outline_: CourseOutline, module: ModuleOutline, count: int, lessons: list[LessonDraft]
) -> list[ChatMessage]:
    numbered = "\n".join(f"{i}. {o}" for i, o in enumerate(module.learning_objectives))
    return messages(
        f"{_course_context(outline_, module)}\nFocus: {module.title}\n"
        f"{_key_points(module, lessons)}\n\n"
        f"Write a quiz of exactly {count} questions for this module. Mix multiple_choice (4 "
        "options, answer_index = the correct option), true_false and short_answer questions. "
        "Each question checks one objective, given by objective_index, and together they "
        f"should cover every objective:\n{numbered}"
    )


def course_metadata(outline_: CourseOutline) -> list[ChatMessage]:
    modules = "\n".join(f"- {m.title}: {m.summary}" for m in outline_.modules)
    return messages(
        f"Topic: {outline_.title}\nAudience: {outline_.audience}\nLevel: {outline_.level}\n"
        f"Modules:\n{modules}\n\nWrite the course catalogue entry: a two-sentence "
        "description, the prerequisites a learner needs (may be none) and 1-6 short tags."
    )


def module_summary(
    outline_: CourseOutline, module: ModuleOutline, lessons: list[LessonDraft]
) -> list[ChatMessage]:
    return messages(
        f"Topic: {outline_.title}\nFocus: {module.title}\n{_key_points(module, lessons)}\n\n"
        "Write a two-sentence summary of what this module teaches."
    )
