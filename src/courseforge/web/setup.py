"""Mounts the web UI on the app: pages, static files, the CSRF check, the throttle."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from courseforge.settings import Settings
from courseforge.web import course_pages, dashboard, job_pages, routes, stats_page, wizard
from courseforge.web.csrf import FormCsrfMiddleware
from courseforge.web.pages import install_login_redirect
from courseforge.web.sessions import SESSION_COOKIE
from courseforge.web.throttle import LoginThrottle

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI, settings: Settings) -> None:
    # The wizard before the course pages: /courses/new must not match /courses/{course_id}.
    for module in (routes, dashboard, job_pages, wizard, course_pages, stats_page):
        app.include_router(module.router)
    install_login_redirect(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.login_throttle = LoginThrottle(
        per_name=settings.login_failures_per_name,
        per_address=settings.login_failures_per_address,
        window_minutes=settings.login_failure_window_minutes,
    )
    secret = settings.csrf_secret.get_secret_value() if settings.csrf_secret else None
    app.add_middleware(
        FormCsrfMiddleware,
        secret=secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        required=[r"^/login$"],  # login CSRF: the form is checked before any session exists
    )
