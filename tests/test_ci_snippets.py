"""docs/contract-testing.md's CI jobs, run: their command lines as written, in a scratch checkout.

The jobs test `openapi.yaml` (here this repo's contract: a bearer scheme, and its 401 and 404
documented, as stock `status_code_conformance` requires; the corpus' public bearer specs leave
their 401 or every response undocumented) against a `craftkit mock` of it started by the job.
What cannot run here is left out and said so: the `uses:` actions, `pip install` (the package
is installed in this venv) and CI expressions (`${{ secrets.… }}`, `$API_TOKEN`), whose value
the test provides. Port 8080 becomes a free one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT, free_port

DOC = (ROOT / "docs" / "contract-testing.md").read_text()
SPEC = ROOT / "openapi.yaml"
TOKEN = "ci-secret-" + "5" * 20


def snippet(heading: str) -> dict[str, Any]:
    """The first ```yaml block after `heading`."""
    after = DOC.split(f"\n### {heading}\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", after, re.DOTALL)
    assert block, f"no yaml block under {heading}"
    return yaml.safe_load(block[1])  # type: ignore[no-any-return]


def github_script(workflow: dict[str, Any]) -> tuple[str, dict[str, str]]:
    job = workflow["jobs"]["contract"]
    lines = []
    for step in job["steps"]:
        command = step.get("run")
        if command is None or command.startswith("pip install"):
            continue  # `uses:` actions; the install
        lines.append(command)
    return "\n".join(lines), dict(job.get("env") or {})


def gitlab_script(pipeline: dict[str, Any]) -> tuple[str, dict[str, str]]:
    job = pipeline["contract"]
    lines = [line for line in job["before_script"] if not line.startswith("pip install")]
    return "\n".join([*lines, *job["script"]]), dict(job.get("variables") or {})


def run_job(script: str, variables: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    port = str(free_port())
    shutil.copy(SPEC, tmp_path / "openapi.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTKIT_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "step-summary.md")
    env["CRAFTKIT_CONTRACT_MAX_EXAMPLES"] = "5"  # a small run; the job's lines stay as written
    for name, value in variables.items():
        # CI expressions are the CI's to fill: the secret is the test's token.
        env[name] = TOKEN if "${{" in value or value.startswith("$") else value
    body = script.replace("8080", port)
    # Each CI step is a shell of its own, but a job's background service outlives its step;
    # here one shell runs them all and stops the service at the end.
    wrapped = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{body}\n"
    return subprocess.run(
        ["bash", "-c", wrapped],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("ci", ["GitHub Actions", "GitLab CI"])
def test_the_ci_snippet_runs_and_passes(ci: str, tmp_path: Path) -> None:
    document = snippet(ci)
    script, variables = (github_script if ci == "GitHub Actions" else gitlab_script)(document)
    assert "craftkit contract-test --spec openapi.yaml" in script
    assert variables == {
        "CRAFTKIT_CONTRACT_BEARER": "${{ secrets.API_TOKEN }}"
        if ci == "GitHub Actions"
        else "$API_TOKEN"
    }
    job = run_job(script, variables, tmp_path)
    assert job.returncode == 0, job.stdout + job.stderr + (tmp_path / "service.log").read_text()
    junit = tmp_path / "reports" / "contract-junit.xml"
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests", "0")) > 10
    assert TOKEN not in job.stdout + job.stderr
    if ci == "GitHub Actions":
        summary = (tmp_path / "step-summary.md").read_text()
        assert summary.startswith("### Contract test ✅ passed"), summary
        assert "| `GET /v1/renders/{id}/engagement` |" in summary
        assert TOKEN not in summary
    else:
        artifact = document["contract"]["artifacts"]["reports"]["junit"]
        assert (tmp_path / artifact).is_file()


def test_the_ci_job_fails_when_the_service_refuses_the_token(tmp_path: Path) -> None:
    """The same GitLab job where the service knows another token: every call is a 401."""
    script, variables = gitlab_script(snippet("GitLab CI"))
    refusing = script.replace(
        "printf '%s\\n' \"$CRAFTKIT_CONTRACT_BEARER\" > service-keys.txt",
        "echo some-other-token > service-keys.txt",
    )
    assert refusing != script
    job = run_job(refusing, variables, tmp_path)
    assert job.returncode == 1, job.stdout + job.stderr
    refused = "every valid request with the given credentials was refused"
    assert f"GET /v1/renders/{{id}}/engagement: {refused}" in job.stdout
    suite = ElementTree.parse(tmp_path / "reports" / "contract-junit.xml").getroot()
    assert int(suite.get("failures", "0")) >= 1
