"""The browser's session cookie: what it holds (only the opaque id of a row in
store/sessions.py), how it is set and cleared, and who it signs in."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from courseforge.domain.accounts import User
from courseforge.runtime import Runtime

SESSION_COOKIE = "courseforge_session"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.context.runtime
    return runtime


async def session_user(request: Request) -> User | None:
    """The signed-in user, or None without a working session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    return await runtime_of(request).sessions.session_user(session_id)


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    lifetime = timedelta(days=runtime_of(request).settings.session_max_days)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),  # the absolute expiry; the server enforces idle
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
