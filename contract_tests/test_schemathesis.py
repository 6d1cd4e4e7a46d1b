"""The in-process app against its contract: every Schemathesis phase and check, on seeded data."""

from __future__ import annotations

from typing import Any

from contract_tests import engine as contract
from tests.support import ROOT

OPERATION = "GET /v1/renders/{id}/engagement"


def test_the_server_meets_its_contract(app: Any, run_suite: Any) -> None:
    result = run_suite(app, junit=ROOT / "reports" / "contract-inprocess-junit.xml")
    print(contract.summary(result))  # shown with -s, or in the report of a failing run
    assert result.ok, contract.summary(result)

    statuses = result.statuses()[OPERATION]
    assert set(statuses) >= {200, 401, 404}
    # Beyond the documented three, only 405 for methods the contract does not declare: a
    # malformed id is the documented 404, unknown query parameters are ignored.
    assert set(statuses) <= {200, 401, 404, 405}
    # Steering works: a good share of valid requests read a stored render, with real data.
    positive = [e for e in result.exchanges if e.mode == "positive"]
    assert sum(e.status == 200 for e in positive) / len(positive) >= 0.4
    assert any(e.status == 200 and e.body["recent"] for e in result.exchanges)
    # Every kind of credentials was sent: the owner's, another project's, bad ones, none.
    assert {e.key for e in result.exchanges} >= {"owner", "foreign", "invalid", "none"}
    assert contract.coverage_gaps(result) == []


def test_every_phase_and_mode_ran(app: Any, run_suite: Any) -> None:
    result = run_suite(app, max_examples=20)
    assert {e.phase for e in result.exchanges} >= {"examples", "coverage", "fuzzing"}
    assert {e.mode for e in result.exchanges} >= {"positive", "negative"}
