"""A deterministic instance of a JSON schema, worded from a subject.

Used by the `fake` provider (and the fake vendor servers in tests): it honours the
schema's types, enums, exact counts and length bounds, varies choices by position so a
quiz has different answers, and makes sibling strings distinct by numbering them.
String lengths follow what a real model writes for such a field, so token counts (and
simulated latency) are realistic.
"""

from __future__ import annotations

import hashlib
from typing import Any

from courseforge.domain.text import without_unprintable

_FILLER = (
    "This part explains the idea step by step with a worked example and a common mistake "
    "to avoid, then connects it to what came before so the learner sees why it matters. "
)


def sample_instance(schema: dict[str, Any], subject: str) -> Any:
    # One line, as titles and phrases must be: whitespace runs (line breaks too) become a space.
    subject = " ".join(without_unprintable(subject).split()) or "the subject"
    return _Sampler(schema, subject).value(schema, "$", None)


class _Sampler:
    def __init__(self, root: dict[str, Any], subject: str) -> None:
        self._defs: dict[str, Any] = root.get("$defs", {})
        self._subject = subject

    def value(self, schema: dict[str, Any], path: str, name: str | None) -> Any:
        if "$ref" in schema:
            return self.value(self._defs[schema["$ref"].rsplit("/", 1)[-1]], path, name)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
                return self.value(options[_pick(path, len(options))], path, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][_pick(path, len(schema["enum"]))]
        kind = schema.get("type", "object")
        if kind == "object":
            props = schema.get("properties", {})
            return {key: self.value(sub, f"{path}.{key}", key) for key, sub in props.items()}
        if kind == "array":
            return self._array(schema, path, name)
        if kind == "string":
            return self._string(schema, path, name)
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return float(schema.get("minimum", 1.0)) + 0.5
        if kind == "boolean":
            return _pick(path, 2) == 0
        return None

    def _array(self, schema: dict[str, Any], path: str, name: str | None) -> list[Any]:
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", max(low, 3))
        count = max(low, min(high, 3))
        item = schema.get("items", {})
        return [self.value(item, f"{path}[{i}]", _singular(name)) for i in range(count)]

    def _string(self, schema: dict[str, Any], path: str, name: str | None) -> str:
        low = schema.get("minLength", 0)
        high = schema.get("maxLength", 200)
        label = (name or "text").replace("_", " ")
        number = _position(path)
        head = f"{label.capitalize()} {number}" if number else label.capitalize()
        if "markdown" in label:
            text = f"## {self._subject}\n\n" + _FILLER * 14
        elif high >= 1000:
            text = f"{head} about {self._subject}. " + _FILLER
        else:
            text = f"{head}: {self._subject}"
        target = max(low, min(high, len(text)))
        while len(text) < target:
            text += " " + _FILLER
        return text[:target].rstrip() if len(text[:target].rstrip()) >= low else text[:target]


def _pick(path: str, count: int) -> int:
    digest = hashlib.sha256(path.encode()).digest()
    return digest[0] % count


def _position(path: str) -> str:
    """'$.modules[1].lessons[0].title' -> '2.1': numbers siblings so they stay distinct."""
    indexes = [int(part.split("]")[0]) + 1 for part in path.split("[")[1:]]
    return ".".join(str(i) for i in indexes)


def _singular(name: str | None) -> str | None:
    if name and name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
