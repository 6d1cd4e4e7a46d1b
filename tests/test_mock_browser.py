"""A real browser on another origin calls `craftkit mock`: CORS preflight, bearer, envelope.

Headless Chromium is Debian's (`apt-get install chromium`), driven by Playwright's Python
package; Playwright's own browser download is never used. Without Chromium this test skips,
unless CRAFTKIT_REQUIRE_BROWSER=1 (CI sets it), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.openapi.spec import OpenAPI31Specification
from tests.support import ROOT, free_port, live_mock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root here
    "--disable-background-networking",  # no outside network on these machines
    "--disable-component-update",
    "--no-first-run",
]
RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Engagement</title></head>
<body data-state="loading">
<h1>Render engagement</h1>
<ul id="counts"></ul>
<p>Total: <span id="total"></span></p>
<p>Without a token: <span id="error"></span></p>
<script>
const url = "MOCK/v1/renders/RENDER/engagement";
async function show() {
  const resp = await fetch(url, {
    headers: {"Authorization": "Bearer ck_test_browser", "Prefer": "code=200"},
  });
  const summary = await resp.json();
  for (const [type, count] of Object.entries(summary.counts)) {
    const item = document.createElement("li");
    item.dataset.type = type;
    item.textContent = type + ": " + count;
    document.getElementById("counts").append(item);
  }
  document.getElementById("total").textContent = summary.total;
  const denied = await fetch(url);
  document.getElementById("error").textContent =
    denied.status + " " + (await denied.json()).error.code;
}
show().then(
  () => { document.body.dataset.state = "done"; },
  (err) => { document.body.dataset.state = "failed: " + err; },
);
</script>
</body></html>
"""


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CRAFTKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"Chromium is required here (CRAFTKIT_REQUIRE_BROWSER=1) but {CHROMIUM} is missing: "
            "apt-get install chromium"
        )
    pytest.skip(f"browser test: no Chromium at {CHROMIUM} (apt-get install chromium to run it)")


@pytest.fixture
def page_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A second HTTP server, on another port and so another origin, that serves the page."""
    site = tmp_path / "site"
    site.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


def open_page(url: str, screenshot: Path) -> dict[str, Any]:
    """Load the page in headless Chromium; what it shows once its script has finished."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=20000)
            page.screenshot(path=str(screenshot))
            return {
                "state": page.evaluate("document.body.dataset.state"),
                "counts": [item.inner_text() for item in page.locator("#counts li").all()],
                "total": page.inner_text("#total"),
                "error": page.inner_text("#error"),
            }
        finally:
            browser.close()


def test_a_page_on_another_origin_shows_the_mocked_counts(
    tmp_path: Path, page_origin: tuple[str, Path]
) -> None:
    require_chromium()
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml").spec
    operation = spec["paths"]["/v1/renders/{id}/engagement"]["get"]
    example: dict[str, Any] = operation["responses"]["200"]["content"]["application/json"][
        "example"
    ]
    origin, site = page_origin
    with live_mock(cwd=tmp_path) as mock:
        (site / "index.html").write_text(PAGE.replace("MOCK", mock.url).replace("RENDER", RENDER))
        shown = open_page(f"{origin}/index.html", tmp_path / "page.png")
        log = mock.output()
    assert shown["state"] == "done"
    assert shown["counts"] == [f"{kind}: {count}" for kind, count in example["counts"].items()]
    assert shown["total"] == str(example["total"])
    assert shown["error"] == "401 unauthorized"  # the envelope reached the page: CORS on errors
    assert "-> 200 example" in log and "-> 401 error envelope" in log


def test_the_browser_refuses_the_answer_when_the_origin_is_not_allowed(
    tmp_path: Path, page_origin: tuple[str, Path]
) -> None:
    """The same page, with --cors-origin naming another origin: proof the test exercises CORS."""
    require_chromium()
    origin, site = page_origin
    with live_mock("--cors-origin", "http://localhost:5173", cwd=tmp_path) as mock:
        (site / "index.html").write_text(PAGE.replace("MOCK", mock.url).replace("RENDER", RENDER))
        shown = open_page(f"{origin}/index.html", tmp_path / "page.png")
    assert shown["state"].startswith("failed: TypeError"), shown
    assert shown["counts"] == []


