"""Swagger UI at /ui and /docs: the page, its assets, and a real browser using "Try it out".

The browser test drives Debian's Chromium through Playwright, as tests/test_mock_browser.py
does: it skips without Chromium unless CRAFTKIT_REQUIRE_BROWSER=1 (CI), where it fails.
Run it with CRAFTKIT_UPDATE_SCREENSHOT=1 to refresh docs/swagger-ui.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.ops import docs_ui
from tests.support import CRAFTKIT, ROOT, live_mock, live_serve
from tests.test_mock_browser import CHROMIUM, require_chromium

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",  # runs as root here
    "--disable-gpu",
    "--disable-background-networking",  # no outside network on these machines
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = ROOT / "docs" / "swagger-ui.png"


# --- the page and its assets, in-process ------------------------------------------------------


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/docs"])
def test_the_ui_page_is_served_without_a_redirect(client: Any, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200, page.text  # never a 3xx: the server does not redirect
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/ui/swagger-ui-bundle.js">' in page.text
    assert 'fetch("/openapi.json")' in page.text  # the document as written
    assert '"validatorUrl": null' in page.text  # no call to the public validator service
    assert "Craftkit API" in page.text  # the spec's title
    assert client.head(path).status_code == 200


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"])
def test_assets_are_served_from_the_bundle(client: Any, asset: str) -> None:
    served = client.get(f"/ui/{asset}")
    assert served.status_code == 200
    assert served.content == (docs_ui.bundle_dir() / asset).read_bytes()


@pytest.mark.parametrize(
    "path", ["/ui/index.j2", "/ui/nothing.js", "/ui/..%2Fopenapi.yaml", "/ui/swagger-ui.js.map"]
)
def test_anything_else_under_ui_is_the_404_envelope(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/ui", "/docs", "/ui/swagger-ui.css"])
def test_other_methods_get_the_405_envelope(client: Any, path: str) -> None:
    answer = client.post(path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_installed_swagger_ui_renders_openapi_3_1() -> None:
    """connexion[swagger-ui] installs Swagger UI 4.15, which refuses 3.1: this fails if it won."""
    assert docs_ui.bundle_version() >= (5,)


def test_an_old_bundle_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = tmp_path / "swagger-ui-4.15.5"
    old.mkdir()
    assert docs_ui.bundle_version(old) == (4, 15, 5)
    with pytest.raises(RuntimeError, match="cannot tell"):
        docs_ui.bundle_version(tmp_path)


def test_values_cannot_break_out_of_the_page() -> None:
    page = docs_ui.render_page("<b>API</b>", "/x</script><script>alert(1)", "").decode()
    assert "<b>API</b>" not in page and "&lt;b&gt;API&lt;/b&gt;" in page
    assert "</script><script>alert(1)" not in page


# --- a real browser ---------------------------------------------------------------------------


def demo(cwd: Path) -> tuple[str, str]:
    """`craftkit demo` in `cwd`: the test key and the render id it prints."""
    done = subprocess.run(
        [str(CRAFTKIT), "demo"], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    key = re.search(r"Bearer (ck_test_\S+?)'", done.stdout)
    render = re.search(r"render ([0-9a-f-]{36})", done.stdout)
    assert key and render, done.stdout
    return key.group(1), render.group(1)


def try_it_out(url: str, key: str, render_id: str, screenshot: Path) -> dict[str, str]:
    """Open the UI, authorise with `key`, run getRenderEngagement on `render_id`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/ui")
            page.locator("button.authorize").first.click()
            page.locator(".modal-ux input").first.fill(key)
            page.locator(".modal-ux button.authorize").click()
            page.locator(".modal-ux button.btn-done").click()
            operation = page.locator("#operations-Renders-getRenderEngagement")
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("tr[data-param-name='id'] input").fill(render_id)
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table .response .response-col_status").first
            status.wait_for(timeout=20000)
            operation.screenshot(path=str(screenshot))
            return {
                "servers": page.locator(".servers select").inner_text(),
                "status": status.inner_text().strip(),
                "body": operation.locator(".live-responses-table .microlight").first.inner_text(),
                "url": operation.locator(".request-url pre").first.inner_text(),
            }
        finally:
            browser.close()


