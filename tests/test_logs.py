"""Log lines: secrets masked in both formats, tracebacks plain, writing off the caller's
thread."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator

import pytest

from courseforge.logs import REDACTED, configure_logging, flush_logs, get_logger

TOKEN = "cf_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
TICKET = "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa98765"


@pytest.fixture(params=[False, True], ids=["console", "json"])
def json_lines(request: pytest.FixtureRequest) -> Iterator[bool]:
    configure_logging("INFO", json_lines=request.param)
    yield request.param
    configure_logging()


def logged(capsys: pytest.CaptureFixture[str]) -> str:
    flush_logs()
    return capsys.readouterr().err


def test_secrets_are_masked_by_key_and_inside_text(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    get_logger("test").warning(
        "request_seen",
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": "session=s3cr3t-cookie"},
        password="hunter2-hunter2",
        stream_ticket=TICKET,
        api_key="sk-proj-abcdefghijklmnopqrstuvwx",
        url=f"/api/jobs/1/events?ticket={TICKET}&x=1",
        note=f"retrying with Authorization: Bearer {TOKEN}",
        tokens_in=1234,
        topic="Tide pools",
    )
    line = logged(capsys)

    for secret in (TOKEN, TICKET, "s3cr3t-cookie", "hunter2", "sk-proj-abcdefghijklmnop"):
        assert secret not in line
    assert REDACTED in line
    assert "1234" in line  # a count and ordinary text are kept
    assert "Tide pools" in line
    if json_lines:
        record = json.loads(line)
        assert record["tokens_in"] == 1234
        assert record["password"] == REDACTED
        assert record["headers"]["Authorization"] == REDACTED
        assert record["url"] == f"/api/jobs/1/events?ticket={REDACTED}&x=1"
        assert record["note"] == f"retrying with Authorization: Bearer {REDACTED}"


def test_a_traceback_is_plain_without_locals_and_masked(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(authorization: str) -> None:
        raise PermissionError(f"refused {authorization}")

    try:
        fail(f"Bearer {TOKEN}")
    except PermissionError:
        get_logger("test").exception("refused")
    text = logged(capsys)

    assert text.count("PermissionError: refused Bearer") == 1
    assert TOKEN not in text
    assert "authorization = " not in text  # no variables listed under the frame
    assert len(text) < 3000


class StuckStderr:
    """A stderr whose writes wait until released: a full pipe, a paused terminal."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.released.wait(timeout=10)  # a bound, so a regression fails instead of hanging
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


def test_logging_does_not_wait_for_a_stuck_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = StuckStderr()
    monkeypatch.setattr(sys, "stderr", stuck)
    log = get_logger("test")

    for index in range(5):
        log.warning("slow_terminal", index=index)
    # Every call returned while the first write still waits: nothing has been written.
    written_meanwhile = list(stuck.written)

    stuck.released.set()
    flush_logs()
    assert written_meanwhile == []
    assert sum("slow_terminal" in text for text in stuck.written) == 5
