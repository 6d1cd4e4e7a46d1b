"""`craftkit contract-test --url` against real servers started here: `craftkit serve`, and a
broken one, each on a free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.demo import DEMO_RENDER_ID
from tests.support import ROOT, free_port

CRAFTKIT = str(Path(sys.executable).with_name("craftkit"))
MAX_EXAMPLES = "40"


def craftkit(database_url: str, *args: str, **options: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CRAFTKIT, "--database-url", database_url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
        **options,  # type: ignore[call-overload]
    )


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise AssertionError(f"server did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A demo database (`craftkit demo`), plus a second project's key."""
    tmp = tmp_path_factory.mktemp("live")
    db = tmp / "demo.db"
    url = f"sqlite:///{db}"
    seeded = craftkit(url, "demo")
    assert seeded.returncode == 0, seeded.stderr
    assert craftkit(url, "projects", "create", "other").returncode == 0
    foreign = craftkit(url, "keys", "create", "--project", "other")
    assert foreign.returncode == 0, foreign.stderr
    key = Path(f"{db}.demo-key").read_text().strip()
    assert key in seeded.stdout  # the printed curl line carries the same key
    return {"url": url, "key": key, "foreign_key": foreign.stdout.strip(), "tmp": str(tmp)}


def serve(demo: dict[str, str], command: list[str], name: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": demo["url"], "CRAFTKIT_LOG_LEVEL": "warning"}
    server = start([*command, "--port", str(port)], env, port, Path(demo["tmp"]) / f"{name}.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def live_server(demo: dict[str, str]) -> Iterator[str]:
    yield from serve(demo, [CRAFTKIT, "serve"], "serve")


@pytest.fixture(scope="module")
def broken_server(demo: dict[str, str]) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "contract_tests.broken:create_broken_app",
    ]
    yield from serve(demo, command, "broken")


def contract_test(
    demo: dict[str, str], url: str, junit: Path, *, foreign: bool = True
) -> subprocess.CompletedProcess:
    return craftkit(
        demo["url"],
        "contract-test",
        "--url",
        url,
        "--key",
        demo["key"],
        *(["--foreign-key", demo["foreign_key"]] if foreign else []),
        "--render-id",
        str(DEMO_RENDER_ID),
        "--junit",
        str(junit),
        "--max-examples",
        MAX_EXAMPLES,
    )


@pytest.mark.parametrize("foreign", [True, False], ids=["two-projects", "one-key"])
def test_a_live_server_passes_with_a_summary_and_a_junit_report(
    demo: dict[str, str], live_server: str, tmp_path: Path, foreign: bool
) -> None:
    junit = tmp_path / "reports" / "junit.xml"
    run = contract_test(demo, live_server, junit, foreign=foreign)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "GET /v1/renders/{id}/engagement" in run.stdout
    header = next(line for line in run.stdout.splitlines() if line.startswith("Operation "))
    heads = header.split()[1:]
    assert {"200", "401", "404"} <= set(heads)  # documented, so not starred
    assert {h for h in heads if h.endswith("*")} <= {"405*"}
    assert "No failures." in run.stdout
    assert demo["key"] not in run.stdout + run.stderr  # credentials never printed
    assert ("foreign" in run.stdout.split("Credentials sent:")[1].splitlines()[0]) == foreign
    assert "produced 1 times" not in run.stdout
    # Progress on stderr, a line per phase with its counts.
    assert "examples phase: started" in run.stderr
    assert re.search(r"fuzzing phase: \d+ requests, 0 failed checks in", run.stderr), run.stderr
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "0"
    cases = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase")}
    operation = "GET /v1/renders/{id}/engagement"
    assert (operation, "response_schema_conformance") in cases  # one case per check
    assert (operation, "documented responses produced") in cases
    assert int(suite.get("tests", "0")) == len(cases) >= 15


def test_a_broken_live_server_fails_with_a_curl_reproduction(
    demo: dict[str, str], broken_server: str, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    run = contract_test(demo, broken_server, junit)
    print(run.stdout)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[response_schema_conformance]" in run.stdout
    bearer = '"Authorization: Bearer ${CRAFTKIT_CONTRACT_KEY}"'
    reproduce = f"Reproduce: curl -X GET -H {bearer} {broken_server}"
    assert reproduce in run.stdout
    assert demo["key"] not in run.stdout
    suite = ElementTree.parse(junit).getroot()
    failed = {
        case.get("name"): failure.text or ""
        for case in suite.iter("testcase")
        if (failure := case.find("failure")) is not None
    }
    assert "response_schema_conformance" in failed
    assert "Response violates schema" in failed["response_schema_conformance"]
    assert suite.get("failures") == str(len(failed))
    assert "not_a_server_error" not in failed  # the checks that passed are passing cases

    # The line pastes: with the key in the environment, it gets the broken answer again.
    curl = next(line for line in run.stdout.splitlines() if "Reproduce: " in line)
    replay = subprocess.run(
        ["bash", "-c", curl.split("Reproduce: ", 1)[1] + " -s -o /dev/null -w '%{http_code}'"],
        env={**os.environ, "CRAFTKIT_CONTRACT_KEY": demo["key"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert replay.stdout not in ("", "401"), replay


def test_a_refused_key_fails_the_run_instead_of_passing_on_401s(
    demo: dict[str, str], live_server: str, tmp_path: Path
) -> None:
    """Every answer a 401 would check no 200 body: that is a gap, and gaps fail a live run."""
    run = craftkit(
        demo["url"],
        "contract-test",
        "--url",
        live_server,
        "--key",
        "ck_test_" + "A" * 32,  # well formed, but no such key
        "--render-id",
        str(DEMO_RENDER_ID),
        "--junit",
        str(tmp_path / "junit.xml"),
        "--max-examples",
        "20",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "200: NEVER PRODUCED" in run.stdout
    assert "FAILED: " in run.stdout and "documented responses never produced" in run.stdout
    assert "does the server accept them?" in run.stdout
    assert "no --foreign-… identity" in run.stderr

    allowed = craftkit(
        demo["url"], "contract-test", "--url", live_server, "--key", "ck_test_" + "A" * 32,
        "--allow-gaps", "--max-examples", "20", "--junit", str(tmp_path / "j2.xml"),
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stdout
    assert "no --render-id" in allowed.stderr


def test_the_mock_passes_every_check_with_its_default_options(tmp_path: Path) -> None:
    """`craftkit mock` as started by a frontend team. It answers every well-formed id with the
    200 example (unless asked with `Prefer: code=404`), a malformed one with the documented
    404, so only the 404's example is never produced."""
    from tests.support import live_mock

    with live_mock(cwd=tmp_path) as mock:
        run = subprocess.run(
            [
                CRAFTKIT, "contract-test", "--url", mock.url, "--allow-gaps",
                "--render-id", str(DEMO_RENDER_ID), "--max-examples", MAX_EXAMPLES,
                "--junit", str(tmp_path / "junit.xml"),
            ],
            env={**os.environ, "CRAFTKIT_CONTRACT_KEY": "ck_test_" + "m" * 32},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No failures." in run.stdout
    gaps = run.stdout.split("Gaps:")[1].split("\n\n")[0]
    assert "401 never" not in gaps and "200 never" not in gaps
    assert "documented status 404 never produced" not in gaps


def test_path_param_id_is_what_render_id_means(
    demo: dict[str, str], live_server: str, tmp_path: Path
) -> None:
    """`--path-param id=…` steers to a stored render as `--render-id` does: 200s are checked."""
    run = craftkit(
        demo["url"], "contract-test", "--url", live_server, "--key", demo["key"],
        "--path-param", f"id={DEMO_RENDER_ID}", "--max-examples", "20",
        "--junit", str(tmp_path / "junit.xml"), "--report", "markdown",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("### Contract test ✅ passed")
    row = next(line for line in run.stdout.splitlines() if line.startswith("| `GET /v1/"))
    heads = next(line for line in run.stdout.splitlines() if line.startswith("| Operation"))
    cells = dict(zip(heads.split("|")[2:-1], row.split("|")[2:-1], strict=True))
    assert int(cells[" 200 "].strip() or 0) > 0, run.stdout
    assert "no --render-id" not in run.stderr
