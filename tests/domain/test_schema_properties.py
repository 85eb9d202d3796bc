"""Properties of the schemas, checked over generated input."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from courseforge.domain.course import TRUE_FALSE_OPTIONS, Question, Slug
from courseforge.domain.drafts import (
    BrainBytesDraft,
    CourseMetadataDraft,
    LessonDraft,
    ModuleSummaryDraft,
    SourceTopicsDraft,
    TaskDraft,
    outline_draft,
    quiz_draft,
    task_set_draft,
)
from courseforge.domain.text import Paragraph, Phrase, Title, normalized, slugify
from courseforge.llm.schema_sample import sample_instance

MODEST = settings(max_examples=150, deadline=None)
ROUND_TRIP = settings(max_examples=100, deadline=None)

DRAFT_TYPES: list[type[BaseModel]] = [
    SourceTopicsDraft,
    outline_draft(2, 3),
    outline_draft(3, 2, 4),
    LessonDraft,
    TaskDraft,
    task_set_draft(3),
    BrainBytesDraft,
    quiz_draft(4, 3),
    quiz_draft(6, 1),
    CourseMetadataDraft,
    ModuleSummaryDraft,
]

# The same definition of "has words" as courseforge.domain.text._has_words.
HAS_WORDS = re.compile(r"[^\W_]", re.UNICODE)
# Text a person may type: no control characters but line breaks and tabs, no surrogates.
PRINTABLE = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=[chr(c) for c in range(0x20) if c not in (9, 10, 13)],
).filter(lambda c: not (0x7F <= ord(c) <= 0x9F))


# ...and on one line: no line breaks (of any kind) or tabs.
ONE_LINE = PRINTABLE.filter(lambda c: c not in "\t\n\r\u2028\u2029")


def _printable_oracle(text: str) -> bool:
    return all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\t\n\r" for c in text)


def _one_line_oracle(text: str) -> bool:
    return _printable_oracle(text) and len(text.splitlines()) <= 1 and "\t" not in text


# Python's str.isspace() counts these four as whitespace; pydantic's strip does not.
INFORMATION_SEPARATORS = "\x1c\x1d\x1e\x1f"

subjects = st.text(max_size=300)


# --- (a) sampled drafts round-trip -------------------------------------------------------


@pytest.mark.parametrize("draft_type", DRAFT_TYPES, ids=lambda t: t.__name__)
@ROUND_TRIP
@given(subject=subjects)
def test_a_sampled_draft_validates_and_round_trips(
    draft_type: type[BaseModel], subject: str
) -> None:
    instance = sample_instance(draft_type.model_json_schema(), subject)

    draft = draft_type.model_validate_json(json.dumps(instance))

    assert draft_type.model_validate_json(draft.model_dump_json()) == draft


# --- (b) generated questions -------------------------------------------------------------


def _valid(adapter: TypeAdapter[str], text: str) -> str | None:
    try:
        return adapter.validate_python(text)
    except ValidationError:
        return None


def _text_of(
    adapter: TypeAdapter[str], min_size: int, max_size: int, alphabet: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """Arbitrary texts the adapter accepts unchanged: a letter or digit at each end."""
    edge = st.characters(categories=["L", "Nd"])
    middle = st.text(alphabet, min_size=min_size - 2, max_size=max_size - 2)
    return st.builds(lambda a, m, b: adapter.validate_python(a + m + b), edge, middle, edge)


phrases = _text_of(TypeAdapter(Phrase), 2, 40, ONE_LINE)
paragraphs = _text_of(TypeAdapter(Paragraph), 10, 80, PRINTABLE)


@st.composite
def questions(draw: st.DrawFn) -> Question:
    kind = draw(st.sampled_from(["multiple_choice", "true_false", "short_answer"]))
    fields: dict[str, Any] = {
        "type": kind,
        "prompt": draw(paragraphs),
        "explanation": draw(paragraphs),
        "objective": draw(phrases),
    }
    if kind == "multiple_choice":
        options = draw(st.lists(phrases, min_size=3, max_size=6, unique_by=normalized))
        fields |= {"options": options, "answer_index": draw(st.integers(0, len(options) - 1))}
    elif kind == "true_false":
        fields |= {"options": list(TRUE_FALSE_OPTIONS), "answer_index": draw(st.integers(0, 1))}
    else:
        fields |= {"answer": draw(paragraphs)}
    return Question.model_validate(fields)


@MODEST
@given(question=questions())
def test_a_question_round_trips_through_json(question: Question) -> None:
    assert Question.model_validate_json(question.model_dump_json()) == question


@MODEST
@given(question=questions())
def test_an_answer_index_one_past_the_options_is_always_rejected(question: Question) -> None:
    broken = {**question.model_dump(), "answer_index": len(question.options)}

    with pytest.raises(ValidationError, match="answer_index"):
        Question.model_validate(broken)


# --- (c) text types as an oracle ---------------------------------------------------------


def _title_oracle(text: str) -> bool:
    stripped = text.strip()
    return (
        3 <= len(stripped) <= 120
        and HAS_WORDS.search(text) is not None
        and _one_line_oracle(stripped)
    )


def _accepted(adapter: TypeAdapter[str], text: str) -> bool:
    return _valid(adapter, text) is not None


TITLE = TypeAdapter(Title)
# Mostly short strings near the bounds, rich in whitespace and punctuation, plus long ones.
titles = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(" \t\n\u00a0\u3000.,!?-_*#"),
            st.characters(),
        ),
        max_size=8,
    ),
    st.text(st.characters(), max_size=130),
    st.builds(
        lambda pad, body: pad + body + pad,
        st.text(" \t\n", max_size=4),
        st.text("ab.", min_size=115, max_size=125),
    ),
)


@MODEST
@given(text=titles)
def test_title_accepts_exactly_the_stripped_bounded_texts_with_words(text: str) -> None:
    assert _accepted(TITLE, text) == _title_oracle(text)


@MODEST
@given(text=titles)
def test_an_accepted_title_is_stored_stripped(text: str) -> None:
    stored = _valid(TITLE, text)
    if stored is not None:
        assert stored == text.strip()


@pytest.mark.parametrize("separator", list(INFORMATION_SEPARATORS), ids=ascii)
def test_title_strips_information_separators_like_str_strip(separator: str) -> None:
    assert not _accepted(TITLE, separator + "ab")


# --- (d) slugify -------------------------------------------------------------------------

SLUG = TypeAdapter(Slug)


@MODEST
@given(text=st.one_of(st.text(), st.text("ab -_.ÄßK", max_size=200)))
def test_slugify_always_returns_a_valid_slug(text: str) -> None:
    slug = slugify(text)

    assert SLUG.validate_python(slug) == slug
