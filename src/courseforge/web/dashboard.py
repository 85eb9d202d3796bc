"""The queue dashboard, the home page: the viewer's jobs, live."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from courseforge.web.pages import SignedIn, page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, user: SignedIn) -> Response:
    return page(request, "home.html", user=user)
