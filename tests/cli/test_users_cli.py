"""`courseforge users create|token|password|revoke|list` on SQLite and PostgreSQL."""

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
from courseforge.store.sessions import SessionStore

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


def password_user(database_url: str, name: str, password: str) -> User | None:
    async def go() -> User | None:
        database = Database(database_url)
        try:
            return await AccountStore(database).authenticate_password(name, password)
        finally:
            await database.dispose()

    return asyncio.run(go())


def start_session(database_url: str, user: User) -> str:
    async def go() -> str:
        database = Database(database_url)
        try:
            return await SessionStore(database).start_session(user)
        finally:
            await database.dispose()

    return asyncio.run(go())


def session_user(database_url: str, session_id: str) -> User | None:
    async def go() -> User | None:
        database = Database(database_url)
        try:
            return await SessionStore(database).session_user(session_id)
        finally:
            await database.dispose()

    return asyncio.run(go())


def create_with_password(database_url: str, name: str, password_input: str) -> Result:
    arguments = ["create", name, "--role", "teacher", "--org", "Acme", "--password"]
    return runner.invoke(
        app, ["users", *arguments, "--database-url", database_url], input=password_input
    )


def test_create_with_a_password_from_stdin_lets_the_user_sign_in(database_url: str) -> None:
    result = create_with_password(database_url, "hal", "open the pod bay doors\n")

    token = printed_token(result)
    user = password_user(database_url, "hal", "open the pod bay doors")
    assert user is not None
    assert user == authenticate(database_url, token)
    assert password_user(database_url, "hal", "open the pod bay door") is None


def test_password_changes_a_users_password(database_url: str) -> None:
    printed_token(create_with_password(database_url, "ivy", "first password\n"))

    result = runner.invoke(
        app, ["users", "password", "ivy", "--database-url", database_url], input="second one\n"
    )

    assert result.exit_code == 0, result.output
    assert "Password of ivy set" in result.stdout
    assert password_user(database_url, "ivy", "first password") is None
    assert password_user(database_url, "ivy", "second one") is not None


def test_a_short_or_missing_password_is_a_usage_error(database_url: str) -> None:
    for given in ("short\n", "\n", ""):
        result = create_with_password(database_url, "jo", given)

        assert result.exit_code == 2, given
        assert "Traceback" not in result.output
    assert "at least 8 characters" in create_with_password(database_url, "jo", "short\n").stderr
    assert as_json(users(database_url, "list", "--json")) == []


def test_password_for_an_unknown_user_fails_with_a_message(database_url: str) -> None:
    result = runner.invoke(
        app, ["users", "password", "nobody", "--database-url", database_url], input="long enough\n"
    )

    assert result.exit_code == 1
    assert "no user named 'nobody'" in result.stderr


def test_revoke_ends_the_users_browser_sessions(database_url: str) -> None:
    printed_token(create_with_password(database_url, "kim", "kims password\n"))
    kim = password_user(database_url, "kim", "kims password")
    assert kim is not None
    sessions = [start_session(database_url, kim) for _ in range(2)]
    assert session_user(database_url, sessions[0]) == kim

    result = users(database_url, "revoke", "kim")

    assert result.exit_code == 0, result.output
    assert "ended 2 browser sessions" in result.stdout
    assert [session_user(database_url, session_id) for session_id in sessions] == [None, None]
