"""cli/event_lines.py: JSON Lines in, checked events out; every bad line named by number."""

from __future__ import annotations

import json

import pytest

from cli.event_lines import EventFileError, parse_event, parse_lines

RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"


def line(**fields: object) -> str:
    event = {
        "renderId": RENDER,
        "eventType": "viewed",
        "actorKind": "recipient",
        "createdAt": "2026-06-21T10:00:00.250Z",
    }
    return json.dumps({**event, **fields})


def test_a_good_line_becomes_an_event():
    event = parse_event(3, line(id="ev_abc", metadata={"b": 1, "a": [2]}))
    assert (event.line, event.public_id, event.event_type) == (3, "ev_abc", "viewed")
    assert event.created_at_ms == 1782036000250
    assert event.metadata_json == '{"a":[2],"b":1}'


@pytest.mark.parametrize(
    "bad_id", ["ev_abc\n", "ev_abc\r\n", "ev_", "abc", "ev_a b", "ev_" + "x" * 61]
)
def test_malformed_event_ids_are_refused(bad_id):
    """Anchored with fullmatch: `$` alone would accept (and store) "ev_abc\\n"."""
    with pytest.raises(ValueError, match="id: must look like ev_"):
        parse_event(1, line(id=bad_id))


def test_bad_lines_are_named_together_and_blank_lines_skipped():
    lines = [line(), "", line(eventType="teleported"), "{", line(extra=1)]
    with pytest.raises(EventFileError) as caught:
        parse_lines(lines)
    assert [e.split(":")[0] for e in caught.value.errors] == ["line 3", "line 4", "line 5"]
    assert "extra: unknown field" in caught.value.errors[2]
