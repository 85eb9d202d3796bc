"""The OpenAI provider against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`, the dev extra installs its `server` extra), serving the
bundled SmolLM2-135M.

That server refuses `response_format: json_schema` with a 500 (its request-validation
error, wrapped); it accepts json_object with a `schema`, from which it builds a grammar.
Configured as `--provider openai` with `COURSEFORGE_LLM_BASE_URL`, the provider must fall
back within the first attempt and ask json_object with the schema from then on. The
server's access log shows what each HTTP request got.

Slow: starts the server (about a second) and runs the model on the CPU (about 300 tokens).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
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
from courseforge.llm.errors import PermanentLLMError
from courseforge.llm.gateway import CallLog, LLMGateway, json_schema_of
from courseforge.llm.local_provider import LocalProvider, check_grammar, resolve_model_path
from courseforge.llm.openai_provider import OpenAIProvider, without_long_bounds
from courseforge.llm.port import ChatMessage
from courseforge.llm.registry import build_provider, choose_provider
from courseforge.settings import Settings
from tests.worker.helpers import wait_for

pytestmark = pytest.mark.slow

# The name the server answers to (it serves its one model whatever the request names).
MODEL = "smollm2-135m-instruct"
SYSTEM = (
    "You are an expert instructional designer. Answer with a single JSON object that "
    "matches the given schema, and nothing else."
)
BRIEF = "Topic: Photosynthesis\nAudience: secondary-school students\nLevel: beginner"
OUTLINE = (
    f"{BRIEF}\n\nPlan exactly 1 module with exactly 1 lesson. Give the course a title, a "
    "description and learning objectives; the module a title, a summary and 2-4 "
    "objectives; the lesson a title and 1-3 objectives. Titles must all be different."
)
SUMMARY = (
    f"{BRIEF}\nFocus: How plants make food\nLessons and their key points:\n- Light and "
    "chlorophyll: chlorophyll absorbs light\n\nWrite a two-sentence summary of what this "
    "module teaches."
)
_CHAT_STATUS = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


@dataclass(frozen=True)
class LlamaServer:
    base_url: str
    log: Path

    def chat_statuses(self) -> list[int]:
        """The status of every chat completion answered so far (uvicorn's access log)."""
        return [int(status) for status in _CHAT_STATUS.findall(self.log.read_text())]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        *(sys.executable, "-m", "llama_cpp.server"),
        *("--model", resolve_model_path(None), "--model_alias", MODEL),
        *("--host", "127.0.0.1", "--port", str(port)),
        # A small context; one thread: llama.cpp's threads spin at each step, and on a busy
        # two-core machine two of them ran ten times slower than one. A fixed seed: the
        # same answers on every run.
        *("--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1", "--seed", "7"),
        # Quiet llama.cpp (it prints each grammar); uvicorn's access log stays.
        *("--verbose", "false"),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", log)
    try:
        wait_for(lambda: _ready(server, process), timeout=60, what="llama_cpp.server to listen")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(server: LlamaServer, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"llama_cpp.server exited:\n{server.log.read_text()[-2000:]}")
    try:
        return httpx.get(f"{server.base_url}/models", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_server_refusing_json_schema_writes_an_outline_and_a_summary(
    llama_server: LlamaServer,
) -> None:
    settings = Settings(
        llm_provider="openai", llm_base_url=llama_server.base_url, model_complex=MODEL
    )
    choice = choose_provider(settings)
    provider = build_provider(choice, settings)
    assert isinstance(provider, OpenAIProvider)
    recorder = CallLog()
    gateway = LLMGateway(provider, choice.route, recorder=recorder, concurrency=1)
    try:
        outline = await gateway.generate(
            outline_draft(1, 1), _messages(OUTLINE), tier="complex", unit="outline"
        )
        summary = await gateway.generate(
            ModuleSummaryDraft, _messages(SUMMARY), tier="simple", unit="module_summary:1"
        )
    finally:
        await provider.aclose()

    assert len(outline.modules) == 1  # type: ignore[attr-defined]
    assert isinstance(summary, ModuleSummaryDraft)
    outcomes = [record.outcome for record in recorder.records]
    assert "transient_error" not in outcomes  # the refusal cost no attempt
    assert provider.output_mode(MODEL) == "json_object_schema"
    # json_schema was sent once, refused with the server's 500; every later request
    # (the fallback, any re-ask, the second unit) went straight to the working form.
    expected = [500] + [200] * len(recorder.records)
    wait_for(lambda: len(llama_server.chat_statuses()) >= len(expected), timeout=10)
    assert llama_server.chat_statuses() == expected


def _messages(prompt: str) -> list[ChatMessage]:
    return [ChatMessage("system", SYSTEM), ChatMessage("user", prompt)]


# --- what json_object's `schema` becomes on such a server -----------------------------------

DRAFTS: list[type[BaseModel]] = [
    SourceTopicsDraft,
    outline_draft(2, 2, 3),
    LessonDraft,
    task_set_draft(2),
    BrainBytesDraft,
    quiz_draft(2, 2),
    CourseMetadataDraft,
    ModuleSummaryDraft,
]


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda draft: draft.__name__)
def test_every_schema_the_provider_sends_parses_as_a_llama_cpp_grammar(
    draft: type[BaseModel],
) -> None:
    # The server builds its grammar with this converter; one llama.cpp cannot parse
    # kills the server process, not just the request.
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    sent = without_long_bounds(json_schema_of(draft))
    check_grammar(LocalProvider().model(), json_schema_to_gbnf(json.dumps(sent)))


def test_the_full_outline_schema_would_not_parse() -> None:
    """Why long bounds are left out: the outline's 1500-character description alone."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(json_schema_of(outline_draft(1, 1))))
    with pytest.raises(PermanentLLMError, match="does not parse"):
        check_grammar(LocalProvider().model(), gbnf)
