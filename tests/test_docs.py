"""The README stays true: its two commands lead, and its option table matches --help."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from courseforge.cli.app import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    assert "courseforge generate" in commands[0]
    assert ".[local]" in commands[0]
    assert commands[1] == "make test"
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_readme_documents_every_generate_option() -> None:
    help_text = CliRunner().invoke(app, ["generate", "--help"], terminal_width=200).output
    options = set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}
    section = README.split("### `courseforge generate`")[1].split("## Configuration")[0]
    documented = set(re.findall(r"`(--[a-z][a-z-]+)", section))
    assert options == documented
