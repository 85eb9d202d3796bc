"""`serve` and `worker` started against a database that cannot be reached exit 1 with one
line that names it (password hidden), not with the driver's traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"], ["jobs", "list"]])
def test_an_unreachable_database_is_one_line_and_exit_1(command: list[str]) -> None:
    port = closed_port()
    url = f"postgresql://courseforge:s3cret-pw@127.0.0.1:{port}/courseforge"
    environment = {**os.environ, "COURSEFORGE_LLM_PROVIDER": "fake"}
    result = subprocess.run(
        [sys.executable, "-m", "courseforge", *command, "--database-url", url],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert output == (
        f"error: cannot reach the database at "
        f"postgresql://courseforge:***@127.0.0.1:{port}/courseforge (connection refused)"
    )
