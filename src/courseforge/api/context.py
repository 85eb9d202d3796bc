"""What routes need, built once per app: the runtime's parts and the API's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from courseforge.api.broker import EventBroker
from courseforge.api.errors import ApiError
from courseforge.api.metrics import ApiMetrics
from courseforge.domain.accounts import User
from courseforge.runtime import Runtime
from courseforge.store.course_listing import CourseListing
from courseforge.store.idempotency import IdempotencyStore
from courseforge.store.job_listing import JobListing
from courseforge.store.stats import JobStatistics
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


async def optional_user(context: Context, credentials: Credentials) -> User | None:
    if credentials is None:
        return None
    user = await context.runtime.accounts.authenticate(credentials.credentials)
    if user is None:
        raise _unauthorized("the bearer token is unknown or revoked")
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise _unauthorized("send an API token: Authorization: Bearer <token>")
    return user


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "admin":
        raise ApiError(403, "only admins may read this")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
CurrentAdmin = Annotated[User, Depends(current_admin)]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})
