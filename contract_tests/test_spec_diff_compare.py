"""The peer comparison's bookkeeping (the peers themselves run only in make spec-diff-compare)."""

from __future__ import annotations

from pathlib import Path

from contract_tests.spec_diff import cases, compare

CASES = {case.id: case for case in cases.cases()}


def test_right_means_breaking_exactly_where_labelled() -> None:
    assert compare.right("breaking", "breaking") and not compare.right("breaking", "compatible")
    assert compare.right("warning", "compatible") and compare.right("warning", "warning")
    assert not compare.right("warning", "breaking") and not compare.right("compatible", "error")


def test_the_table_counts_and_marks_wrong_answers(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(
        "museum-query-maximum-lowered: expected breaking, craftkit breaking, specmatic compatible\n"
        "ours-enum-value-added: expected warning, craftkit warning, specmatic compatible\n"
        "noise line\n"
    )
    rows = compare.rows_from_logs([log])
    assert [row.case.id for row in rows] == [
        "museum-query-maximum-lowered",
        "ours-enum-value-added",
    ]
    written = compare.table(rows, "2.55.1", "not installable here")
    assert (
        "| museum-query-maximum-lowered | parameter-narrowed (request) | breaking | breaking | "
        "**compatible** ✗ | n/a |" in written
    )
    assert written.endswith("| **Total right** | | | **2/2** | **1/2** | **n/a** |")
