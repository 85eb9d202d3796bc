"""Structured logging (structlog): JSON lines for services, readable lines in a terminal.

Every line of a job carries `job_id`, and every line about an LLM call its `unit`.
"""

from __future__ import annotations

import logging
import sys

import structlog


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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # Looked up at each use, not bound once: stderr may be replaced (tests, daemons).
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


if not structlog.is_configured():
    # Quiet by default (warnings and up, to stderr) until the entry point says otherwise.
    configure_logging()
