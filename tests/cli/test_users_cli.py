"""`courseforge users create|token|revoke|list` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from typer.testing import CliRunner, Result

from courseforge.cli.app import app
from courseforge.domain.accounts import User
from courseforge.store.accounts import AccountStore
from courseforge.store.database import Database

runner = CliRunner()
TOKEN = re.compile(r"cf_[A-Za-z0-9_-]{43}")


def users(database_url: str, *arguments: str) -> Result:
    return runner.invoke(app, ["users", *arguments, "--database-url", database_url])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def authenticate(database_url: str, token: str) -> User | None:
    async def go() -> User | None:
        database = Database(database_url)
        try:
            return await AccountStore(database).authenticate(token)
        finally:
            await database.dispose()

    return asyncio.run(go())


def printed_token(result: Result) -> str:
    assert result.exit_code == 0, result.output
    tokens: list[str] = TOKEN.findall(result.stdout)
    assert len(tokens) == 1, result.stdout
    return tokens[0]


def test_create_prints_a_working_token_once(database_url: str) -> None:
    result = users(database_url, "create", "alice", "--role", "teacher", "--org", "Acme")

    token = printed_token(result)
    assert "will not be shown again" in result.stdout
    user = authenticate(database_url, token)
    assert user is not None
    assert (user.name, user.role) == ("alice", "teacher")


def test_token_issues_another_that_works_beside_the_first(database_url: str) -> None:
    first = printed_token(users(database_url, "create", "bo", "--role", "student", "--org", "U"))

    issued = as_json(users(database_url, "token", "bo", "--name", "laptop", "--json"))

    assert issued["name"] == "bo"
    assert issued["token_name"] == "laptop"
    assert TOKEN.fullmatch(issued["token"])
    assert issued["token"] != first
    assert authenticate(database_url, first) == authenticate(database_url, issued["token"])
    assert authenticate(database_url, first) is not None


def test_revoke_stops_every_token_of_the_user(database_url: str) -> None:
    created = as_json(
        users(database_url, "create", "cy", "--role", "admin", "--org", "Acme", "--json")
    )
    assert created["role"] == "admin"
    assert created["organization"] == "Acme"
    second = printed_token(users(database_url, "token", "cy"))
    other = printed_token(users(database_url, "create", "di", "--role", "admin", "--org", "Acme"))

    result = users(database_url, "revoke", "cy")

    assert result.exit_code == 0, result.output
    assert "Revoked 2 tokens" in result.stdout
    assert authenticate(database_url, created["token"]) is None
    assert authenticate(database_url, second) is None
    assert authenticate(database_url, other) is not None


def test_list_shows_users_and_their_working_tokens(database_url: str) -> None:
    assert as_json(users(database_url, "list", "--json")) == []
    users(database_url, "create", "zoe", "--role", "student", "--org", "School")
    users(database_url, "create", "amy", "--role", "teacher", "--org", "School")
    users(database_url, "token", "amy")
    users(database_url, "revoke", "zoe")

    listed = as_json(users(database_url, "list", "--json"))

    assert [
        (entry["name"], entry["organization"], entry["role"], entry["active_tokens"])
        for entry in listed
    ] == [("amy", "School", "teacher", 2), ("zoe", "School", "student", 0)]
    assert all(entry["created_at"] for entry in listed)
    table = users(database_url, "list")
    assert table.exit_code == 0, table.output
    assert "amy" in table.stdout
    assert "zoe" in table.stdout
    assert "School" in table.stdout


def test_a_taken_name_is_a_usage_error(database_url: str) -> None:
    users(database_url, "create", "eve", "--role", "student", "--org", "Acme")

    result = users(database_url, "create", "eve", "--role", "admin", "--org", "Other")

    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert "Traceback" not in result.output
    assert not TOKEN.search(result.stdout)


def test_an_unknown_role_is_a_usage_error(database_url: str) -> None:
    result = users(database_url, "create", "fay", "--role", "owner", "--org", "Acme")

    assert result.exit_code == 2
    assert "owner" in result.output
    assert as_json(users(database_url, "list", "--json")) == []


def test_a_name_the_table_cannot_hold_is_a_usage_error(database_url: str) -> None:
    for name in ("", " gus", "g" * 121):
        result = users(database_url, "create", name, "--role", "student", "--org", "Acme")
        assert result.exit_code == 2, name


def test_an_unknown_user_fails_with_a_message(database_url: str) -> None:
    for command in ("revoke", "token"):
        result = users(database_url, command, "nobody")

        assert result.exit_code == 1
        assert "no user named 'nobody'" in result.stderr
