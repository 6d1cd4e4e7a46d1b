"""Stock Schemathesis, as anyone runs it: `schemathesis run --checks all`, no check excluded,
positive and negative data, against a live `craftkit serve` of each app kind.

No project configuration is read (the runs happen in an empty directory). Two runs per app:
one with generated ids (negative ones included: every answer must be a documented status),
and one whose ids are the demo render's, supplied as Schemathesis' `[parameters]` test data,
so valid requests read a stored render and its 200 is checked against the schema. The example
count is modest so `make test` stays quick; `make contract-deep` explores further. A broken
server (counts served as strings) must fail the same run: the runs can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.demo import DEMO_RENDER_ID
from contract_tests.test_live import craftkit, serve

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
MAX_EXAMPLES = "30"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("stock")
    db = tmp / "demo.db"
    url = f"sqlite:///{db}"
    seeded = craftkit(url, "demo")
    assert seeded.returncode == 0, seeded.stderr
    key = Path(f"{db}.demo-key").read_text().strip()
    return {"url": url, "key": key, "tmp": str(tmp)}


@pytest.fixture(scope="module", params=["async", "flask"])
def live(request: pytest.FixtureRequest, demo: dict[str, str]) -> Iterator[str]:
    app = request.param
    yield from serve(
        demo, [str(Path(sys.executable).with_name("craftkit")), "serve", "--app", app], app
    )


@pytest.fixture(scope="module")
def broken(demo: dict[str, str]) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "contract_tests.broken:create_broken_app",
    ]
    yield from serve(demo, command, "broken-stock")


def stock_run(
    url: str, key: str, workdir: Path, *, pinned_id: bool
) -> tuple[subprocess.CompletedProcess[str], Counter[int]]:
    """`schemathesis run` in an empty directory (plus `[parameters]` when `pinned_id`); the
    run and the statuses it saw (from its NDJSON report)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if pinned_id:
        (workdir / "schemathesis.toml").write_text(
            f'[parameters]\n"path.id" = "{DEMO_RENDER_ID}"\n', encoding="utf-8"
        )
    report = workdir / "events.ndjson"
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "20261204",
            "--header",
            f"Authorization: Bearer {key}",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    statuses: Counter[int] = Counter()
    if report.exists():
        for line in report.read_text(encoding="utf-8").splitlines():
            _count_statuses(json.loads(line), statuses)
    return run, statuses


def _count_statuses(node: object, statuses: Counter[int]) -> None:
    if isinstance(node, dict):
        status = node.get("status_code")
        if isinstance(status, int):
            statuses[status] += 1
        for value in node.values():
            _count_statuses(value, statuses)
    elif isinstance(node, list):
        for value in node:
            _count_statuses(value, statuses)


def test_stock_schemathesis_passes_with_generated_ids(
    live: str, demo: dict[str, str], tmp_path: Path
) -> None:
    run, statuses = stock_run(live, demo["key"], tmp_path / "generated", pinned_id=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert statuses[404] > 0, statuses  # generated ids, malformed ones included: the 404
    assert set(statuses) <= {200, 401, 404, 405}, statuses


def test_stock_schemathesis_passes_reading_a_stored_render(
    live: str, demo: dict[str, str], tmp_path: Path
) -> None:
    run, statuses = stock_run(live, demo["key"], tmp_path / "pinned", pinned_id=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert statuses[200] > 0, statuses  # the summary itself was checked against its schema


def test_stock_schemathesis_fails_a_broken_server(
    broken: str, demo: dict[str, str], tmp_path: Path
) -> None:
    run, _ = stock_run(broken, demo["key"], tmp_path / "broken", pinned_id=True)
    assert run.returncode != 0, run.stdout[-4000:]
    assert "response_schema_conformance" in run.stdout or "Response violates schema" in run.stdout
