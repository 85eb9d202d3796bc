"""Real HTTP servers that speak the OpenAI and Anthropic wire protocols, for tests.

Each runs `http.server.ThreadingHTTPServer` on 127.0.0.1 (a free port) in a background
thread. Entering one yields the base URL to give the SDK; the server object keeps every
request it received, so tests can count HTTP requests and read what was sent:

    server = FakeOpenAIServer(refuse_json_schema=True)
    with server as base_url:
        ...
    assert len(server.requests) == 2

Answers are `sample_instance(schema, subject)`, with the schema found where the provider
put it (response_format, the prompt between the schema markers, or the tool's
input_schema) and the subject taken as the fake provider takes it. Every answer closes
its connection, so one recorded request is one HTTP request and no handler thread lingers.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast

from courseforge.llm.fake import estimate_tokens, subject_of
from courseforge.llm.openai_provider import SCHEMA_PROMPT_END, SCHEMA_PROMPT_START
from courseforge.llm.port import ChatMessage, CompletionRequest
from courseforge.llm.schema_sample import sample_instance

INVALID_JSON_TEXT = '{"answer": "not what the schema asks for"'

JSON = dict[str, Any]


@dataclass(frozen=True)
class ScriptedReply:
    """An error answered instead of the real answer: `ScriptedReply(429, {"Retry-After": "7"})`."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted failure"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: JSON

    @property
    def api_key(self) -> str | None:
        """The key sent: Anthropic's `x-api-key`, or a bearer token (OpenAI; newer Anthropic SDKs)."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        authorization = self.headers.get("authorization", "")
        return (
            authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        )


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)


RefusalStyle = Literal["openai", "message_only", "fastapi", "llama_cpp_python"]


def _openai_refusal(response_format: JSON) -> tuple[int, JSON]:
    """OpenAI's own: a 400 that names the parameter."""
    kind = response_format.get("type")
    message = (
        f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model."
        if "schema" not in response_format
        else "Unrecognized request argument supplied: response_format.schema"
    )
    kind_of_error = "invalid_request_error"
    error = {"message": message, "type": kind_of_error, "param": "response_format", "code": None}
    return 400, {"error": error}


def _message_only_refusal(response_format: JSON) -> tuple[int, JSON]:
    """A 400 that names the format only in its message, in vLLM's error shape."""
    message = f"{response_format.get('type')} is not supported by this server's guided decoding"
    return 400, {"object": "error", "message": message, "type": "BadRequestError", "code": 400}


def _literal_error(response_format: JSON) -> JSON:
    return {
        "type": "literal_error",
        "loc": ["body", "response_format", "type"],
        "msg": "Input should be 'text' or 'json_object'",
        "input": response_format.get("type"),
        "ctx": {"expected": "'text' or 'json_object'"},
    }


def _fastapi_refusal(response_format: JSON) -> tuple[int, JSON]:
    """FastAPI's own request validation: a 422 with the pydantic errors under `detail`."""
    return 422, {"detail": [_literal_error(response_format)]}


def _llama_cpp_python_refusal(response_format: JSON) -> tuple[int, JSON]:
    """`python -m llama_cpp.server`: its route wraps FastAPI's validation error in a 500
    (the message as llama-cpp-python 0.3.36 words it)."""
    error = _literal_error(response_format) | {"loc": ("body", "response_format", "type")}
    message = (
        f"1 validation error:\n  {error}\n\n"
        '  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n'
        "    POST /v1/chat/completions"
    )
    body = {"message": message, "type": "internal_server_error", "param": None, "code": None}
    return 500, {"error": body}


FORMAT_REFUSALS: dict[RefusalStyle, Callable[[JSON], tuple[int, JSON]]] = {
    "openai": _openai_refusal,
    "message_only": _message_only_refusal,
    "fastapi": _fastapi_refusal,
    "llama_cpp_python": _llama_cpp_python_refusal,
}


