"""What routes need, built once per app: the runtime's parts and the API's own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from courseforge.api.broker import EventBroker
from courseforge.api.errors import ApiError
from courseforge.api.metrics import ApiMetrics
from courseforge.domain.accounts import User
from courseforge.runtime import Runtime
from courseforge.store.accounts import Credential
from courseforge.store.course_listing import CourseListing
from courseforge.store.idempotency import IdempotencyStore
from courseforge.store.job_listing import JobListing
from courseforge.store.stats import JobStatistics
from courseforge.web.sessions import session_user
from courseforge.worker.worker import Worker


@dataclass
class ApiContext:
    runtime: Runtime
    broker: EventBroker
    jobs: JobListing
    courses: CourseListing
    idempotency: IdempotencyStore
    stats: JobStatistics
    metrics: ApiMetrics
    worker: Worker | None = None  # the in-process worker; none in an API-only replica


async def get_context(request: Request) -> ApiContext:  # async: no thread-pool hop
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]
_bearer = HTTPBearer(auto_error=False, description="an API token from `courseforge users create`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def optional_credential(context: Context, credentials: Credentials) -> Credential | None:
    if credentials is None:
        return None
    found = await context.runtime.accounts.credential(credentials.credentials)
    if found is None:
        raise _unauthorized("the bearer token is unknown or revoked")
    return found


OptionalCredential = Annotated[Credential | None, Depends(optional_credential)]


async def optional_user(request: Request, credential: OptionalCredential) -> User | None:
    """The bearer token's user; without a token, the web UI's signed-in user (its session
    cookie, looked up on every request so that logout ends it at once; web/csrf.py
    refuses a state-changing request with that cookie but without the CSRF token)."""
    if credential is not None:
        return credential.user
    return await session_user(request)


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def current_credential(credential: OptionalCredential) -> Credential:
    """The token's user and which token it is (what a stream ticket is tied to). A
    browser session is no token: its pages read the stream with the cookie instead."""
    if credential is None:
        raise _unauthorized("send an API token: Authorization: Bearer <token>")
    return credential


async def current_user(user: OptionalUser) -> User:
    if user is None:
        raise _unauthorized("send an API token: Authorization: Bearer <token> (or sign in)")
    return user


async def metrics_reader(context: Context, credentials: Credentials) -> None:
    """With COURSEFORGE_METRICS_TOKEN set, /metrics wants it as the bearer token (compared
    in constant time); without, /metrics is open."""
    expected = context.runtime.settings.metrics_token
    if expected is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise _unauthorized("send the metrics token: Authorization: Bearer <token>")


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "admin":
        raise ApiError(403, "only admins may read this")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
CurrentCredential = Annotated[Credential, Depends(current_credential)]
CurrentAdmin = Annotated[User, Depends(current_admin)]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})
