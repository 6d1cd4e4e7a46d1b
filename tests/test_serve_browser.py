"""A real browser on another origin calls `craftkit serve`: CORS as CRAFTKIT_CORS_ORIGINS says.

The page is served from one origin (a second local HTTP server), the API from another, as a
frontend app and its API are; headless Chromium runs the page (tests/test_mock_browser.py
says how, and when a missing Chromium skips or fails).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import craftkit, serve_database
from tests.test_mock_browser import open_page, page_origin, require_chromium  # noqa: F401

RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"  # the demo's render

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Engagement</title></head>
<body data-state="loading">
<ul id="counts"></ul>
<p>Total: <span id="total"></span></p>
<p>Without a key: <span id="error"></span></p>
<script>
const url = "API/v1/renders/RENDER/engagement";
async function show() {
  const resp = await fetch(url, {headers: {"Authorization": "Bearer KEY"}});
  const summary = await resp.json();
  if (!resp.ok) throw new Error(resp.status + " " + JSON.stringify(summary));  // say why
  for (const [type, count] of Object.entries(summary.counts)) {
    const item = document.createElement("li");
    item.textContent = type + ": " + count;
    document.getElementById("counts").append(item);
  }
  document.getElementById("total").textContent = summary.total;
  const denied = await fetch(url);
  document.getElementById("error").textContent =
    denied.status + " " + (await denied.json()).error.code + " " +
    denied.headers.get("WWW-Authenticate");
}
show().then(
  () => { document.body.dataset.state = "done"; },
  (err) => { document.body.dataset.state = "failed: " + err; },
);
</script>
</body></html>
"""


def _demo(tmp_path: Path) -> tuple[str, str]:
    """`craftkit demo` in `tmp_path`: the database URL and the demo's key."""
    db_url = f"sqlite:///{tmp_path / 'craftkit.db'}"
    printed = craftkit(db_url, "demo").stdout
    key = re.search(r"ck_test_[A-Za-z0-9_-]{32}", printed)  # token_urlsafe: - and _ too
    assert key is not None, printed
    return db_url, key.group(0)


def _show(tmp_path: Path, page: tuple[str, Path], allowed: str) -> dict:
    origin, site = page
    db_url, key = _demo(tmp_path)
    env = {"CRAFTKIT_CORS_ORIGINS": allowed}
    with serve_database(db_url, tmp_path, env=env) as server:
        html = PAGE.replace("API", server.url).replace("RENDER", RENDER).replace("KEY", key)
        (site / "index.html").write_text(html)
        shown = open_page(f"{origin}/index.html", tmp_path / "page.png")
        shown["log"] = server.output()
    return shown


def test_a_page_on_an_allowed_origin_reads_the_engagement(
    tmp_path: Path,
    page_origin: tuple[str, Path],  # noqa: F811
) -> None:
    require_chromium()
    shown = _show(tmp_path, page_origin, allowed=page_origin[0])
    assert shown["state"] == "done", shown
    assert shown["counts"] and all(re.fullmatch(r"\w+: \d+", c) for c in shown["counts"])
    assert int(shown["total"]) > 0
    # The 401 envelope and its WWW-Authenticate header reached the page: CORS on errors too.
    assert shown["error"].startswith("401 unauthorized Bearer"), shown["error"]
    assert "OPTIONS" in shown["log"]  # the preflight was made, and logged


def test_the_browser_refuses_the_answer_for_another_origin(
    tmp_path: Path,
    page_origin: tuple[str, Path],  # noqa: F811
) -> None:
    """The same page with CRAFTKIT_CORS_ORIGINS naming another origin: proof CORS decides."""
    require_chromium()
    shown = _show(tmp_path, page_origin, allowed="http://localhost:5173")
    assert shown["state"].startswith("failed: TypeError"), shown
    assert shown["counts"] == []
