"""`courseforge users create|token|password|revoke|list`: users, their API tokens and
passwords (for the browser).

A token is printed once, when it is issued; the database keeps only its hash, as it keeps
only a password's argon2 hash. A password is prompted for twice, or read as one line from
stdin when stdin is not a terminal (scripts). Exit 1 when the user is unknown, 2 for
usage errors (a taken name, an unknown role, a password too short).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courseforge.cli.common import DATABASE_URL, prepared_settings, print_json
from courseforge.domain.accounts import Role
from courseforge.runtime import open_database_runtime
from courseforge.store.accounts import (
    AccountStore,
    UserExistsError,
    UserNotFoundError,
    UserSummary,
)
from courseforge.store.passwords import PasswordPolicyError, checked_password

EXIT_FAILED, EXIT_USAGE = 1, 2
T = TypeVar("T")

app = typer.Typer(
    help="Create users, set their passwords, issue and revoke their tokens.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)
errors = Console(highlight=False, soft_wrap=True, stderr=True)

AS_JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
NAME_LENGTH = 120  # users.name, organizations.name and api_tokens.name


def _checked_name(value: str) -> str:
    """A name the tables can hold, without stray spaces (usage error otherwise)."""
    if not value.strip() or value != value.strip() or len(value) > NAME_LENGTH:
        raise typer.BadParameter(f"1 to {NAME_LENGTH} characters, no leading or trailing spaces")
    return value


USER_NAME = typer.Argument(..., metavar="NAME", help="The user's name.", callback=_checked_name)
TOKEN_LABEL = typer.Option(
    "default", "--name", help="A label for the token (where it is used).", callback=_checked_name
)
NOT_SHOWN_AGAIN = "Copy it now: it will not be shown again."
WITH_PASSWORD = typer.Option(
    False,
    "--password",
    help="Also set a password for the web UI: prompted twice, or one line read from stdin.",
)


@app.command("create")
def create(
    name: str = USER_NAME,
    role: Role = typer.Option(..., "--role", help="What the user may do."),
    org: str = typer.Option(
        ..., "--org", help="The organization (created if new).", callback=_checked_name
    ),
    with_password: bool = WITH_PASSWORD,
    as_json: bool = AS_JSON,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Create a user (and their organization) and print their first API token."""
    password = _read_password() if with_password else None

    async def action(accounts: AccountStore) -> str:
        user = await accounts.create_user(name, org, role)
        if password is not None:
            await accounts.set_password(name, password)
        return await accounts.issue_token(user)

    token = _with_accounts(database_url, action)
    if as_json:
        print_json({"name": name, "organization": org, "role": role, "token": token})
        return
    console.print(f"Created user {escape(name)} ({role}) in organization {escape(org)}.")
    _show_token(token)


@app.command("token")
def token(
    name: str = USER_NAME,
    label: str = TOKEN_LABEL,
    as_json: bool = AS_JSON,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Issue another API token for a user (their other tokens keep working)."""

    async def action(accounts: AccountStore) -> str:
        user = await accounts.find_user(name)
        if user is None:
            raise UserNotFoundError(name)
        return await accounts.issue_token(user, label)

    issued = _with_accounts(database_url, action)
    if as_json:
        print_json({"name": name, "token_name": label, "token": issued})
        return
    _show_token(issued)


@app.command("password")
def password(name: str = USER_NAME, database_url: str | None = DATABASE_URL) -> None:
    """Set or change a user's password (prompted twice, or one line read from stdin)."""
    new_password = _read_password()
    _with_accounts(database_url, lambda accounts: accounts.set_password(name, new_password))
    console.print(f"Password of {escape(name)} set.")


@app.command("revoke")
def revoke(name: str = USER_NAME, database_url: str | None = DATABASE_URL) -> None:
    """Revoke every API token of a user and end their browser sessions."""
    revoked = _with_accounts(database_url, lambda accounts: accounts.revoke_access(name))
    tokens = "" if revoked.tokens == 1 else "s"
    sessions = "" if revoked.sessions == 1 else "s"
    console.print(
        f"Revoked {revoked.tokens} token{tokens} of {escape(name)}"
        f" and ended {revoked.sessions} browser session{sessions}."
    )


@app.command("list")
def list_users(as_json: bool = AS_JSON, database_url: str | None = DATABASE_URL) -> None:
    """Every user: organization, role and number of working tokens."""
    summaries = _with_accounts(database_url, lambda accounts: accounts.list_users())
    if as_json:
        print_json([_summary_json(summary) for summary in summaries])
    elif not summaries:
        console.print("No users.")
    else:
        console.print(_users_table(summaries))


def _with_accounts(database_url: str | None, action: Callable[[AccountStore], Awaitable[T]]) -> T:
    settings = prepared_settings(database_url)

    async def run() -> T:
        async with open_database_runtime(settings) as runtime:
            return await action(runtime.accounts)

    try:
        return asyncio.run(run())
    except UserExistsError as error:
        _fail(f"{error}; pick another name.", EXIT_USAGE)
    except UserNotFoundError as error:
        _fail(str(error), EXIT_FAILED)


def _read_password() -> str:
    """A password from the terminal (hidden, asked twice) or, for scripts, the first line
    of stdin; a usage error when the policy refuses it."""
    if sys.stdin.isatty():
        given = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        given = sys.stdin.readline().rstrip("\r\n")
        if not given:
            _fail("no password on stdin (one line expected)", EXIT_USAGE)
    try:
        return checked_password(given)
    except PasswordPolicyError as error:
        _fail(str(error), EXIT_USAGE)


def _fail(message: str, code: int) -> NoReturn:
    errors.print(f"[red]Error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _show_token(token: str) -> None:
    console.print(f"Token: {escape(token)}")
    console.print(NOT_SHOWN_AGAIN)


def _users_table(summaries: list[UserSummary]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for heading in ("name", "organization", "role", "tokens", "created"):
        table.add_column(heading, no_wrap=True)
    for summary in summaries:
        table.add_row(
            escape(summary.name),
            escape(summary.organization),
            summary.role,
            str(summary.active_tokens),
            summary.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        )
    return table


def _summary_json(summary: UserSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "organization": summary.organization,
        "role": summary.role,
        "active_tokens": summary.active_tokens,
        "created_at": summary.created_at.isoformat(),
    }
