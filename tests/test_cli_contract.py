"""cli/contract.py: `craftkit contract-test` without its extra."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def test_contract_test_without_the_contract_extra_says_how_to_install_it(tmp_path):
    """As on a plain install: schemathesis made unimportable; one line, no traceback."""
    blocker = tmp_path / "schemathesis"
    blocker.mkdir()
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'schemathesis'\", name='schemathesis')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "contract-test", "--url", "http://x", "--key", "k"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "schemathesis is missing: install the contract extra" in done.stderr
    assert "pip install 'craftkit-engagement[contract]'" in done.stderr
    assert "Traceback" not in done.stderr
