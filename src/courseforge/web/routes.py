"""Signing in and out: the login form, its throttle, and logout.

HTML only, so none of them is in the OpenAPI document (`include_in_schema=False`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from courseforge.web.csrf import forget_csrf_cookie
from courseforge.web.pages import page
from courseforge.web.sessions import (
    SESSION_COOKIE,
    clear_session_cookie,
    runtime_of,
    set_session_cookie,
)
from courseforge.web.throttle import LoginThrottle

WRONG_LOGIN = "Wrong name or password"
MAX_FIELD = 1024  # longer than any name or password we accept

router = APIRouter(include_in_schema=False)
FormField = Annotated[str, Form(max_length=MAX_FIELD)]


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, name: FormField = "", password: FormField = "", next: FormField = "/"
) -> Response:
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait_s = throttle.retry_after_s(name, address)
    if wait_s is not None:
        return _login_refused(request, name, next, 429, {"Retry-After": str(wait_s)})
    runtime = runtime_of(request)
    user = await runtime.accounts.authenticate_password(name, password)
    if user is None:
        throttle.failed(name, address)
        return _login_refused(request, name, next, 401)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, await runtime.sessions.start_session(user))
    forget_csrf_cookie(response)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await runtime_of(request).sessions.end_session(session_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    forget_csrf_cookie(response)
    return response


def safe_next(target: str) -> str:
    """A local path to go to after login; "/" for anything that could leave the site
    (an absolute URL, `//host`, `/\\host`, control characters)."""
    local = target.startswith("/") and not target.startswith(("//", "/\\"))
    if not local or any(ord(char) < 0x20 or char == "\\" for char in target):
        return "/"
    return target


def _login_refused(
    request: Request,
    name: str,
    next: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    message = WRONG_LOGIN if status == 401 else "Too many failed logins: try again later"
    context = {"name": name, "next": safe_next(next), "error": message}
    return page(request, "login.html", status=status, headers=headers, **context)
