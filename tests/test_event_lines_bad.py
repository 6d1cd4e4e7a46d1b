"""Bad JSON Lines: each file is refused whole with a message naming the line; nothing is written.

Every row is a file of three lines whose second line is bad, given to `craftkit events record`
as users run it. The valid range of `createdAt` is 0001-01-01T00:00:00.000Z to
9999-12-31T23:59:59.999Z once converted to UTC: the contract's date-time has a four-digit year.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from db.connection import connection
from db.models import EngagementEvent


def _event(render: str, **fields: Any) -> dict[str, Any]:
    return {
        "renderId": render,
        "eventType": "viewed",
        "actorKind": "recipient",
        "createdAt": "2026-06-21T10:10:00.000Z",
        **fields,
    }


def _line(render: str, **fields: Any) -> bytes:
    return json.dumps(_event(render, **fields)).encode()


def _raw(render: str, field: str, raw_json: str) -> bytes:
    """A line whose `field` holds `raw_json` exactly as written (json.dumps would refuse it)."""
    return _line(render, **{field: "@@"}).replace(b'"@@"', raw_json.encode())


BAD_LINES: list[tuple[str, Any, str]] = [
    # (label, second line as a function of the render id, words the message must contain)
    (
        "createdAt past year 9999 in UTC",
        lambda r: _line(r, createdAt="9999-12-31T23:59:59-12:00"),
        "createdAt",
    ),
    (
        "createdAt before year 1 in UTC",
        lambda r: _line(r, createdAt="0001-01-01T00:30:00+01:00"),
        "createdAt",
    ),
    ("createdAt without a zone", lambda r: _line(r, createdAt="2026-06-21T10:10:00"), "createdAt"),
    ("createdAt a date only", lambda r: _line(r, createdAt="2026-06-21"), "createdAt"),
    ("metadata NaN", lambda r: _raw(r, "metadata", '{"x": NaN}'), "metadata"),
    ("metadata Infinity", lambda r: _raw(r, "metadata", '{"x": Infinity}'), "metadata"),
    ("metadata -Infinity", lambda r: _raw(r, "metadata", "[-Infinity]"), "metadata"),
    ("metadata over its bound", lambda r: _line(r, metadata={"x": "y" * 20_000}), "metadata"),
    ("a line of 10 MB", lambda r: _line(r, metadata={"x": "y" * 10_000_000}), "longer than"),
    (
        "metadata nested 30,000 deep",
        lambda r: _raw(r, "metadata", "[" * 30_000 + "]" * 30_000),
        "nested deeper than",
    ),
    (
        "metadata nested 40 deep",
        lambda r: _raw(r, "metadata", "[" * 40 + "]" * 40),
        "metadata: nested deeper than",
    ),
    (
        "invalid UTF-8",
        lambda r: _line(r, userAgent="Mozilla").replace(b"Mozilla", b"Moz\xffla"),
        "UTF-8",
    ),
    ("lone surrogate in userAgent", lambda r: _raw(r, "userAgent", '"\\ud800"'), "userAgent"),
    ("lone surrogate in metadata", lambda r: _raw(r, "metadata", '{"k": "\\udfff"}'), "metadata"),
    ("NUL in userAgent", lambda r: _raw(r, "userAgent", '"a\\u0000b"'), "userAgent"),
    ("NUL in a metadata key", lambda r: _raw(r, "metadata", '{"a\\u0000": 1}'), "metadata"),
    ("sourceIp of 65+ characters", lambda r: _line(r, sourceIp="fe80::1%" + "x" * 60), "sourceIp"),
    ("userAgent over 1000 characters", lambda r: _line(r, userAgent="x" * 1001), "userAgent"),
    ("invalid JSON", lambda r: b'{"renderId": ', "not valid JSON"),
    (
        "two events on one line",
        lambda r: b"[" + _line(r) + b"," + _line(r) + b"]",
        "expected a JSON object",
    ),
    ("wrong type", lambda r: _line(r, eventType=5), "eventType"),
    ("unknown event type", lambda r: _line(r, eventType="liked"), "eventType"),
    ("unknown field", lambda r: _line(r, colour="red"), "colour"),
    ("missing field", lambda r: json.dumps({"renderId": r}).encode(), "eventType"),
    ("id with a line feed", lambda r: _line(r, id="ev_abc\n"), "id"),
    (
        "duplicate id with other content",
        lambda r: _line(r, id="ev_first", eventType="printed"),
        "ev_first",
    ),
    ("unknown render", lambda r: _line("00000000-0000-4000-8000-000000000000"), "renderId"),
    # Integers JSON carries exactly are ±(2^53-1): past them a reader changes the value.
    ("metadata integer 2^53", lambda r: _raw(r, "metadata", '{"n": 9007199254740992}'), "2^53"),
    ("metadata integer of 30 digits", lambda r: _raw(r, "metadata", "[" + "1" * 30 + "]"), "2^53"),
    ("metadata integer of 310 digits", lambda r: _raw(r, "metadata", "1" * 310), "2^53"),
    (
        "metadata integer of 5,000 digits",
        lambda r: _raw(r, "metadata", '{"n": -' + "9" * 5000 + "}"),
        "metadata: integer",
    ),
    (
        "createdAt with a space for the T",
        lambda r: _line(r, createdAt="2026-03-01 00:00:00Z"),
        "'T' expected between date and time",
    ),
]


def _stored() -> int:
    with connection():
        return EngagementEvent.select().count()


@pytest.mark.parametrize(
    ("make_line", "words"), [row[1:] for row in BAD_LINES], ids=[row[0] for row in BAD_LINES]
)
def test_a_bad_line_is_named_and_nothing_is_written(
    database_url: str, make_render: Any, tmp_path: Path, make_line: Any, words: str
) -> None:
    render = make_render()
    good_first = _line(render, id="ev_first")
    good_last = _line(render, id="ev_last")
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join([good_first, make_line(render), good_last]) + b"\n")

    result = CliRunner().invoke(
        main, ["--database-url", database_url, "events", "record", str(source)]
    )

    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert "line 2:" in result.output and words in result.output, result.output
    assert len(result.output) < 4000, len(result.output)
    assert _stored() == 0


def test_the_table_would_catch_a_good_line(database_url: str, make_render: Any, tmp_path: Path):
    """Guard: the three-line file with a good middle line is recorded in full."""
    render = make_render()
    source = tmp_path / "events.jsonl"
    lines = [
        _line(render, id="ev_first"),
        _line(render, createdAt="9999-12-31T23:59:59.999Z", metadata={"x": 1.5}),
        _line(render, createdAt="0001-01-01T00:00:00Z", id="ev_last"),
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(
        main, ["--database-url", database_url, "events", "record", str(source)]
    )
    assert result.exit_code == 0, result.output
    assert _stored() == 3


def test_a_5000_digit_integer_names_no_python_setting(
    database_url: str, make_render: Any, tmp_path: Path
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(_raw(make_render(), "metadata", "9" * 5000) + b"\n")
    result = CliRunner().invoke(
        main, ["--database-url", database_url, "events", "record", str(source)]
    )
    assert result.exit_code == 1
    assert "int_max_str_digits" not in result.output and "9" * 100 not in result.output
    assert "(5000 digits) is beyond ±(2^53-1)" in result.output


def test_the_integer_edges_are_served_as_written(
    database_url: str, make_render: Any, tenant: dict, client: Any, tmp_path: Path
) -> None:
    render = make_render(tenant["project"], "test")
    source = tmp_path / "events.jsonl"
    edges = [2**53 - 1, -(2**53 - 1), 0]
    source.write_text("\n".join(json.dumps(_event(render, metadata={"n": n})) for n in edges))
    result = CliRunner().invoke(
        main, ["--database-url", database_url, "events", "record", str(source)]
    )
    assert result.exit_code == 0, result.output
    response = client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"])
    assert sorted(event["metadata"]["n"] for event in response.json()["recent"]) == sorted(edges)


def test_the_range_edges_are_served_as_written(
    database_url: str, make_render: Any, tenant: dict, client: Any, tmp_path: Path
) -> None:
    render = make_render(tenant["project"], "test")
    source = tmp_path / "events.jsonl"
    edges = ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59+00:00"]
    source.write_text("\n".join(json.dumps(_event(render, createdAt=at)) for at in edges))
    result = CliRunner().invoke(
        main, ["--database-url", database_url, "events", "record", str(source)]
    )
    assert result.exit_code == 0, result.output
    response = client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"])
    assert response.status_code == 200, response.text
    served = [event["createdAt"] for event in response.json()["recent"]]
    assert served == [
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.000Z",
        "0001-01-01T00:00:00.000Z",
    ]
