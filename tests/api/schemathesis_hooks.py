"""Schemathesis hooks for test_schema_fuzzing (loaded by the `st` process).

Every failure counts except a schema-valid request refused for a reason the schema
cannot state, each named below (and a new one fails the test until it is named).
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData

# A valid key sent again with another body is refused, as documented; the generator
# reuses keys (its coverage phase sends one example key with every body).
REUSED_KEY = "Idempotency-Key was already used for a different request"
# Rules of the domain's text and outlines that JSON Schema cannot express (or not
# without also binding the LLM's structured output to them).
BODY_RULES = (
    "must be distinct",  # titles within a list, compared case- and punctuation-blind
    "must not contain control characters",
    "must be a single line",
    "must contain letters or digits",
    "String should have at least",  # counted after surrounding spaces are stripped
    "Input should be a valid integer",  # 3.0: an integer to JSON Schema, not to strict models
)


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    if not isinstance(failure, RejectedPositiveData):
        return True
    return not (_reused_key(response) or _body_rule(response) or _null_from_a_link(case))


def _reused_key(response: schemathesis.Response) -> bool:
    return response.status_code == 422 and REUSED_KEY in response.text


def _body_rule(response: schemathesis.Response) -> bool:
    if response.status_code != 422:
        return False
    errors = json.loads(response.text).get("errors") or []
    return bool(errors) and all(
        any(rule in error["message"] for rule in BODY_RULES) for error in errors
    )


def _null_from_a_link(case: schemathesis.Case) -> bool:
    """A stateful step that put a null from a response (a job's course_id before its
    course exists) into a path."""
    return any(value in (None, "None") for value in (case.path_parameters or {}).values())
