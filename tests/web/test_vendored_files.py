"""The vendored front-end files are the ones the manifest names, at the pinned majors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from courseforge.web.csrf import CSRF_HEADER
from courseforge.web.setup import STATIC_DIR
from tests.api.conftest import LiveApi
from tests.web.conftest import browser

VENDOR_DIR = STATIC_DIR / "vendor"
# htmx-ext-sse 2.2 needs htmx 2; htmx 4 dropped the extension, so neither may drift.
PINNED_SERIES = {"htmx.org": "2.0.", "htmx-ext-sse": "2.2."}


def _manifest() -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = json.loads((VENDOR_DIR / "MANIFEST.json").read_text())["files"]
    return files


@pytest.mark.parametrize("entry", _manifest(), ids=lambda entry: entry["name"])
def test_each_vendored_file_matches_its_recorded_sha256(entry: dict[str, Any]) -> None:
    content = (VENDOR_DIR / entry["file"]).read_bytes()
    assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["file"]


def test_the_pinned_packages_are_vendored_at_their_major_series() -> None:
    versions = {entry["name"]: entry["version"] for entry in _manifest()}
    assert versions.keys() == PINNED_SERIES.keys()
    for name, series in PINNED_SERIES.items():
        assert versions[name].startswith(series), (name, versions[name])
        tarball = f"{name}-{versions[name]}.tgz"
        assert next(e["tarball"] for e in _manifest() if e["name"] == name).endswith(tarball)


def test_every_file_in_the_vendor_folder_is_in_the_manifest() -> None:
    on_disk = {path.name for path in VENDOR_DIR.iterdir()} - {"MANIFEST.json"}
    assert on_disk == {entry["file"] for entry in _manifest()}


def test_the_htmx_file_is_the_version_the_manifest_says() -> None:
    entry = next(e for e in _manifest() if e["name"] == "htmx.org")
    assert f'version:"{entry["version"]}"' in (VENDOR_DIR / entry["file"]).read_text()


async def test_pages_load_the_vendored_files_served_from_the_package(web: LiveApi) -> None:
    async with browser(web) as client:
        page = await client.get("/login")
        for entry in _manifest():
            assert f'<script src="/static/vendor/{entry["file"]}" defer>' in page.text
            served = await client.get(f"/static/vendor/{entry['file']}")
            assert served.status_code == 200
            assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
    token = client.cookies["csrftoken"]
    # htmx sends this header on every request; header names are case-insensitive.
    assert f"""hx-headers='{{"{CSRF_HEADER}": "{token}"}}'""".lower() in page.text.lower()
