"""README.md's `sh` blocks run as a newcomer runs them: pasted in order into one shell, in a
fresh clone, after `make run`.

The clone is `git clone` of this checkout's HEAD (so: what is committed) into a temporary
directory; there, `make run`'s setup is done for real (its `.venv` and `pip install -e .`, then
`craftkit demo`; `make run` would then serve in the foreground until Ctrl-C, which is left
out). Then every `sh` block, in order, joined into one bash script (`set -euo pipefail`, so
any failing command fails the test), runs in the clone with nothing but /usr/bin and /bin on
PATH. `make` lines run for real (`make contract` installs its extra and tests the server the
block started). One thing differs from a person typing, and only this: each port the README
uses is replaced by a free one, so the test never meets another server.

The README waits for each server it starts and stops it; the test checks that nothing it
started is left running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.support import ROOT, free_port

README = ROOT / "README.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PORT = re.compile(r"(?<=127\.0\.0\.1:)\d{4,5}\b|(?<=--port )\d{4,5}\b")
CLEAN_PATH = "/usr/bin:/bin"
SCRIPT_TIMEOUT = 600  # the contract run is most of it: about a minute on a quiet machine


def sh_blocks(text: str) -> list[str]:
    return [match.group(1) for match in SH_BLOCK.finditer(text)]


def as_one_script(text: str, ports: dict[str, int] | None = None) -> str:
    """Every `sh` block of `text`, in order, as one script; README ports become free ones."""
    chosen = {} if ports is None else ports

    def free(match: re.Match[str]) -> str:
        if match.group(0) not in chosen:
            chosen[match.group(0)] = free_port()
        return str(chosen[match.group(0)])

    return "set -euo pipefail\n" + PORT.sub(free, "".join(sh_blocks(text)))


def clean_env() -> dict[str, str]:
    """This environment without the project's settings, the test's virtualenv or its PATH."""
    dropped = ("CRAFTKIT_", "DATABASE_URL", "PROMETHEUS_", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["PATH"] = CLEAN_PATH
    return env


def run_script(script: str, cwd: Path, timeout: float = SCRIPT_TIMEOUT) -> tuple[int, str, str]:
    """Run `script` with bash in its own session; (exit code, stdout, stderr).

    Whatever the script leaves running is stopped afterwards, and fails the test: the README
    stops the servers it starts.
    """
    out, err = cwd / "readme.out", cwd / "readme.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        # Output to files, not pipes: a server left running would keep a pipe open.
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=cwd,
            env=clean_env(),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        left_running = False
        try:
            process.wait(timeout=timeout)
        finally:
            # The group outlives bash only if something it started still runs.
            deadline = time.monotonic() + 5
            while _group_alive(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(process.pid):
                left_running = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
    assert not left_running, f"the script left processes running:\n{err.read_text()[-3000:]}"
    return process.returncode, out.read_text(), err.read_text()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of HEAD after `make run`'s setup: `.venv` installed, the demo seeded."""
    where = tmp_path_factory.mktemp("readme") / "craftkit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True, timeout=60)
    env = clean_env()
    setup = subprocess.run(
        ["make", "-s", ".venv/.installed"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    demo = subprocess.run(
        [str(where / ".venv/bin/craftkit"), "demo"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0 and "Demo ready" in demo.stdout, demo.stdout + demo.stderr
    return where


def test_the_readme_runs_top_to_bottom_in_a_fresh_clone_after_make_run(clone: Path) -> None:
    script = as_one_script((clone / "README.md").read_text())
    code, out, err = run_script(script, clone)
    assert code == 0, f"--- stdout\n{out[-5000:]}\n--- stderr\n{err[-5000:]}"
    assert "Traceback" not in err, err[-5000:]
    # Not only exit codes: the engagement answer counts the event the README recorded,
    assert re.search(r'"viewed":\s*1,', out), out[-3000:]
    assert re.search(r'"total":\s*1,', out), out[-3000:]
    assert "craftkit_requests_total" in out
    assert '"code":"not_found"' in out.replace(" ", "")  # the mock's Prefer: code=404
    # and the contract run tested the server with both keys, the foreign one included.
    assert "No failures." in out, out[-5000:]
    assert "no --foreign-key" not in out + err
    assert (clone / "reports" / "contract-junit.xml").exists()


def test_the_readme_starts_each_server_on_its_own_port_and_stops_it() -> None:
    text = README.read_text()
    script = "".join(sh_blocks(text))
    started = re.findall(r"^craftkit (?:serve|mock)\b.*--port (\d+).*&", script, re.MULTILINE)
    assert len(started) == len(set(started)) >= 3, started
    assert "8080" not in started  # `make run`'s port: its server may still be up
    assert script.count("kill -INT $") == len(started)  # as Ctrl-C: exit 0, no traceback
    for port in started:  # each waits until its server answers before calling it
        assert re.search(rf"seq \d+\); do curl -sf -o /dev/null http://127.0.0.1:{port}/", script)


def test_readme_ports_become_free_ones_consistently() -> None:
    ports: dict[str, int] = {}
    text = "```sh\ncraftkit serve --port 8080 &\ncurl http://127.0.0.1:8080/x 127.0.0.1:4010\n```\n"
    script = as_one_script(text, ports)
    assert set(ports) == {"8080", "4010"} and ports["8080"] != ports["4010"]
    assert f"--port {ports['8080']} &" in script and f"127.0.0.1:{ports['8080']}/x" in script
    assert "8080" not in script and script.startswith("set -euo pipefail\n")


def test_a_broken_command_fails_the_script(tmp_path: Path) -> None:
    """The runner is not lenient: a command that fails, fails the script, and so does a server
    left running."""
    assert run_script("set -euo pipefail\nfalse\necho after\n", tmp_path)[0] != 0
    assert run_script("craftkit --version\n", tmp_path)[0] == 127  # not on PATH unactivated
    with pytest.raises(AssertionError, match="left processes running"):
        run_script("sleep 60 &\n", tmp_path)


def test_readme_and_docs_say_the_same_about_a_missing_database(tmp_path: Path) -> None:
    """`craftkit serve` refuses a missing SQLite file (exit 1); README and docs both say so."""
    missing = tmp_path / "nowhere.db"
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{missing}", "serve"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no database at {missing}: run `craftkit db init`")
    assert not missing.exists()
    for page in (README, ROOT / "docs" / "serving.md"):
        text = " ".join(page.read_text().split())
        assert "`Error: no database at …` (exit 1)" in text, page.name
        assert re.search(r"`(craftkit )?serve` included, refuses a missing", text), page.name
        assert "warns and answers 503 until it exists" not in text, page.name


def test_every_relative_link_of_the_readme_and_docs_resolves() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
    linked = set(re.findall(r"\]\(docs/([^)]+)\)", README.read_text()))
    assert {"serving.md", "operations.md", "mock.md", "contract-testing.md"} <= linked
