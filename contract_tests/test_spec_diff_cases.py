"""Every labelled pair of tests/data/spec_diff/cases.yaml gets its verdict, with proof.

A breaking verdict must carry a counter-example that the two documents' own compiled
validators disagree on, in the direction the rule says: the old schema accepts a request the
new refuses, the new allows a response the old did not.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from contract_tests.spec_diff import cases
from contract_tests.spec_diff.load import load
from contract_tests.spec_diff.operations import Finding, diff
from contract_tests.spec_diff.report import verdict
from contract_tests.spec_diff.schemas import Side

CASES = cases.cases()


def test_the_corpus_is_big_and_covers_both_directions() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert len({case.base for case in CASES}) >= 3
    by_side = collections.Counter((case.side, case.expected) for case in CASES)
    for side in ("request", "response", "security", "operation"):
        assert by_side[(side, "breaking")] and by_side[(side, "compatible")], side
    assert by_side[("response", "warning")]
    assert sum(case.kind == "same-set" for case in CASES) >= 5


def verify(finding: Finding, base_path: Path, revision_path: Path) -> None:
    """The counter-example, checked again with freshly compiled validators of both schemas."""
    assert finding.reason and finding.operation
    if finding.how != "counter-example":
        assert finding.example is not None
        return
    base, revision = load(str(base_path)), load(str(revision_path))
    if finding.kind.startswith("parameter"):
        return  # checked as the request's parameter map, see test_parameter_counter_examples
    assert finding.base_pointer and finding.revision_pointer
    old = Side(base, finding.base_pointer.removeprefix("#"))
    new = Side(revision, finding.revision_pointer.removeprefix("#"))
    if finding.kind.startswith("request"):
        assert old.accepts(finding.example) and not new.accepts(finding.example)
    else:
        assert new.accepts(finding.example) and not old.accepts(finding.example)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_pair_gets_its_labelled_verdict(case: cases.Case, tmp_path: Path) -> None:
    base_path, revision_path = cases.write(case, tmp_path)
    report = diff(load(str(base_path)), load(str(revision_path)))
    assert verdict(report) == case.expected, [f.reason for f in report.findings]
    for finding in report.findings:
        verify(finding, base_path, revision_path)
    if case.expected != "compatible":
        kinds = {f.kind for f in report.findings if f.severity == case.expected}
        assert case.kind in kinds, kinds


def test_parameter_counter_examples_are_values_the_old_schema_took(tmp_path: Path) -> None:
    (case,) = [c for c in CASES if c.id == "museum-query-maximum-lowered"]
    base_path, revision_path = cases.write(case, tmp_path)
    report = diff(load(str(base_path)), load(str(revision_path)))
    finding = report.breaking[0]
    value = finding.example["limit"]
    old = Side(load(str(base_path)), "/components/parameters/PaginationLimit/schema")
    new = Side(load(str(revision_path)), "/components/parameters/PaginationLimit/schema")
    assert old.accepts(value) and not new.accepts(value)
    assert finding.base_pointer == "#/components/parameters/PaginationLimit/schema"


def test_a_path_parameter_counter_example_can_be_sent(tmp_path: Path) -> None:
    """An empty path segment routes to no operation: "" is no request the old contract took."""
    specs = cases.ROOT / "tests/data/specs"
    report = diff(
        load(str(specs / "oai-3.0-petstore.yaml")),  # GET /pets/{petId}: a string
        load(str(specs / "oai-3.0-petstore-expanded.yaml")),  # GET /pets/{id}: an int64
    )
    (finding,) = [f for f in report.breaking if f.where.startswith("path parameter")]
    value = finding.example["id"]
    assert isinstance(value, str) and value != "", finding.example


def test_an_identical_document_is_compatible_and_proved() -> None:
    document = load(str(cases.ROOT / "tests/data/specs/redocly-museum.yaml"))
    report = diff(document, document)
    assert report.findings == [] and report.comparisons == report.proved > 20
