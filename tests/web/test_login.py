"""Browser sessions over real HTTP: the login form, the session cookie, logout, CSRF."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF
from tests.web.conftest import PASSWORD, browser, csrf_token, log_in

SEVEN_DAYS_S = 7 * 24 * 3600


def session_cookie_header(response: httpx.Response) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if "courseforge_session=" in h]
    assert len(found) == 1, response.headers
    return found[0]


async def test_pages_are_accessible_html_with_our_stylesheet(web: LiveApi) -> None:
    async with browser(web) as client:
        page = await client.get("/login")
        css = await client.get("/static/courseforge.css")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for part in ('<meta name="viewport"', 'href="#main"', '<main id="main"', "courseforge.css"):
        assert part in page.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_login_sets_a_hardened_session_cookie_and_signs_in(web: LiveApi) -> None:
    async with browser(web) as client:
        response = await log_in(client)
        home = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = session_cookie_header(response)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", f"max-age={SEVEN_DAYS_S}"} <= attributes
    assert "secure" not in attributes  # plain HTTP here
    assert home.status_code == 200
    assert '<span class="whoami">alice</span>' in home.text


async def test_cookies_are_secure_behind_an_https_proxy(web: LiveApi) -> None:
    https = {"X-Forwarded-Proto": "https"}  # from 127.0.0.1, which uvicorn trusts
    async with browser(web) as client:
        page = await client.get("/login", headers=https)
        token = page.headers["set-cookie"].split("csrftoken=")[1].split(";")[0]
        form = {"name": "alice", "password": PASSWORD, "csrftoken": token}
        client.cookies.set("csrftoken", token)  # httpx keeps no Secure cookie over http
        response = await client.post("/login", data=form, headers=https)
    assert "secure" in page.headers["set-cookie"].lower()
    assert response.status_code == 303
    assert "secure" in session_cookie_header(response).lower()


async def test_home_without_a_working_session_goes_to_login(web: LiveApi) -> None:
    async with browser(web) as client:
        anonymous = await client.get("/")
        client.cookies.set("courseforge_session", "x" * 43)
        forged = await client.get("/")
    for response in (anonymous, forged):
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/"


async def test_a_failed_login_never_says_whether_the_user_exists(web: LiveApi) -> None:
    async with browser(web) as client:
        wrong_password = await log_in(client, "alice", "not her password")
        no_such_user = await log_in(client, "zed", "not her password")
        still_out = await client.get("/")
    for response in (wrong_password, no_such_user):
        assert response.status_code == 401
        assert response.text.count("Wrong name or password") == 1
        assert "courseforge_session" not in response.headers.get("set-cookie", "")
    no_names = [
        r.text.replace("alice", "").replace("zed", "") for r in (wrong_password, no_such_user)
    ]
    assert no_names[0] == no_names[1]
    assert still_out.status_code == 303


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/courses?page=2", "/courses?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("courses", "/"),
    ],
)
async def test_login_goes_only_to_a_local_next_page(
    web: LiveApi, next_url: str, expected: str
) -> None:
    async with browser(web) as client:
        response = await log_in(client, next=next_url)
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_the_login_form_needs_its_csrf_token(web: LiveApi) -> None:
    async with browser(web) as client:
        await csrf_token(client)  # the cookie is set, but the form does not carry it
        refused = await client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert refused.status_code == 403
    assert "courseforge_session" not in refused.headers.get("set-cookie", "")


async def test_logout_needs_the_csrf_token_and_ends_the_session_in_the_database(
    web: LiveApi,
) -> None:
    async with browser(web) as client:
        await log_in(client)
        session_id = client.cookies["courseforge_session"]
        without_token = await client.post("/logout")
        still_in = await client.get("/")
        token = await csrf_token(client, "/")
        logged_out = await client.post("/logout", data={"csrftoken": token})
    assert without_token.status_code == 403
    assert still_in.status_code == 200
    assert logged_out.status_code == 303
    assert logged_out.headers["location"] == "/login"
    assert 'courseforge_session=""' in session_cookie_header(logged_out)
    async with browser(web) as replay:  # the old cookie, kept by an attacker
        replay.cookies.set("courseforge_session", session_id)
        assert (await replay.get("/")).status_code == 303


async def test_bearer_api_clients_need_no_csrf_token(web: LiveApi) -> None:
    async with web.client("alice") as client:
        response = await client.post("/api/outlines", json=BRIEF)
    assert response.status_code == 202, response.text
    assert "set-cookie" not in response.headers  # no CSRF cookie for API clients


async def test_the_html_pages_stay_out_of_the_openapi_document(web: LiveApi) -> None:
    async with web.client() as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/", "/login", "/logout"} & set(paths)


async def test_login_gives_the_browser_a_new_csrf_token(web: LiveApi) -> None:
    async with browser(web) as client:
        before = await csrf_token(client)
        response = await log_in(client)
        after = await csrf_token(client, "/")
        # The token from before login, sent with the new cookie, is refused.
        stale = await client.post("/logout", data={"csrftoken": before})
        fresh = await client.post("/logout", data={"csrftoken": after})
    assert 'csrftoken=""' in " ".join(response.headers.get_list("set-cookie"))
    assert after != before
    assert stale.status_code == 403
    assert fresh.status_code == 303


async def test_a_multipart_form_carries_its_csrf_token_as_a_field(web: LiveApi) -> None:
    async with browser(web) as client:
        await log_in(client)
        token = await csrf_token(client, "/")
        upload = {"notes": ("notes.txt", b"field csrftoken is not here", "text/plain")}
        refused = await client.post("/logout", files=upload, data={"other": "x"})
        accepted = await client.post("/logout", files=upload, data={"csrftoken": token})
    assert refused.status_code == 403
    assert accepted.status_code == 303
