"""`craftkit mock` as a user runs it: a real server, its options, and `--watch`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from api.openapi.spec import OpenAPI31Specification
from cli.main import main
from tests.support import ROOT, LiveMock, live_mock

CONTRACT = ROOT / "openapi.yaml"
ENGAGEMENT = "/v1/renders/5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10/engagement"
BEARER = {"Authorization": "Bearer ck_test_frontend"}


def responses() -> dict[str, Any]:
    spec = OpenAPI31Specification.from_path(CONTRACT).spec
    return spec["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]


def example(status: str) -> Any:
    return responses()[status]["content"]["application/json"]["example"]


def test_craftkit_mock_serves_the_contract_without_a_database(tmp_path: Path) -> None:
    with live_mock(cwd=tmp_path) as server:
        get = httpx.Client(base_url=server.url).get
        assert get(ENGAGEMENT, headers=BEARER).json() == example("200")
        bad = get("/v1/renders/nope/engagement", headers=BEARER)
        assert bad.status_code == 404 and bad.json()["error"]["code"] == "not_found"  # documented
        missing = get(ENGAGEMENT)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
        not_found = get(ENGAGEMENT, headers={**BEARER, "Prefer": "code=404"})
        assert not_found.status_code == 404 and not_found.json() == example("404")
        dynamic = get(ENGAGEMENT, headers={**BEARER, "Prefer": "dynamic=true, seed=11"})
        assert dynamic.status_code == 200 and dynamic.json() != example("200")
        log = server.output()
    assert f"mock: GET {ENGAGEMENT} -> 200 example" in log
    assert f"mock: GET {ENGAGEMENT} -> 404 example" in log
    assert f"mock: GET {ENGAGEMENT} -> 200 generated (seed 11)" in log
    assert "mock: GET /v1/renders/nope/engagement -> 404 error envelope" in log
    assert not list(tmp_path.glob("*.db")), "mock mode must not create a database"


def test_keys_cors_origin_and_delay_options(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("ck_test_frontend\n")
    origin = "http://localhost:5173"
    args = ("--keys", str(keys), "--cors-origin", origin, "--delay", "250")
    with live_mock(*args, cwd=tmp_path) as server:
        started = time.monotonic()
        ok = httpx.get(server.url + ENGAGEMENT, headers={**BEARER, "Origin": origin})
        assert time.monotonic() - started >= 0.25
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == origin
        other = httpx.get(server.url + ENGAGEMENT, headers={"Authorization": "Bearer ck_test_x"})
        assert other.status_code == 401


def wait_for(server: LiveMock, answered: Callable[[httpx.Response], bool]) -> httpx.Response:
    """GET the engagement until `answered` holds: a --watch worker reloads in the background."""
    deadline = time.monotonic() + 30
    resp = None
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(server.url + ENGAGEMENT, headers=BEARER, timeout=2)
        except httpx.TransportError:
            resp = None  # the worker is restarting
        if resp is not None and answered(resp):
            return resp
        time.sleep(0.2)
    raise AssertionError(f"last answer {resp and resp.text}; log:\n{server.output()}")


def test_watch_reloads_when_the_spec_changes(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.yaml"
    shutil.copy(CONTRACT, spec)
    original = example("200")
    with live_mock("--spec", str(spec), "--watch", cwd=tmp_path) as server:
        assert httpx.get(server.url + ENGAGEMENT, headers=BEARER).json() == original
        document = yaml.safe_load(spec.read_text())
        changed = document["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]["200"]
        changed["content"]["application/json"]["example"]["total"] = original["total"] + 100
        spec.write_text(yaml.safe_dump(document, sort_keys=False))
        wait_for(server, lambda r: r.json().get("total") == original["total"] + 100)


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ("openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n", "Invalid OpenAPI 3.1.0 document"),
        ("openapi: 3.1.0\ninfo: [unclosed\n", "not valid YAML"),
    ],
)
def test_watch_keeps_serving_the_last_good_spec_while_it_is_broken(
    tmp_path: Path, broken: str, problem: str
) -> None:
    """The reload of a broken spec used to kill the worker (requests hung), then answered 503:
    now the last spec that loaded is served, and the problem logged once, in one line."""
    spec = tmp_path / "openapi.yaml"
    shutil.copy(CONTRACT, spec)
    original = example("200")
    with live_mock("--spec", str(spec), "--watch", cwd=tmp_path) as server:
        spec.write_text(broken)
        deadline = time.monotonic() + 30
        while problem not in server.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        resp = wait_for(server, lambda r: r.status_code == 200)
        assert resp.json() == original
        assert httpx.get(server.url + "/openapi.yaml").content == CONTRACT.read_bytes()
        document = yaml.safe_load(CONTRACT.read_text())
        changed = document["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]["200"]
        changed["content"]["application/json"]["example"]["total"] = original["total"] + 1
        spec.write_text(yaml.safe_dump(document, sort_keys=False))
        wait_for(server, lambda r: r.json().get("total") == original["total"] + 1)
        log = server.output()
    assert log.count(problem) == 1, log  # logged once, in the log line of the reload
    assert "still serving the last good one" in log
    assert "Traceback" not in log, log


def test_without_a_good_spec_every_call_is_a_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No last good copy (it was removed): the 503 envelope naming the problem."""
    from starlette.testclient import TestClient

    from api.mock import OPTIONS_ENV, MockOptions, app_from_env

    spec = tmp_path / "openapi.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: [unclosed\n")
    options = MockOptions(spec_path=str(spec), last_good=str(tmp_path / "gone.yaml"))
    monkeypatch.setenv(OPTIONS_ENV, options.to_env())
    resp = TestClient(app_from_env()).get(ENGAGEMENT)
    assert resp.status_code == 503 and "not valid YAML" in resp.json()["error"]["message"]


