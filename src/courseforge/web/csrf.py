"""CSRF protection for what a session cookie authenticates: starlette-csrf's
double-submit cookie, plus the glue a page without JavaScript needs.

starlette-csrf reads the token from a header only (htmx will send it there); a plain
HTML form sends it as the `csrftoken` field, so form posts (url-encoded, or multipart
with an uploaded file) are buffered here and the field is read before the body is
handed on unchanged. The token a page embeds is put in
`request.state.csrf_token`: the cookie's, or a new one that this response then sets.
"""

from __future__ import annotations

import http.cookies
import re
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrftoken"
CSRF_HEADER = "x-csrftoken"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
FORM_TYPES = (FORM_TYPE, MULTIPART_TYPE)


class FormCsrfMiddleware(CSRFMiddleware):
    def __init__(
        self, app: ASGIApp, *, secret: str, session_cookie: str, required: list[str]
    ) -> None:
        super().__init__(
            app,
            secret,
            sensitive_cookies={session_cookie},  # Bearer clients send no cookie: unaffected
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
        )
        # Posts checked even without a session cookie (login CSRF). starlette-csrf's own
        # `required_urls` would check every method, the login page's GET included.
        self._required_posts = [re.compile(pattern) for pattern in required]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = Request(scope).cookies.get(CSRF_COOKIE)
        token = cookie or self._generate_csrf_token()
        scope.setdefault("state", {})["csrf_token"] = token
        form_type = _form_type(scope)
        if form_type is not None:
            body = await _read_body(receive)
            scope["state"]["csrf_form_token"] = await _form_token(scope, form_type, body)
            receive = _replay(body, receive)
        if self._required_post(scope) and not await self._token_matches(Request(scope)):
            await self._get_error_response(Request(scope))(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _required_post(self, scope: Scope) -> bool:
        if scope["method"] in self.safe_methods:
            return False
        return any(pattern.match(scope["path"]) for pattern in self._required_posts)

    async def _token_matches(self, request: Request) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        submitted = await self._get_submitted_csrf_token(request)
        return bool(cookie and submitted and self._csrf_tokens_match(cookie, submitted))

    async def _get_submitted_csrf_token(self, request: Request) -> str | None:
        form_token: str | None = request.scope.get("state", {}).get("csrf_form_token")
        return request.headers.get(self.header_name) or form_token

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        """Sets the token a page was given when the browser has none yet (pages only:
        API answers carry no cookie); `Secure` when the request came over HTTPS
        (uvicorn's proxy headers decide the scheme)."""
        if _is_page_start(message) and CSRF_COOKIE not in Request(scope).cookies:
            cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            cookie[CSRF_COOKIE] = scope["state"]["csrf_token"]
            cookie[CSRF_COOKIE]["path"] = "/"
            cookie[CSRF_COOKIE]["samesite"] = "lax"
            cookie[CSRF_COOKIE]["secure"] = scope.get("scheme") == "https"
            headers = MutableHeaders(scope=message)
            headers.append("set-cookie", cookie.output(header="").strip())
        await send(message)


def _is_page_start(message: Message) -> bool:
    if message["type"] != "http.response.start":
        return False
    content_type = MutableHeaders(raw=list(message.get("headers", []))).get("content-type", "")
    return content_type.startswith("text/html")


def _form_type(scope: Scope) -> str | None:
    if scope["method"] in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return None
    content_type = Request(scope).headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    return media_type if media_type in FORM_TYPES else None


async def _form_token(scope: Scope, form_type: str, body: bytes) -> str | None:
    if form_type == FORM_TYPE:
        return _form_field(body, CSRF_FIELD)
    # Starlette's own multipart parser, over a copy of the body; a malformed body has no
    # token (the route's own parsing reports what is wrong with it).
    request = Request(scope, _replay(body, _no_more))
    try:
        async with request.form(max_files=10, max_fields=200) as form:
            value = form.get(CSRF_FIELD)
    except Exception:  # any parse error: no token found
        return None
    return value if isinstance(value, str) else None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}


def forget_csrf_cookie(response: Response) -> None:
    """Drops the browser's token when a session starts or ends, so the next page is
    given a new one: a token known before login (planted, or seen by someone at the
    same browser) is no use after it."""
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="lax")


async def _read_body(receive: Receive) -> bytes:
    """The whole body (RequestGuard, outside this middleware, has capped its size)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _form_field(body: bytes, name: str) -> str | None:
    values = parse_qs(body.decode("latin-1"), max_num_fields=100).get(name)
    return values[0] if values else None


def _replay(body: bytes, then: Receive) -> Receive:
    """The buffered body once, then the client's own messages (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