@pytest.mark.parametrize(("required", "outcome"), [("", "skip"), ("1", "fail")])
def test_missing_chromium_skips_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, required: str, outcome: str
) -> None:
    import tests.test_mock_browser as this

    monkeypatch.setattr(this, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CRAFTKIT_REQUIRE_BROWSER", required)
    expected = pytest.skip.Exception if outcome == "skip" else pytest.fail.Exception
    with pytest.raises(expected) as raised:
        require_chromium()
    message = str(raised.value)
    assert "no-chromium" in message and "apt-get install chromium" in message
    if outcome == "fail":
        assert "Chromium is required" in message


MUSEUM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Museum</title></head>
<body data-state="loading">
<ul id="hours"></ul>
<p>Created: <span id="created"></span></p>
<p>Without credentials: <span id="error"></span></p>
<script>
const api = "MOCK/_mock/docs/openapi/museum-api";
const auth = {"Authorization": "Basic " + btoa("frontend:secret")};
async function show() {
  const hours = await (await fetch(api + "/museum-hours", {headers: auth})).json();
  for (const day of hours) {
    const item = document.createElement("li");
    item.textContent = day.date + " " + day.timeOpen + "-" + day.timeClose;
    document.getElementById("hours").append(item);
  }
  const created = await fetch(api + "/special-events", {
    method: "POST",
    headers: {...auth, "Content-Type": "application/json"},
    body: JSON.stringify(EVENT),
  });
  const event = await created.json();
  document.getElementById("created").textContent = created.status + " " + event.name;
  const denied = await fetch(api + "/special-events/e1", {method: "DELETE"});
  document.getElementById("error").textContent =
    denied.status + " " + denied.headers.get("Content-Type") + " " + (await denied.json()).title;
}
show().then(
  () => { document.body.dataset.state = "done"; },
  (err) => { document.body.dataset.state = "failed: " + err; },
);
</script>
</body></html>
"""


def test_a_page_calls_a_spec_served_under_its_base_path(
    tmp_path: Path, page_origin: tuple[str, Path]
) -> None:
    """Redocly's Museum (servers …/_mock/docs/openapi/museum-api, HTTP basic, problem+json):
    preflights for GET with Authorization, POST with a JSON body and DELETE all pass under the
    base path, and the page reads the documented problem+json 401."""
    require_chromium()
    museum = ROOT / "tests" / "data" / "specs" / "redocly-museum.yaml"
    examples = OpenAPI31Specification.from_path(museum).spec["components"]["examples"]
    hours = examples["GetMuseumHoursResponseExample"]["value"]
    event = examples["CreateSpecialEventRequestExample"]["value"]
    created = examples["CreateSpecialEventResponseExample"]["value"]
    origin, site = page_origin
    with live_mock("--spec", str(museum), cwd=tmp_path) as mock:
        page = MUSEUM_PAGE.replace("MOCK", mock.url).replace("EVENT", json.dumps(event))
        (site / "index.html").write_text(page)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                tab = browser.new_page()
                tab.goto(f"{origin}/index.html")
                tab.wait_for_function("document.body.dataset.state !== 'loading'", timeout=20000)
                state = tab.evaluate("document.body.dataset.state")
                shown_hours = [item.inner_text() for item in tab.locator("#hours li").all()]
                shown_created = tab.inner_text("#created")
                shown_error = tab.inner_text("#error")
            finally:
                browser.close()
        log = mock.output()
    assert state == "done", (state, log)
    assert shown_hours == [f"{d['date']} {d['timeOpen']}-{d['timeClose']}" for d in hours]
    assert shown_created == f"201 {created['name']}"
    assert shown_error.startswith("401 application/problem+json ")
    assert "OPTIONS /_mock/docs/openapi/museum-api/special-events -> 200 CORS preflight" in log
