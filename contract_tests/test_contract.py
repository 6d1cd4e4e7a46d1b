"""contract_tests/engine.py without a server: configuration, and reports built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests import engine as contract
from contract_tests.documents import Document

OPERATION = "GET /v1/renders/{id}/engagement"
DOCUMENTED = contract.documented_responses(Document(contract.our_contract()))
NOT_FOUND = {"error": {"code": "not_found", "message": "Render not found."}}


@pytest.mark.parametrize("foreign_key", [None, "ck_test_" + "F" * 32])
def test_the_config_is_the_toml_plus_the_owners_key_per_scheme(foreign_key: str | None) -> None:
    credentials = contract.Credentials.from_keys("ck_test_" + "K" * 32, foreign_key)
    config = contract.load_config(credentials, contract.our_contract(), max_examples=7, seed=3)
    project = config.projects.get_default()
    assert config.seed == 3
    assert project.generation.max_examples == 7
    # The contract's one scheme, bearerApiKey, gets the owner's key; the foreign key is only
    # ever sent by the engine itself (steering, the cross-tenant replay).
    schemes = project.auth.openapi.schemes
    assert list(schemes) == ["bearerApiKey"]
    assert getattr(schemes["bearerApiKey"], "bearer", None) == "ck_test_" + "K" * 32
    assert project.auth.wfc is None
    assert contract.junit_path(config) == Path("reports/contract-junit.xml")


def exchange(status: int, body: object) -> contract.Exchange:
    return contract.Exchange(
        OPERATION, "GET", "/v1/renders/x/engagement", status, "fuzzing", "positive", "owner", body
    )


def test_documented_responses_follow_refs_to_their_examples() -> None:
    statuses = DOCUMENTED[OPERATION]
    assert list(statuses) == ["200", "401", "404"]
    assert statuses["404"] == [NOT_FOUND]
    assert statuses["200"][0]["linkOpens"] == 8


def test_a_documented_status_never_produced_is_a_gap() -> None:
    result = contract.ContractResult(documented=DOCUMENTED, exchanges=[exchange(404, NOT_FOUND)])
    gaps = contract.coverage_gaps(result)
    assert f"{OPERATION}: documented status 200 never produced" in gaps
    assert f"{OPERATION}: documented status 401 never produced" in gaps
    assert not any("404" in gap for gap in gaps)
    report = "\n".join(contract.coverage_report(result))
    assert "200: NEVER PRODUCED; example 1 never seen" in report
    assert "404: produced 1 time; example 1 seen verbatim" in report


def test_an_example_counts_as_produced_by_shape_not_by_data() -> None:
    example = DOCUMENTED[OPERATION]["200"][0]
    other_data = {**example, "total": 99, "recent": [{**example["recent"][0], "id": "ev_9"}]}
    empty_recent = {**example, "recent": []}
    missing_key = {k: v for k, v in example.items() if k != "linkOpens"}
    for body, state in [
        (example, "seen verbatim"),
        (other_data, "seen (same shape, other data)"),
        (empty_recent, "never seen"),
        (missing_key, "never seen"),
    ]:
        result = contract.ContractResult(documented=DOCUMENTED, exchanges=[exchange(200, body)])
        assert f"200: produced 1 time; example 1 {state}" in contract.summary(result)


def test_the_summary_lists_failures_with_a_curl_line() -> None:
    finding = contract.Finding(
        OPERATION,
        "not_a_server_error",
        "ST101",
        "Server error",
        "Received 500",
        "curl -X GET http://x/v1/renders/y/engagement",
        500,
    )
    result = contract.ContractResult(documented=DOCUMENTED, findings=[finding, finding])
    text = contract.summary(result)
    assert not result.ok
    assert "Failures: 2 failed checks, 1 distinct" in text
    assert "1. [not_a_server_error] GET /v1/renders/{id}/engagement: Server error" in text
    assert "Reproduce: curl -X GET http://x/v1/renders/y/engagement" in text


def test_default_and_ranges_cover_the_statuses_not_listed_one_by_one() -> None:
    documented: dict[str, list[object]] = {"200": [], "4XX": [], "default": []}
    assert contract.covers(documented, "200", 200)
    assert contract.covers(documented, "4XX", 404) and not contract.covers(documented, "4XX", 500)
    assert contract.covers(documented, "default", 500)
    assert not contract.covers(documented, "default", 404)  # 4XX takes it
    assert not contract.covers(documented, "default", 200)  # listed one by one
    result = contract.ContractResult(
        documented={"GET /x": documented},
        exchanges=[
            contract.Exchange("GET /x", "GET", "/x", s, "fuzzing", "positive", "owner")
            for s in (200, 404, 503)
        ],
    )
    assert contract.coverage_gaps(result) == []  # `default` never is a gap
    assert "default: produced 1 time" in contract.summary(result)
    assert all(not h.endswith("*") for h in contract.status_table(result)[0].split()[1:])


def test_an_operation_refusing_every_valid_request_of_the_owner_is_a_gap() -> None:
    refused = [exchange(401, None), exchange(401, None)]
    result = contract.ContractResult(documented=DOCUMENTED, exchanges=refused)
    assert f"{OPERATION}: every valid request with the given credentials was refused" in (
        contract.coverage_gaps(result)
    )
    result.exchanges.append(exchange(404, NOT_FOUND))  # one got past the door
    assert not any("refused" in gap for gap in contract.coverage_gaps(result))


def test_the_markdown_report_has_the_verdict_the_table_and_each_failure_with_its_repro() -> None:
    finding = contract.Finding(
        OPERATION, "response_schema_conformance", "ST", "Response violates schema",
        "'counts' is a required property", 'curl -X GET -H "Authorization: Bearer ${K}" http://x',
        200,
    )  # fmt: skip
    exchanges = [exchange(200, {}), exchange(404, NOT_FOUND), exchange(405, None)]
    failed = contract.ContractResult(
        documented=DOCUMENTED, exchanges=exchanges, findings=[finding, finding]
    )
    text = contract.markdown(failed, source="openapi.yaml", url="http://x")
    assert text.startswith("### Contract test ❌ failed\n")
    assert "3 requests" in text and "1 distinct failure," in text
    assert "| Operation | 200 | 404 | 405 |" in text
    assert f"| `{OPERATION}` | 1 | 1 | 1* |" in text
    assert "1. **`response_schema_conformance`** `GET /v1/renders/{id}/engagement`" in text
    assert '   curl -X GET -H "Authorization: Bearer ${K}" http://x' in text
    assert f"- `{OPERATION}: documented status 401 never produced`" in text

    passed = contract.ContractResult(documented={}, exchanges=exchanges[:1])
    assert contract.markdown(passed, source="s", url="u").startswith("### Contract test ✅ passed")
