"""cli/serve.py: `craftkit serve` as users run it (a real uvicorn process, called over HTTP
with curl), and what it refuses to serve, in one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from openapi_schema_validator import OAS31Validator

from cli.main import main
from tests.support import ROOT, free_port

CRAFTKIT = str(Path(sys.executable).with_name("craftkit"))
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())


def schema_validator(name: str) -> OAS31Validator:
    """A validator for one component schema, its $refs resolved inside the contract."""
    root = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    return OAS31Validator(root)


def craftkit(db_url: str, *args: str) -> str:
    done = subprocess.run(
        [CRAFTKIT, "--database-url", db_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Run curl; return status, headers (lower-cased names) and body."""
    done = subprocess.run(
        ["curl", "-s", "-i", *args], capture_output=True, text=True, timeout=30, check=True
    )
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {
        name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)
    }
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`craftkit demo`, then `craftkit serve --workers 2` on a free port, as `make run` does."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the printed curl line")
    workdir = tmp_path_factory.mktemp("serve")
    db_url = f"sqlite:///{workdir / 'craftkit.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = craftkit(db_url, "demo", "--base-url", base)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAFTKIT_", "DATABASE_"))}
    proc = subprocess.Popen(
        [CRAFTKIT, "--database-url", db_url, "serve", "--port", str(port), "--workers", "2"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"craftkit serve did not start:\n{proc.stdout.read() if proc.stdout else ''}"
                )
            time.sleep(0.2)
        yield {"base": base, "db_url": db_url, "demo": demo, "proc": proc}
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "ck_test_" not in output and "ck_live_" not in output, "a key reached the log"


def test_the_printed_curl_line_returns_a_valid_summary(server):
    line = re.search(r"^\s*(curl .+)$", server["demo"], flags=re.MULTILINE)
    assert line, server["demo"]
    done = subprocess.run(
        ["bash", "-c", line.group(1) + " -w '\\n%{http_code} %{content_type}'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, trailer = done.stdout.rpartition("\n")
    assert trailer == "200 application/json", done.stdout
    summary = json.loads(body)
    schema_validator("EngagementSummary").validate(summary)
    assert summary["total"] == 60 and len(summary["recent"]) == 20


def test_error_envelopes_over_the_wire(server):
    key = re.search(r"Bearer (\S+)'", server["demo"]).group(1)  # type: ignore[union-attr]
    render = re.search(r"/v1/renders/([0-9a-f-]{36})/", server["demo"]).group(1)  # type: ignore[union-attr]
    base = server["base"]
    auth = f"Authorization: Bearer {key}"
    error = schema_validator("Error")

    status, headers, body = curl("-H", auth, f"{base}/v1/renders/not-a-uuid/engagement")
    assert (status, headers["content-type"]) == (404, "application/json")  # names no render
    assert json.loads(body)["error"]["code"] == "not_found"
    error.validate(json.loads(body))

    many = "&".join(f"p{i}=1" for i in range(20))
    status, headers, body = curl("-H", auth, f"{base}/v1/renders/{render}/engagement?{many}")
    assert (status, headers["content-type"]) == (400, "application/json")
    assert json.loads(body)["error"]["code"] == "invalid_request"
    error.validate(json.loads(body))

    status, headers, body = curl(f"{base}/v1/renders/{render}/engagement")
    assert (status, headers["content-type"]) == (401, "application/json")
    assert headers["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["message"] == "Missing Bearer token."

    status, headers, body = curl("-H", auth, f"{base}/v1/nothing-here")
    assert (status, json.loads(body)["error"]["code"]) == (404, "not_found")
    assert headers["content-type"] == "application/json"

    status, headers, _ = curl("-X", "DELETE", "-H", auth, f"{base}/v1/renders/{render}/engagement")
    assert status == 405 and "GET" in headers["allow"]


def test_another_projects_key_gets_404(server):
    db_url = server["db_url"]
    craftkit(db_url, "projects", "create", "other")
    other_key = craftkit(db_url, "keys", "create", "--project", "other").strip()
    render = re.search(r"/v1/renders/([0-9a-f-]{36})/", server["demo"]).group(1)  # type: ignore[union-attr]
    status, headers, body = curl(
        "-H",
        f"Authorization: Bearer {other_key}",
        f"{server['base']}/v1/renders/{render}/engagement",
    )
    assert (status, headers["content-type"]) == (404, "application/json")
    assert json.loads(body) == {"error": {"code": "not_found", "message": "Render not found."}}


def test_serve_reload_restarts_when_the_spec_changes(tmp_path):
    """`craftkit serve --reload` for development: an edited spec is served after a restart."""
    from tests.support import live_serve

    spec = tmp_path / "openapi.yaml"
    shutil.copyfile(ROOT / "openapi.yaml", spec)
    subprocess.run([CRAFTKIT, "db", "init"], cwd=tmp_path, check=True, capture_output=True)
    env = {"CRAFTKIT_SPEC": str(spec), "CRAFTKIT_LOG_FORMAT": "text"}
    with live_serve("--reload", cwd=tmp_path, env=env) as live:
        title = httpx.get(f"{live.url}/openapi.json").json()["info"]["title"]
        spec.write_text(spec.read_text().replace(f"title: {title}", "title: Edited API", 1))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                edited = httpx.get(f"{live.url}/openapi.json", timeout=2).json()["info"]["title"]
            except httpx.HTTPError:
                edited = None  # restarting
            if edited == "Edited API":
                break
            time.sleep(0.3)
        log = live.output()
    assert edited == "Edited API", log  # served by a new worker: the old one read the file once
    assert "detected changes in 'openapi.yaml'. Reloading" in log  # uvicorn says why
    assert "change detected" not in log and "changes detected" not in log  # watchfiles' noise


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("openapi: 3.1.0\npaths: {}\n", 'Invalid OpenAPI 3.1.0 document: "info" is a required'),
        ("openapi: 3.1.0\ninfo: [\n", "not valid YAML or JSON: expected the node content"),
        ("- just\n- a list\n", "not an OpenAPI document (top level is not a map)"),
    ],
)
def test_serve_refuses_a_broken_spec_in_one_line(tmp_path, document, message):
    spec = tmp_path / "broken.yaml"
    spec.write_text(document)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(
        main, ["--database-url", url, "serve", "--port", "1"], env={"CRAFTKIT_SPEC": str(spec)}
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {spec}: {message}")
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


def test_yaml_errors_name_the_line(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: 3.1.0\ninfo:\n  title: x\n  version: [\n")
    result = CliRunner().invoke(
        main, ["serve", "--port", "1", "--no-init"], env={"CRAFTKIT_SPEC": str(spec)}
    )
    assert "at line 5, column 1" in result.stderr


def test_serve_reload_runs_one_worker():
    result = CliRunner().invoke(main, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 1 and "--reload runs one worker" in result.stderr


@pytest.mark.parametrize(
    ("command", "flag", "env", "value"),
    [
        ("serve", "--port", "CRAFTKIT_PORT", "99999"),
        ("serve", "--port", "CRAFTKIT_PORT", "0"),
        ("serve", "--workers", "CRAFTKIT_WORKERS", "0"),
        ("mock", "--port", "CRAFTKIT_PORT", "70000"),
        ("proxy", "--port", "CRAFTKIT_PORT", "99999"),
        ("proxy", "--port", "CRAFTKIT_PORT", "0"),
    ],
)
def test_a_flag_and_its_variable_refuse_the_same_values(command, flag, env, value):
    """One rule per setting (api/config.py): the flag says what the variable says, for every
    command that takes the flag (the proxy once handed a bad port to uvicorn and exited 0)."""
    runner = CliRunner()
    args = [command, "--upstream", "http://127.0.0.1:9"] if command == "proxy" else [command]
    by_flag = runner.invoke(main, [*args, flag, value], env={env: None})
    by_env = runner.invoke(main, args, env={env: value})
    assert by_flag.exit_code == by_env.exit_code == 2, (by_flag.output, by_env.output)
    problem = re.search(r"must be .*", by_env.stderr)
    assert problem is not None, by_env.stderr
    assert f"Invalid value for '{flag}': {problem.group(0)}" in by_flag.stderr


def test_good_values_pass_the_same_rule():
    from api.config import check

    assert check("port", 1) is None and check("port", 65535) is None
    assert check("workers", 1) is None
    assert check("port", 65536) == "must be between 1 and 65535, got 65536"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_serve_without_a_traceback(tmp_path, workers):
    """SIGINT, as Ctrl-C at the end of `make run`: the server stops cleanly, stderr says so."""
    import signal

    from tests.support import serve_database

    db_url = f"sqlite:///{tmp_path / 'craftkit.db'}"
    craftkit(db_url, "db", "init")
    with serve_database(db_url, tmp_path, "--workers", workers) as served:
        assert httpx.get(f"{served.url}/metrics", timeout=10).status_code == 200  # metrics made
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=30) == 0
        output = served.output()
    assert "Finished server process" in output or "Stopping parent process" in output, output
    assert "Traceback" not in output and "Exception ignored" not in output, output


def test_an_unreachable_postgresql_is_warned_about_on_one_line(tmp_path):
    from tests.support import serve_database

    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/test"
    with serve_database(url, tmp_path) as served:
        ready = httpx.get(f"{served.url}/readyz", timeout=10)
        output = served.output()
    warning = next(line for line in output.splitlines() if line.startswith("warning:"))
    assert "Connection refused. Is the server running on that host" in warning, output
    assert warning.endswith("requests will get 503")
    assert ready.status_code == 503 and "refuses connections" in ready.json()["error"]["message"]
    assert "hunter2" not in output and "hunter2" not in ready.text
