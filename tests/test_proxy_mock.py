"""craftkit proxy in front of `craftkit mock` of public specs (3.0, 3.1, 3.2): a valid request for
every operation, built from the spec, goes through with no violation either way; and
`craftkit proxy` run for real: its record on SIGTERM and its exit codes."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.openapi.operations import Operation
from api.openapi.walk import media_examples
from tests.proxy_support import answer_bytes, proxied, recording_upstream
from tests.support import CRAFTKIT, ROOT, free_port, live_mock

SPECS = ROOT / "tests" / "data" / "specs"
CORPUS = [
    "oai-3.0-petstore-expanded.yaml",  # 3.0, base path /v2, allOf, 204 without content
    "oai-3.1-tictactoe.yaml",  # 3.1, basic, bearer, API key and OAuth2 schemes
    "redocly-museum.yaml",  # 3.1, base path, basic auth, problem+json errors
    "oai-3.2-query-example.yaml",  # 3.2, the QUERY method
]


def sample(schema: dict[str, Any] | None, example: Any = None) -> str:
    """A value a parameter's schema accepts, as text."""
    schema = schema or {}
    for candidate in (example, schema.get("example"), *(schema.get("examples") or [])[:1]):
        if candidate is not None:
            return str(candidate).lower() if isinstance(candidate, bool) else str(candidate)
    if schema.get("enum"):
        return str(schema["enum"][0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind in ("integer", "number"):
        return str(schema.get("minimum", 1))
    if kind == "boolean":
        return "true"
    return {
        "date": "2026-01-01",
        "date-time": "2026-01-01T00:00:00Z",
        "uuid": "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10",
    }.get(str(schema.get("format")), "x")


def valid_request(operation: Operation, base: str) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, target, headers, body) this operation accepts; None when the spec gives no
    example of a required body."""
    path = operation.path
    query = []
    headers: dict[str, str] = {}
    definition_params = {
        (p.get("name"), p.get("in")): p for p in operation.definition.get("parameters") or []
    }
    for param in operation.parameters:
        raw = definition_params.get((param.name, param.where), {})
        value = sample(dict(param.schema or {}), raw.get("example"))
        if param.where == "path":
            path = path.replace("{" + param.name + "}", value)
        elif param.required and param.where == "query":
            query.append(f"{param.name}={value}")
        elif param.required and param.where == "header":
            headers[param.name] = value
    for credential in operation.security[0] if operation.security else []:
        if credential.auth_scheme == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(b"user:pw").decode()
        elif credential.auth_scheme:
            headers["Authorization"] = "Bearer token123"
        elif credential.where == "header":
            headers[credential.name] = "key123"
        elif credential.where == "query":
            query.append(f"{credential.name}=key123")
    body = b""
    if operation.body_required and operation.body_content:
        request_body = operation.definition.get("requestBody") or {}
        for media_type, media in (request_body.get("content") or {}).items():
            examples = [example.value for example in media_examples(media)]
            schema = media.get("schema") or {}
            built = {
                k: v["example"]
                for k, v in (schema.get("properties") or {}).items()
                if "example" in v
            }
            if not examples and built and set(schema.get("required") or ()) <= set(built):
                examples = [built]  # an object of its properties' examples
            if examples and "json" in media_type:
                body = json.dumps(examples[0], default=str).encode()
                headers["Content-Type"] = media_type
                break
        else:
            return None
    target = base + path + ("?" + "&".join(query) if query else "")
    return operation.method, target, headers, body


@pytest.mark.parametrize("name", CORPUS)
def test_the_mock_of_a_public_spec_answers_within_its_contract(name: str, tmp_path: Path) -> None:
    spec = SPECS / name
    with (
        live_mock("--spec", str(spec), "--any-token", cwd=tmp_path) as mock,
        proxied(spec, mock.url) as (url, app),
    ):
        sent = 0
        for operation in app.operations.all:
            request = valid_request(operation, app.operations.base_path)
            if request is None:
                continue
            method, target, headers, body = request
            response = httpx.request(
                method, url + target, headers=headers, content=body or None, timeout=10
            )
            sent += 1
            assert "contract-violations" not in response.headers, (
                method,
                target,
                response.status_code,
                response.headers.get("contract-violations"),
                response.text[:300],
            )
    assert sent >= 1
    assert app.record.violations == 0, app.record.table()
    print(app.record.table())


def test_enforce_answers_a_bad_request_in_the_specs_own_error_shape() -> None:
    spec = SPECS / "redocly-museum.yaml"
    with (
        recording_upstream(lambda _r: answer_bytes(200, b"{}")) as upstream,
        proxied(spec, upstream.url, mode="enforce") as (url, app),
    ):
        base = app.operations.base_path
        response = httpx.get(url + base + "/museum-hours?limit=notanumber")
    assert upstream.received == []
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "error" not in body and body.get("title"), body


# --- `craftkit proxy` run for real -------------------------------------------------------------


def start_proxy(upstream: str, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (tmp_path / "proxy.log").open("wb")
    process = subprocess.Popen(
        [str(CRAFTKIT), "proxy", "--upstream", upstream, "--port", str(port), *args],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CRAFTKIT_LOG_LEVEL": "warning"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, (tmp_path / "proxy.log").read_text()
        try:
            httpx.get(url + "/__craftkit/report", timeout=1)
            return process, url
        except httpx.TransportError:
            assert time.monotonic() < deadline, "craftkit proxy did not start"
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


GOOD = b'{"counts": {"viewed": 1}, "linkOpens": 0, "total": 1, "recent": []}'
PATH = "/v1/renders/5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10/engagement"
KEY = {"Authorization": "Bearer ck_test_" + "a" * 32}


def test_on_sigterm_it_writes_the_record_and_exits_0_when_clean(tmp_path: Path) -> None:
    junit, report = tmp_path / "out" / "junit.xml", tmp_path / "report.json"
    with recording_upstream(lambda _r: answer_bytes(200, GOOD)) as upstream:
        process, url = start_proxy(
            upstream.url, tmp_path, "--junit", str(junit), "--report-json", str(report)
        )
        assert httpx.get(url + PATH, headers=KEY).status_code == 200
        code = stop(process)
    output = (tmp_path / "proxy.log").read_text()
    assert code == 0, output
    assert "coverage: 1 of 3 documented responses exercised (33.3%)" in output
    assert json.loads(report.read_text())["requests"] == 1
    assert '<testcase classname="GET /v1/renders/{id}/engagement" name="200">' in junit.read_text()


def test_a_file_it_cannot_write_on_exit_is_said_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = out / "report.json"
    with recording_upstream(lambda _r: answer_bytes(200, GOOD)) as upstream:
        process, url = start_proxy(upstream.url, tmp_path, "--report-json", str(report))
        assert report.exists()  # tried at start
        report.unlink()
        out.rmdir()
        out.write_text("now a file")  # so report.json can no longer be written
        assert httpx.get(url + PATH, headers=KEY).status_code == 200
        answer = httpx.get(url + "/__craftkit/report")  # the record still comes back
        assert answer.status_code == 200 and answer.json()["requests"] == 1
        code = stop(process)
    output = (tmp_path / "proxy.log").read_text()
    assert code == 1, output
    assert f"--report-json: cannot write {report}" in output and "Traceback" not in output
    assert "coverage: 1 of 3 documented responses exercised" in output  # the table still


def test_violations_or_low_coverage_exit_1(tmp_path: Path) -> None:
    bad = GOOD.replace(b'"viewed": 1', b'"viewed": "1"')
    with recording_upstream(lambda _r: answer_bytes(200, bad)) as upstream:
        process, url = start_proxy(upstream.url, tmp_path)
        assert "contract-violations" in httpx.get(url + PATH, headers=KEY).headers
        assert stop(process) == 1
    assert "craftkit proxy: 1 violations" in (tmp_path / "proxy.log").read_text()
    with recording_upstream(lambda _r: answer_bytes(200, GOOD)) as upstream:
        process, url = start_proxy(upstream.url, tmp_path, "--min-coverage", "50")
        httpx.get(url + PATH, headers=KEY)
        assert stop(process) == 1
    assert "coverage 33.3% is under --min-coverage 50%" in (tmp_path / "proxy.log").read_text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--upstream", "ftp://x"], "is not an http:// or https:// URL"),
        (["--upstream", "http://h:1/base"], "has a path or query"),
        (["--upstream", "http://h:1", "--spec", "pyproject.toml"], "pyproject.toml"),
        (
            ["--upstream", "http://h:1", "--report-path", "/v1/renders/x/engagement"],
            "choose another --report-path",
        ),
        # A folder that is a file: refused before the proxy listens, not after the session.
        (["--upstream", "http://h:1", "--junit", "pyproject.toml/j.xml"], "cannot write"),
        (["--upstream", "http://h:1", "--report-json", "README.md/r.json"], "README.md is a file"),
    ],
)
def test_bad_options_and_specs_exit_2_in_one_line(args: list[str], says: str) -> None:
    done = subprocess.run(
        [str(CRAFTKIT), "proxy", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
