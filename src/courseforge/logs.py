"""Structured logging (structlog): JSON lines for services, readable lines in a terminal.

Every line of a job carries `job_id`, and every line about an LLM call its `unit`.

Three rules keep a log line cheap and safe, in both formats:
- a traceback is plain text without local variables (those held the request's headers,
  and rendering them took seconds per error);
- secrets are masked before rendering (see `redact_secrets`);
- a line is written by a background thread, so a slow or full stderr never blocks the
  event loop that logged it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import logging.handlers
import os
import queue
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

REDACTED = "[redacted]"
# A key whose value is a secret: `authorization`, `x-api-key`, `stream_ticket`,
# `db_password`… but not `tokens_in` (a count).
_SECRET_KEY = re.compile(
    r"(?:^|[_-])(?:authorization|cookies?|set[_-]cookie|token|ticket|password|passwd"
    r"|secret|(?:api|secret|private)[_-]?key|credentials?)$",
    re.IGNORECASE,
)
# Secrets inside text (a message, a traceback, a header dump): the value is masked, what
# names it is kept.
_SECRET_TEXT = (
    (re.compile(r"\b(Bearer|Basic)\s+[\w.~+/=-]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (re.compile(r"\b(?:cf|sk|sk-ant)[_-][\w-]{16,}"), REDACTED),
    (
        re.compile(
            r"\b(authorization|cookie|token|ticket|password|passwd|secret|api[_-]?key)"
            r"([\"']?\s*[:=]\s*[\"']?)(?!(?:Bearer|Basic)\s)[^\s\"'&,;}]+",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
)
# Lines waiting for the writer thread; beyond this many (stderr stuck), new ones are
# dropped rather than blocking the caller.
MAX_PENDING_LINES = 10_000


def configure_logging(level: str = "WARNING", *, json_lines: bool = False) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks become plain text here (no locals), so the redaction sees them.
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_queued_logger,
        cache_logger_on_first_use=False,
    )
    _writer.start()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Masks secrets by key name (at any depth) and inside every string value."""
    return _redacted_mapping(event_dict)


def flush_logs(timeout_s: float = 5.0) -> None:
    """Waits (bounded) until every line logged so far is written (tests, before exit)."""
    _writer.flush(timeout_s)


def _redacted_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: REDACTED
        if isinstance(key, str) and _SECRET_KEY.search(key) and value is not None
        else _redacted(value)
        for key, value in mapping.items()
    }


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, Mapping):
        return _redacted_mapping(value)
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


class _LineWriter:
    """The stdlib's QueueListener writing queued lines to stderr on its own thread."""

    def __init__(self) -> None:
        self.lines: queue.Queue[logging.LogRecord] = queue.Queue(MAX_PENDING_LINES)
        self._listener: logging.handlers.QueueListener | None = None

    def start(self) -> None:
        if self._listener is None:
            self._listener = logging.handlers.QueueListener(self.lines, _StderrHandler())
            self._listener.start()

    def put(self, line: str) -> None:
        with contextlib.suppress(queue.Full):  # dropped: blocking the caller would be worse
            self.lines.put_nowait(logging.makeLogRecord({"msg": line}))

    def flush(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self.lines.all_tasks_done:
            while self.lines.unfinished_tasks and (left := deadline - time.monotonic()) > 0:
                self.lines.all_tasks_done.wait(left)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(queue.Full):
                self._listener.stop()  # writes what is queued first
            self._listener = None


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        # Looked up at each line, not bound once: stderr may be replaced (tests, daemons).
        stream = sys.stderr
        stream.write(f"{record.msg}\n")
        stream.flush()


class _QueuedLogger:
    """structlog's output: each rendered line goes to the writer thread's queue."""

    def msg(self, message: str) -> None:
        _writer.put(message)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


def _queued_logger(*_args: object) -> _QueuedLogger:
    return _QueuedLogger()


def _stop_writer() -> None:
    _writer.stop()


def _new_writer_in_child() -> None:
    """A forked child has the queue (its lock perhaps held) but not the thread."""
    global _writer
    _writer = _LineWriter()
    _writer.start()


_writer = _LineWriter()
atexit.register(_stop_writer)
os.register_at_fork(after_in_child=_new_writer_in_child)

if not structlog.is_configured():
    # Quiet by default (warnings and up, to stderr) until the entry point says otherwise.
    configure_logging()