def requested_format(body: JSON) -> str | None:
    """json_schema, json_object_schema (json_object with llama.cpp's `schema`), json_object
    or None: what a request's response_format asks for."""
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_object" and "schema" in response_format:
        return "json_object_schema"
    return None if kind is None else str(kind)


class _VendorServer:
    """What both vendors' fakes share: the thread, the script, the recording."""

    def __init__(
        self,
        *,
        script: Iterable[ScriptedReply] = (),
        invalid_first: int = 0,
        invalid_text: str = INVALID_JSON_TEXT,
        reported_model: str | None = None,
        api_key: str | None = None,
        stall_until: threading.Event | None = None,
    ) -> None:
        """
        script: error answers for the first requests, in order, before any real answer.
        invalid_first: this many (non-scripted) answers carry `invalid_text` instead.
        reported_model: the model name answers report; default: the one asked for.
        api_key: when set, requests with another key get a 401.
        stall_until: when set, every request waits for this event before it is answered.
        """
        self.requests: list[RecordedRequest] = []
        self.usage_sent: list[tuple[int, int]] = []
        self._script = deque(script)
        self._invalid_left = invalid_first
        self._invalid_text = invalid_text
        self._reported_model = reported_model
        self._api_key = api_key
        self._stall_until = stall_until
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def bodies(self) -> list[JSON]:
        return [request.body for request in self.requests]

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> str:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        # A short poll interval: shutdown() waits up to one interval, on every test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self.base_url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stall_until is not None:
            self._stall_until.set()  # release stalled handlers so they can be joined
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()  # joins the handler threads
            self._thread.join()

    def answer(self, path: str, headers: dict[str, str], body: JSON) -> _Reply:
        """Called on a handler thread for each request."""
        request = RecordedRequest(path, headers, body)
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
        if self._stall_until is not None:
            self._stall_until.wait(timeout=30)
        if scripted is not None:
            return _Reply(scripted.status, self.error_body(scripted), scripted.headers)
        if self._api_key is not None and request.api_key != self._api_key:
            return _Reply(401, self.error_body(ScriptedReply(401, message="invalid API key")))
        return self.vendor_answer(path, body)

    def take_invalid(self) -> bool:
        with self._lock:
            if self._invalid_left <= 0:
                return False
            self._invalid_left -= 1
            return True

    def sample(self, schema: JSON | None, messages: list[JSON]) -> str:
        if schema is None:
            return "I do not know which shape of answer you want."
        return json.dumps(sample_instance(schema, _subject(messages)))

    def usage(self, body: JSON, text: str) -> tuple[int, int]:
        counts = (estimate_tokens(json.dumps(body)), estimate_tokens(text))
        with self._lock:
            self.usage_sent.append(counts)
        return counts

    def model(self, body: JSON) -> str:
        return self._reported_model or str(body.get("model", ""))

    def error_body(self, reply: ScriptedReply) -> JSON:
        raise NotImplementedError

    def vendor_answer(self, path: str, body: JSON) -> _Reply:
        raise NotImplementedError