def test_swagger_ui_tries_get_render_engagement_with_the_demo_key(tmp_path: Path) -> None:
    require_chromium()
    key, render_id = demo(tmp_path)
    with live_serve(cwd=tmp_path, env={"CRAFTKIT_LOG_FORMAT": "json"}) as server:
        shown = try_it_out(server.url, key, render_id, tmp_path / "swagger-ui.png")
        log = server.output()
    assert shown["status"] == "200", shown
    assert "This server" in shown["servers"]  # listed before the document's production URL
    assert shown["url"] == f"{server.url}/v1/renders/{render_id}/engagement"
    assert '"counts"' in shown["body"] and '"recent"' in shown["body"]
    assert '"operation": "getRenderEngagement"' in log and '"status": 200' in log
    assert key not in log
    if os.environ.get("CRAFTKIT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "swagger-ui.png", SCREENSHOT)


def test_swagger_ui_in_mock_mode(tmp_path: Path) -> None:
    """The mock serves the same UI; its example answers the same "Try it out"."""
    require_chromium()
    with live_mock(cwd=tmp_path) as mock:
        shown = try_it_out(
            mock.url,
            "ck_test_mockmockmockmockmockmockmock",
            "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10",
            tmp_path / "mock-ui.png",
        )
    assert shown["status"] == "200", shown
    assert '"total"' in shown["body"]


def test_the_page_shows_only_the_tags_of_served_operations() -> None:
    """In the page only: the note and the tag filter travel in the page, not the document."""
    spec = {
        "tags": [{"name": "Used"}, {"name": "Unused", "description": "not served"}],
        "paths": {
            "/a": {"get": {"operationId": "getA", "tags": ["Used"]}, "parameters": []},
            "/b": {"post": {"tags": ["Used", "Other"]}},
        },
    }
    view = docs_ui.served_view(spec)
    assert view["tags"] == ["Other", "Used"]
    assert view["note"].startswith(
        "**This server serves 2 operations of this document:** `GET /a` (getA); `POST /b`."
    )
    assert (
        '"tags": ["Other", "Used"]' in docs_ui.render_page("t", "/openapi.json", "", view).decode()
    )


def shown_ui(url: str) -> dict[str, Any]:
    """The tag sections and the description Swagger UI shows at `url`/ui."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/ui")
            page.locator(".opblock-tag").first.wait_for(timeout=20000)
            return {
                "tags": [
                    tag.get_attribute("data-tag") for tag in page.locator(".opblock-tag").all()
                ],
                "description": page.locator(".info .description").inner_text(),
                "operations": page.locator(".opblock").count(),
            }
        finally:
            browser.close()


def test_swagger_ui_hides_tags_with_no_served_operation(tmp_path: Path) -> None:
    """The contract's Templates, Signatures… tags describe endpoints this server does not
    serve: the UI shows Renders only and says what is served; the document stays verbatim."""
    import httpx
    import yaml

    require_chromium()
    demo(tmp_path)
    with live_serve(cwd=tmp_path) as server:
        shown = shown_ui(server.url)
        document = httpx.get(f"{server.url}/openapi.json").json()
        as_written = httpx.get(f"{server.url}/openapi.yaml").content
    assert shown["tags"] == ["Renders"], shown
    assert shown["operations"] == 1
    assert "This server serves 1 operation of this document" in shown["description"]
    assert "GET /v1/renders/{id}/engagement" in shown["description"]
    assert len(document["tags"]) == 7 and "Templates" in {t["name"] for t in document["tags"]}
    assert as_written == (ROOT / "openapi.yaml").read_bytes()
    assert document == yaml.safe_load(as_written)