DANGLING = """openapi: 3.0.3
info: {title: x, version: '1'}
paths:
  /pets:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n",
            'Invalid OpenAPI 3.1.0 document at #/info: "version" is a required property',
        ),
        (
            DANGLING,
            "Invalid OpenAPI 3.0.3 document at #/paths/~1pets/get/responses/200/content/"
            "application~1json/schema: $ref '#/components/schemas/Pet' points to nothing",
        ),
        ("openapi: 3.1.0\ninfo: [unclosed\n", "not valid YAML or JSON: "),
        ("openapi: 4.0.0\n", "openapi: 4.0.0 is not supported"),
        (
            "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "swagger: 2.0 (OpenAPI 2) is not supported; convert it to OpenAPI 3",
        ),
    ],
)
def test_a_bad_spec_is_refused_with_one_readable_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    """File, JSON pointer and problem; exit 2 as for any usage error; never a traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["mock", "--spec", str(bad)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {bad}: ")
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output and "{'openapi'" not in result.output


def test_an_example_that_breaks_its_schema_is_logged_once_at_start(tmp_path: Path) -> None:
    shop = ROOT / "tests" / "data" / "mock_shop.yaml"
    for watch in ((), ("--watch",)):
        with live_mock("--spec", str(shop), *watch, cwd=tmp_path) as server:
            resp = httpx.get(server.url + "/broken/named", headers={"Prefer": "example=wrong"})
            log = server.output()
        assert resp.status_code == 500 and "getHalfBroken 200" in resp.json()["error"]["message"]
        warning = "mock: spec example does not match its schema: getBroken 200"
        assert log.count(warning) == 1, log


def test_watch_reloads_for_the_spec_and_keys_files_only(tmp_path: Path) -> None:
    """uvicorn would also reload on any `*.py` next to the spec."""
    spec_dir, keys_dir = tmp_path / "spec", tmp_path / "secrets"
    spec_dir.mkdir()
    keys_dir.mkdir()
    spec, keys = spec_dir / "openapi.yaml", keys_dir / "keys.txt"
    shutil.copy(CONTRACT, spec)
    keys.write_text("ck_test_frontend\n")
    with live_mock("--spec", str(spec), "--keys", str(keys), "--watch", cwd=tmp_path) as server:
        assert httpx.get(server.url + ENGAGEMENT, headers=BEARER).status_code == 200
        (spec_dir / "handlers.py").write_text("x = 1\n")
        (spec_dir / "notes.yaml").write_text("x: 1\n")
        time.sleep(2.5)  # longer than watchfiles' 1.6 s debounce: these changes are seen
        keys.write_text("ck_test_someone_else\n")
        wait_for(server, lambda r: r.status_code == 401)
        log = server.output()
    assert log.count("Reloading") == 1 and "keys.txt" in log, log
    assert "handlers.py" not in log and "notes.yaml" not in log, log


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token-pattern", "ck_(", "--port", "1"], "--token-pattern is not a valid regular"),
        (["--token-pattern", "x", "--any-token", "--port", "1"], "contradict each other"),
    ],
)
def test_token_options_are_checked_before_serving(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["mock", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("origin", ["http://localhost:5173/", "localhost:5173", "ftp://a"])
def test_a_cors_origin_is_checked_by_the_servers_rule(origin: str) -> None:
    """An Origin header is never `http://localhost:5173/`: such a value refused every preflight."""
    # A missing --spec after it: before the check, that (not a server) ended the command.
    args = ["mock", "--cors-origin", origin, "--spec", "/nonexistent/api.yaml"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "--cors-origin" in result.stderr and "scheme and host, no path" in result.stderr
    assert "Traceback" not in result.output


def test_a_live_mock_refuses_a_token_of_another_shape(tmp_path: Path) -> None:
    """As `craftkit mock` runs by default: `Bearer whatever` is the real server's 401."""
    url = "/v1/renders/5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10/engagement"
    with live_mock(cwd=tmp_path) as mock:
        refused = httpx.get(mock.url + url, headers={"Authorization": "Bearer whatever"})
        taken = httpx.get(mock.url + url, headers={"Authorization": "Bearer ck_test_abc"})
    with live_mock("--any-token", cwd=tmp_path) as relaxed:
        relaxed_answer = httpx.get(relaxed.url + url, headers={"Authorization": "Bearer whatever"})
    assert refused.status_code == 401 and "Malformed API key" in refused.json()["error"]["message"]
    assert taken.status_code == 200 and relaxed_answer.status_code == 200


def test_the_start_up_lines_say_where_the_operations_are_and_a_call_that_works(
    tmp_path: Path,
) -> None:
    """Museum's operations live under /_mock/docs/openapi/museum-api; the curl line works."""
    import shlex

    museum = ROOT / "tests" / "data" / "specs" / "redocly-museum.yaml"
    with live_mock("--spec", str(museum), cwd=tmp_path) as server:
        base = f"{server.url}/_mock/docs/openapi/museum-api"
        log = server.output()
        assert f"Operations under {base}/  (Swagger UI: {base}/ui)" in log
        (curl,) = [line for line in log.splitlines() if line.startswith("Try: curl ")]
        words = shlex.split(curl.removeprefix("Try: "))
        user, password = words[words.index("-u") + 1].split(":", 1)
        resp = httpx.get(words[-1], auth=(user, password))
        assert words[-1] == f"{base}/museum-hours"
        assert resp.status_code == 200, resp.text
        assert httpx.get(f"{base}/ui").status_code == 200


def test_craftkit_mock_runs_behind_the_bounded_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same protocol as serve: a huge head cut off with the 431 envelope, HTTP/2.0 is 505,
    a head dripped past CRAFTKIT_HEAD_TIMEOUT is 408, an idle socket is closed (plain uvicorn
    read a 512 MB header whole and kept idle sockets for ever)."""
    import socket

    from tests.test_uvicorn_shim import closed_by_server, refusal, until_closed

    monkeypatch.setenv("CRAFTKIT_HEAD_TIMEOUT", "1")
    monkeypatch.setenv("CRAFTKIT_IDLE_TIMEOUT", "1")
    with live_mock(cwd=tmp_path) as server:
        host, port = server.url.removeprefix("http://").split(":")

        def connect() -> socket.socket:
            return socket.create_connection((host, int(port)), timeout=30)

        with connect() as sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: a\r\nX-Huge: " + b"h" * 1024 * 1024)
            refusal(*until_closed(sock), 431, "headers_too_large")
        with connect() as sock:
            sock.sendall(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
            refusal(*until_closed(sock), 505, "http_version_not_supported")
        with connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and nothing more
            refusal(*until_closed(sock), 408, "request_timeout")
        idle = [connect() for _ in range(20)]
        try:
            assert len(closed_by_server(idle)) == 20
        finally:
            for sock in idle:
                sock.close()
        assert httpx.get(f"{server.url}/openapi.json", timeout=10).status_code == 200
