"""cli/contract.py: `craftkit contract-test` without its extra, and its usage and load errors."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import CRAFTKIT, cli_without, free_port, live_mock


def test_contract_test_without_the_contract_extra_says_how_to_install_it(tmp_path):
    """As on a plain install: schemathesis made unimportable; one line, no traceback."""
    done = cli_without(
        "schemathesis",
        "ModuleNotFoundError(\"No module named 'schemathesis'\", name='schemathesis')",
        ["contract-test", "--url", "http://x", "--key", "k"],
        tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "schemathesis is missing: install the contract extra" in done.stderr
    assert "pip install 'craftkit-engagement[contract]'" in done.stderr
    assert "Traceback" not in done.stderr


# --- exit 2, one readable line: documents that do not load, options that make no sense ------

SPECS = Path(__file__).parent / "data" / "specs"


def contract_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTKIT_")}
    return subprocess.run(
        [str(CRAFTKIT), "contract-test", *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=clean,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mock_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server that answers, for every test here: the document or the options are wrong."""
    spec = str(SPECS / "readme-3.0-security.yaml")
    with live_mock("--spec", spec, cwd=tmp_path_factory.mktemp("mock")) as mock:
        yield mock.url


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (None, "no-such.yaml: no such file"),
        ("openapi: 3.1.0\npaths: [\n", "not valid YAML or JSON: "),
        ("- a list\n", "not an OpenAPI document (top level is not a map)"),
        ('swagger: "2.0"\npaths: {}\n', "swagger: 2.0 is not supported; expected OpenAPI 3.0"),
        ("openapi: 4.0.0\npaths: {}\n", "openapi: 4.0.0 is not supported"),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
            "      responses:\n        '200': {$ref: '#/components/responses/gone'}\n",
            "GET /x: Unresolvable reference in the schema",
        ),
    ],
    ids=["missing", "bad-yaml", "not-a-map", "swagger-2", "openapi-4", "dangling-ref"],
)
def test_a_document_that_does_not_load_is_one_line_and_exit_2(
    tmp_path: Path, mock_url: str, document: str | None, says: str
) -> None:
    spec = write(tmp_path / "spec.yaml", document) if document else str(tmp_path / "no-such.yaml")
    done = contract_test("--spec", spec, "--url", mock_url, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_yaml_error_says_where(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", "openapi: 3.1.0\ninfo:\n  title: [x\n")
    done = contract_test("--spec", spec, "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2
    assert re.search(r"at line \d+, column \d+", done.stderr), done.stderr


def test_a_spec_url_that_does_not_answer_is_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/openapi.yaml"
    done = contract_test("--spec", url, "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"{url}: could not fetch the document" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "http://127.0.0.1:{port}"], "nothing answers there"),
        (["--url", "127.0.0.1:8080"], "not a URL"),
        (["--api-key", "nope=1", "--url", "{mock}"], "--api-key nope=…: the spec has no apiKey"),
        (["--api-key", "novalue", "--url", "{mock}"], "--api-key expects NAME=VALUE"),
        (["--auth", "userwithoutpass", "--url", "{mock}"], "--auth expects USER:PASS"),
        (["--bearer", "a", "--key", "b", "--url", "{mock}"], "are one credential"),
        (["--operation", "GET /nope", "--url", "{mock}"], "--operation 'GET /nope': no such"),
        (["--path-param", "id", "--url", "{mock}"], "--path-param expects NAME=VALUE"),
        (["--skip-check", "nope", "--url", "{mock}"], "--skip-check nope: no such check"),
        (["--auth", "user:pâss✓", "--url", "{mock}"], "the settings do not load: Password"),
        # Refused before the run, not a traceback after it that loses the run's findings.
        (["--junit", "/dev/null/junit.xml", "--url", "{mock}"], "/dev/null is a file, not a"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, mock_url: str, args: list[str], says: str
) -> None:
    spec = str(SPECS / "readme-3.0-security.yaml")
    filled = [a.format(port=free_port(), mock=mock_url) for a in args]
    done = contract_test("--spec", spec, *filled, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
