"""Every `sh` block of the README runs as written, so the README cannot drift from the code.

Each block runs as one bash script (`set -euo pipefail`) in a fresh directory, as a user
would in the checkout: `.venv` there is this test's virtualenv, the database is the default
`craftkit.db` of that directory. Three things differ from a person typing, and only these:

- port 8080 becomes a free port, so that the test never meets another server;
- after a command that starts a server in the background (`craftkit serve …&`,
  `craftkit mock …&`) the script waits until the port answers, as a person would wait for
  the "Uvicorn running" line before typing the next command;
- `make` lines are checked with `make -n` (they install and run whole suites).

Servers left running are stopped with the script's process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, free_port

README = ROOT / "README.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BACKGROUND_SERVER = re.compile(r"^\s*craftkit (serve|mock)\b.*&\s*(#.*)?$")
VENV = Path(os.environ.get("VIRTUAL_ENV") or Path(__import__("sys").executable).parent.parent)
WAIT = (
    "for _ in $(seq 150); do curl -s -o /dev/null http://127.0.0.1:{port}/ && break; "
    "sleep 0.2; done"
)


def sh_blocks(text: str) -> list[str]:
    return [match.group(1) for match in SH_BLOCK.finditer(text)]


def runnable(block: str, port: int) -> str:
    """The block as the test runs it: the three differences of the module docstring."""
    lines = ["set -euo pipefail"]
    for line in block.replace("8080", str(port)).splitlines():
        if re.match(r"^\s*make ", line):
            line = re.sub(r"^\s*make ", f"make -n -C {ROOT} ", line)
        lines.append(line)
        if BACKGROUND_SERVER.match(line):
            lines.append(WAIT.format(port=port))
    return "\n".join(lines) + "\n"


def run_block(block: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRAFTKIT_", "DATABASE_URL", "PROMETHEUS_"))
    }
    env["PATH"] = "/usr/bin:/bin"  # no craftkit on PATH until the block activates .venv
    # Output to files, not pipes: a background server keeps a pipe open after bash exits.
    out, err = cwd / "block.out", cwd / "block.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            ["bash", "-c", runnable(block, free_port())],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # background servers share this group: stopped below
        )
        try:
            process.wait(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(
        process.args, process.returncode, out.read_text(), err.read_text()
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory like the checkout after `make run`, without its database."""
    (tmp_path / ".venv").symlink_to(VENV)
    return tmp_path


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    blocks = sh_blocks(README.read_text())
    assert len(blocks) >= 3
    assert blocks[0].startswith(". .venv/bin/activate")  # "Using it" says how to get craftkit


@pytest.mark.parametrize("index", range(len(sh_blocks(README.read_text()))))
def test_every_readme_block_runs_as_written(checkout: Path, index: int) -> None:
    block = sh_blocks(README.read_text())[index]
    first = block.startswith(". .venv/bin/activate")
    script = block if first else ". .venv/bin/activate\n" + block  # as after the first block
    done = run_block(script, checkout)
    assert done.returncode == 0, (
        f"block {index}:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    assert "Traceback" not in done.stderr
    if first:  # not only exit codes: the engagement answer counts the event it recorded
        assert re.search(r'"viewed":\s*1,', done.stdout), done.stdout
        assert re.search(r'"total":\s*1,', done.stdout), done.stdout
        assert "craftkit_requests_total" in done.stdout


def test_a_broken_command_fails_the_test(checkout: Path) -> None:
    """The runner is not lenient: a command that fails, fails the block."""
    done = run_block(". .venv/bin/activate\ncraftkit projects create\n", checkout)
    assert done.returncode != 0
    done = run_block("craftkit --version\n", checkout)  # without activating: not on PATH
    assert done.returncode == 127


def test_waiting_and_make_rules() -> None:
    script = runnable("craftkit serve --port 8080 &  # note\nmake contract-deep\n", 4242)
    assert "--port 4242 &" in script and "http://127.0.0.1:4242/" in script
    assert f"make -n -C {ROOT} contract-deep" in script


def test_every_relative_link_of_the_readme_and_docs_resolves() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
    linked = set(re.findall(r"\]\(docs/([^)]+)\)", README.read_text()))
    assert {"serving.md", "operations.md", "mock.md", "contract-testing.md"} <= linked
