"""What every page shares: the templates, rendering a page, and who is signed in.

A page that needs a signed-in user takes `SignedIn`; without a working session the
visitor is sent to the login form (htmx requests get `HX-Redirect`, so a fragment never
swaps a login page into a table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from courseforge.domain.accounts import User
from courseforge.web.csrf import CSRF_FIELD
from courseforge.web.formatting import FILTERS, status_badge
from courseforge.web.sessions import session_user

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # user- and LLM-written text never becomes markup
    )
)
TEMPLATES.env.filters.update(FILTERS)
TEMPLATES.env.globals["status_badge"] = status_badge


class LoginRequiredError(Exception):
    """Raised by `SignedIn` without a working session; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def signed_in_user(request: Request) -> User:
    user = await session_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    return user


SignedIn = Annotated[User, Depends(signed_in_user)]


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


async def _to_login(request: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRequiredError)
    url = login_url(error.next_path)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install_login_redirect(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequiredError, _to_login)


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A template rendered with what base.html needs: the CSRF token (forms and htmx
    send it back), the signed-in user (`user`, for the navigation) and the login link."""
    context |= {"csrf_field": CSRF_FIELD, "csrf_token": request.state.csrf_token}
    context.setdefault("user", None)
    context["login_url"] = login_url(context.get("next", "/"))
    return TEMPLATES.TemplateResponse(
        request, template, context, status_code=status, headers=headers
    )


def not_found_page(request: Request, user: User, what: str) -> Response:
    """The 404 for a job or course that does not exist or is not the viewer's: the same
    answer either way, so a page never tells whether someone else's id exists."""
    return page(request, "not_found.html", status=404, user=user, what=what)
