"""A stored row the server cannot serve never turns a render into 500s.

Ingestion refuses such rows now, but a database written by an older version (or by hand) may
hold them: a createdAt past year 9999, metadata holding NaN. The render still answers 200; the
row is left out of `recent` (its count stays, as stored) and logged once per request.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from db.connection import connection
from db.models import EngagementEvent
from tests.support import event

YEAR_10000_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z
BEFORE_YEAR_1_MS = -62_135_596_800_001  # a millisecond before 0001-01-01T00:00:00Z


def _spoil(render: str, public_id: str, created_at_ms: int | None, metadata: str | None) -> None:
    """Rewrite a stored event as an older version (or a hand edit) might have left it."""
    changes: dict = {}
    if created_at_ms is not None:
        changes[EngagementEvent.created_at_ms] = created_at_ms
    if metadata is not None:
        changes[EngagementEvent.metadata_json] = metadata
    with connection():
        updated = (
            EngagementEvent.update(changes)
            .where((EngagementEvent.render == render) & (EngagementEvent.public_id == public_id))
            .execute()
        )
    assert updated == 1


@pytest.mark.parametrize(
    ("created_at_ms", "metadata_json"),
    [
        pytest.param(YEAR_10000_MS, None, id="year 10000"),
        pytest.param(BEFORE_YEAR_1_MS, None, id="before year 1"),
        pytest.param(None, '{"x":NaN}', id="NaN metadata"),
        pytest.param(None, "[Infinity]", id="Infinity metadata"),
        pytest.param(None, "{not json", id="metadata not JSON"),
    ],
)
def test_an_unservable_row_is_left_out_not_a_500(
    client: Any,
    tenant: dict,
    make_render: Any,
    record_events: Any,
    caplog: pytest.LogCaptureFixture,
    created_at_ms: int | None,
    metadata_json: str | None,
) -> None:
    render = make_render(tenant["project"], "test")
    record_events(
        [
            event(render, id="ev_good", createdAt="2026-06-21T10:00:00Z", metadata={"page": 2}),
            event(render, id="ev_bad", createdAt="2026-06-21T09:00:00Z"),
        ]
    )
    _spoil(render, "ev_bad", created_at_ms, metadata_json)

    with caplog.at_level(logging.WARNING):
        response = client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert [event["id"] for event in body["recent"]] == ["ev_good"]
    assert body["counts"]["viewed"] == 2 and body["total"] == 2
    assert "ev_bad" in caplog.text
    assert "NaN" not in response.text and "Infinity" not in response.text
