"""`craftkit spec diff` as a user and a CI job run it: formats, exit codes, bad documents."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from click.testing import CliRunner

from cli.main import main
from contract_tests.spec_diff import cases
from tests.support import CRAFTKIT, ROOT, cli_without

CASES = {case.id: case for case in cases.cases()}


def pair(case_id: str, folder: Path) -> tuple[str, str]:
    base, revision = cases.write(CASES[case_id], folder)
    return str(base), str(revision)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["spec", "diff", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_compatible_is_exit_0_and_says_so(tmp_path: Path) -> None:
    code, out = run(*pair("museum-query-maximum-raised", tmp_path))
    assert code == 0
    assert out.splitlines()[0].endswith(": compatible")


def test_breaking_is_exit_1_with_the_counter_example(tmp_path: Path) -> None:
    code, out = run(*pair("museum-query-maximum-lowered", tmp_path))
    assert code == 1
    assert "BREAKING GET /museum-hours query parameter limit" in out
    assert 'counter-example: {"limit": 21}' in out
    assert "base: #/components/parameters/PaginationLimit/schema" in out


def test_markdown_is_a_pull_request_comment(tmp_path: Path) -> None:
    code, out = run(*pair("museum-response-pattern-removed", tmp_path), "--format", "markdown")
    assert code == 1
    assert out.startswith("### Spec diff: :x: breaking")
    row = next(line for line in out.splitlines() if line.startswith("| :x: | `GET /museum-hours`"))
    assert "response-widened" in row and '"timeOpen"' in row


def test_json_carries_every_field(tmp_path: Path) -> None:
    code, out = run(*pair("museum-required-query-added", tmp_path), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["verdict"] == "breaking" and report["breaking"] == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "parameter-required"
    assert finding["counterExample"] == {}
    assert finding["revisionPointer"] == "#/paths/~1special-events/get/parameters/4/schema"


def test_junit_fails_one_case_per_breaking_change(tmp_path: Path) -> None:
    code, out = run(*pair("museum-success-status-changed", tmp_path), "--format", "junit")
    assert code == 1
    suite = ElementTree.fromstring(out.split("?>", 1)[1]).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("type") == "response-status-removed"


def test_junit_of_a_compatible_pair_has_one_passing_case(tmp_path: Path) -> None:
    code, out = run(*pair("ours-type-list-as-anyof", tmp_path), "--format", "junit")
    assert code == 0
    suite = ElementTree.fromstring(out.split("?>", 1)[1]).find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("tests") == "1"


def test_a_warning_fails_only_with_fail_on_warning(tmp_path: Path) -> None:
    base, revision = pair("ours-enum-value-added", tmp_path)
    code, out = run(base, revision)
    assert code == 0 and "WARNING" in out and '"eventType": "signed"' in out
    code, _ = run(base, revision, "--fail-on", "warning")
    assert code == 1


def test_output_writes_the_report_to_a_file(tmp_path: Path) -> None:
    base, revision = pair("museum-request-closed-object", tmp_path)
    target = tmp_path / "report.md"
    code, out = run(base, revision, "--format", "markdown", "--output", str(target))
    assert code == 1
    assert target.read_text().startswith("### Spec diff: :x: breaking")
    assert "### Spec diff" not in out


def test_an_output_it_cannot_write_is_a_usage_error_before_the_diff(tmp_path: Path) -> None:
    base, revision = pair("museum-request-closed-object", tmp_path)
    (tmp_path / "taken").write_text("a file where a folder should be")
    code, out = run(base, revision, "--output", str(tmp_path / "taken" / "report.md"))
    assert code == 2, out
    assert "Invalid value for --output" in out and "taken is a file, not a folder" in out
    code, _ = run(base, revision, "--output", str(tmp_path / "new" / "report.md"))
    assert code == 1 and (tmp_path / "new" / "report.md").read_text().startswith("spec diff ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read: No such file or directory"),
        ("openapi: 3.1.0\ninfo: x: y\n", "not valid YAML or JSON: mapping values are not allowed"),
        ("- a list\n", "not an OpenAPI document"),
        (
            "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "#/swagger: 2.0 (OpenAPI 2) is not supported; convert it to OpenAPI 3",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
            "      responses: {'200': {content: {}}}\n",
            '#/paths/~1a/get/responses/200: invalid OpenAPI 3.1.0 document: "description" is a '
            "required property",
        ),
        (  # a dangling $ref: where it sits and what it names, not a dump of the document
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
            "      responses: {'200': {description: ok, content: {application/json: "
            "{schema: {$ref: '#/components/schemas/Nope'}}}}}\n",
            "#/paths/~1a/get/responses/200/content/application~1json/schema: invalid OpenAPI "
            "3.1.0 document: $ref '#/components/schemas/Nope' points to nothing",
        ),
    ],
)
def test_a_document_that_does_not_load_is_exit_2_in_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    bad = tmp_path / "bad.yaml"
    if content is not None:
        bad.write_text(content)
    done = subprocess.run(
        [str(CRAFTKIT), "spec", "diff", str(ROOT / "openapi.yaml"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: {bad}") and expected in line, line
    assert "'openapi'" not in line, line  # never the document itself
    assert "Traceback" not in done.stderr


def test_git_ref_that_does_not_exist_is_exit_2(tmp_path: Path) -> None:
    code, out = run("git:no-such-ref-xyz:openapi.yaml", str(ROOT / "openapi.yaml"))
    assert code == 2 and "git:no-such-ref-xyz:openapi.yaml:" in out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_documents_load_from_urls_and_as_json(tmp_path: Path, served: str) -> None:
    base, revision = cases.documents(CASES["petstore-query-maximum-lowered"])
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "revision.yaml").write_text(yaml.safe_dump(revision))
    code, out = run(f"{served}/base.json", f"{served}/revision.yaml")
    assert code == 1 and '{"limit": 51}' in out
    code, out = run(f"{served}/base.json", f"{served}/missing.yaml")
    assert code == 2 and "cannot fetch" in out


def test_openapi_3_2_documents_load() -> None:
    spec = str(ROOT / "tests/data/specs/oai-3.2-mega.yaml")
    code, out = run(spec, spec)
    assert code == 0, out


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=60)


def test_the_pull_request_recipe_in_a_git_repository(tmp_path: Path) -> None:
    """docs/spec-diff.md's job: the spec at the previous commit against the working one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    (repo / "openapi.yaml").write_text(yaml.safe_dump(spec))
    git(repo, "add", "openapi.yaml")
    git(repo, "commit", "-q", "-m", "contract")
    recipe = [str(CRAFTKIT), "spec", "diff", "git:HEAD~1:openapi.yaml", "openapi.yaml"]

    summary = spec["components"]["schemas"]["EngagementSummary"]
    summary["properties"]["total"]["minimum"] = 0  # responses narrowed: compatible
    (repo / "openapi.yaml").write_text(yaml.safe_dump(spec))
    git(repo, "commit", "-q", "-am", "compatible")
    done = subprocess.run(
        [*recipe, "--format", "markdown"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("### Spec diff: :white_check_mark: compatible")

    summary["required"].remove("recent")  # a response may now lack `recent`: breaking
    (repo / "openapi.yaml").write_text(yaml.safe_dump(spec))
    git(repo, "commit", "-q", "-am", "breaking")
    done = subprocess.run(
        [*recipe, "--format", "markdown"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("### Spec diff: :x: breaking")
    assert "`GET /v1/renders/{id}/engagement`" in done.stdout and "response-widened" in done.stdout


def test_without_the_contract_extra_it_says_how_to_install_it(tmp_path: Path) -> None:
    """hypothesis made unimportable, as on a plain install: one line, exit 2."""
    done = cli_without(
        "hypothesis",
        "ModuleNotFoundError(\"No module named 'hypothesis'\", name='hypothesis')",
        ["spec", "diff", "openapi.yaml", "openapi.yaml"],
        tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "hypothesis is missing: install the contract extra" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_long_counter_example_is_cut_for_reading_and_whole_in_json(tmp_path: Path) -> None:
    base, revision = pair("petstore-response-max-items-removed", tmp_path)
    code, out = run(base, revision)
    assert code == 1 and "characters; --format json has it whole)" in out
    code, out = run(base, revision, "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert len(finding["counterExample"]) == 101  # one past the old maxItems