class FakeOpenAIServer(_VendorServer):
    """`POST /v1/chat/completions`; the base URL it yields ends in `/v1`, as the SDK expects.

    A response_format it refuses is answered in the `refusal` style of a real server (see
    `FORMAT_REFUSALS`). A `json_object` with a `schema` (llama.cpp's extension) counts as
    json_object, and is refused as well by the strict OpenAI style, as OpenAI refuses any
    key it does not know.
    """

    def __init__(
        self,
        *,
        refuse_json_schema: bool = False,
        refuse_json_object: bool = False,
        refusal: RefusalStyle = "openai",
        report_usage: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._refused = {"json_schema"} if refuse_json_schema else set()
        if refuse_json_object:
            self._refused |= {"json_object", "json_object_schema"}
        if refusal == "openai" and self._refused:
            self._refused.add("json_object_schema")
        self._refusal = refusal
        self._report_usage = report_usage

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def error_body(self, reply: ScriptedReply) -> JSON:
        kind = "rate_limit_error" if reply.status == 429 else "invalid_request_error"
        if reply.status >= 500:
            kind = "server_error"
        return {"error": {"message": reply.message, "type": kind, "param": None, "code": None}}

    def vendor_answer(self, path: str, body: JSON) -> _Reply:
        if path != "/v1/chat/completions":
            return _Reply(404, self.error_body(ScriptedReply(404, message=f"no route {path}")))
        response_format = body.get("response_format") or {}
        if requested_format(body) in self._refused:
            status, error = FORMAT_REFUSALS[self._refusal](response_format)
            return _Reply(status, error)
        text = self._invalid_text if self.take_invalid() else self._structured(body)
        return _Reply(200, self._completion_body(body, text))

    def _structured(self, body: JSON) -> str:
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema: JSON | None = response_format["json_schema"]["schema"]
        else:
            schema = response_format.get("schema") or _schema_in_prompt(body["messages"])
        return self.sample(schema, body["messages"])

    def _completion_body(self, body: JSON, text: str) -> JSON:
        answer: JSON = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": self.model(body),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }
        if self._report_usage:
            tokens_in, tokens_out = self.usage(body, text)
            answer["usage"] = {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            }
        return answer


class FakeAnthropicServer(_VendorServer):
    """`POST /v1/messages`; the base URL it yields is the server root, as the SDK expects."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_body(self, reply: ScriptedReply) -> JSON:
        kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
        kinds |= {429: "rate_limit_error", 529: "overloaded_error"}
        kind = kinds.get(reply.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": reply.message}}

    def vendor_answer(self, path: str, body: JSON) -> _Reply:
        if path != "/v1/messages":
            return _Reply(404, self.error_body(ScriptedReply(404, message=f"no route {path}")))
        if self.take_invalid():
            # The model ignored the tool and wrote text: what the provider must pass on.
            content: list[JSON] = [{"type": "text", "text": self._invalid_text}]
            text = self._invalid_text
        else:
            tool = _chosen_tool(body)
            text = self.sample(tool["input_schema"], body["messages"])
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_fake_{len(self.requests)}",
                    "name": tool["name"],
                    "input": json.loads(text),
                }
            ]
        tokens_in, tokens_out = self.usage(body, text)
        return _Reply(200, self._message_body(body, content, tokens_in, tokens_out))

    def _message_body(
        self, body: JSON, content: list[JSON], tokens_in: int, tokens_out: int
    ) -> JSON:
        return {
            "id": f"msg_fake_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": self.model(body),
            "content": content,
            "stop_reason": "tool_use" if content[0]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for every handler to finish

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], vendor: _VendorServer
    ) -> None:
        super().__init__(address, handler)
        self.vendor = vendor


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = cast(_HTTPServer, self.server).vendor.answer(self.path, headers, body)
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        data = json.dumps(reply.body).encode()
        self.close_connection = True
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (a timeout test): nothing left to tell it

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output clean


def _subject(messages: list[JSON]) -> str:
    """The subject exactly as the fake provider finds it (its `Focus:` or `Topic:` line)."""
    users = tuple(
        ChatMessage("user", m["content"])
        for m in messages
        if m.get("role") == "user" and isinstance(m.get("content"), str)
    )
    return subject_of(CompletionRequest(users, model="", json_schema={}, schema_name=""))


def _schema_in_prompt(messages: list[JSON]) -> JSON | None:
    for message in messages:
        content = message.get("content")
        if message.get("role") != "system" or not isinstance(content, str):
            continue
        start = content.find(SCHEMA_PROMPT_START)
        end = content.find(SCHEMA_PROMPT_END, start)
        if start != -1 and end != -1:
            return cast(JSON, json.loads(content[start + len(SCHEMA_PROMPT_START) : end]))
    return None


def _chosen_tool(body: JSON) -> JSON:
    tools: list[JSON] = body["tools"]
    wanted = (body.get("tool_choice") or {}).get("name")
    return next((tool for tool in tools if tool["name"] == wanted), tools[0])
