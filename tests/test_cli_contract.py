"""cli/contract.py: `craftkit contract-test` without its extra."""

from __future__ import annotations

from tests.support import cli_without


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
