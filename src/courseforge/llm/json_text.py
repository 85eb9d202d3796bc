"""Finding the JSON object in a model's text (fenced, or with prose around it)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> str:
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise ValueError("the answer contains no JSON object")
    return candidate[start : end + 1]
