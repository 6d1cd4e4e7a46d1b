"""SECURITY.md's bounds table says what api/protocol/bounds.py and the event-line rules enforce."""

from __future__ import annotations

import pytest

from api.protocol import bounds
from cli.event_lines import (
    MAX_DEPTH,
    MAX_LINE_BYTES,
    MAX_METADATA_BYTES,
    MAX_SAFE_INTEGER,
    MAX_SOURCE_IP,
)
from tests.support import ROOT


def table_rows(text: str) -> dict[str, str]:
    """The bounds table: first cell → the rest of the row."""
    section = text.split("## Bounds", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not set(cells[0]) <= {"-", " "}:
            rows[cells[0]] = f"{cells[1]} | {cells[2]}"
    return rows


def undocumented(text: str) -> list[str]:
    rows = table_rows(text)
    expected = [(b.name, [str(b.limit), str(b.status)]) for b in bounds.HTTP_BOUNDS] + [
        (
            "request head as uvicorn reads it",  # api/protocol/uvicorn_shim.py's refusals
            [
                f"{bounds.SERVER_HEAD_BYTES // 1024} KiB",
                "431",
                "414",
                str(bounds.REQUEST_TARGET.limit),
            ],
        ),
        ("connections + requests in progress", [str(bounds.SERVER_CONCURRENCY)]),
        ("events file line", [str(MAX_LINE_BYTES)]),
        ("`metadata`", [str(MAX_METADATA_BYTES), f"{MAX_DEPTH} levels", str(MAX_SAFE_INTEGER)]),
        ("`sourceIp`", [f"{MAX_SOURCE_IP} characters"]),
        ("`createdAt`", ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]),
    ]
    problems = []
    for name, words in expected:
        row = next((row for first, row in rows.items() if first.startswith(name)), None)
        if row is None:
            problems.append(f"no row for {name}")
        else:
            problems += [f"{name}: {word!r} missing" for word in words if word not in row]
    return problems


def test_security_md_documents_every_bound() -> None:
    assert undocumented((ROOT / "SECURITY.md").read_text()) == []


@pytest.mark.parametrize(("old", "new"), [("| 2048 bytes |", "| 4096 bytes |"), ("| 431", "| 400")])
def test_a_wrong_table_would_be_caught(old: str, new: str) -> None:
    text = (ROOT / "SECURITY.md").read_text()
    assert old in text
    assert undocumented(text.replace(old, new, 1)) != []
