"""api/errors.py: server-side failures still answer the envelope."""

from __future__ import annotations

import logging
import uuid

from starlette.testclient import TestClient

from api.config import Settings
from api.server.app import create_app
from db import queries
from db.connection import connection, database
from tests.support import assert_envelope, url

# --- server-side failures -------------------------------------------------------------------


def test_an_unreachable_database_gets_503(tmp_path, tenant, make_render):
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    render = make_render(tenant["project"])
    with TestClient(create_app(Settings.from_env({}, database_url=unreachable))) as client:
        resp = client.get(url(render), headers=tenant["headers"])
    error = assert_envelope(resp, 503, "service_unavailable")
    assert "issues" not in error
    assert resp.headers["retry-after"]


def test_a_non_conforming_response_is_a_500_and_is_logged(client, tenant, make_render, caplog):
    """A stored event type the contract does not know would break the response: 500, logged."""
    render = make_render(tenant["project"])
    with connection():
        queries.record_events(
            [
                queries.NewEvent(
                    line=1,
                    render_id=uuid.UUID(render),
                    event_type="viewed",
                    actor_kind="recipient",
                    created_at_ms=0,
                )
            ]
        )
        database.execute_sql("UPDATE engagement_event SET event_type = 'teleported'")
    caplog.set_level(logging.ERROR)
    resp = client.get(url(render), headers=tenant["headers"])
    assert_envelope(resp, 500, "internal_error", "Internal server error.")
    assert "teleported" not in resp.text
    assert "getRenderEngagement" in caplog.text
    assert "teleported" in caplog.text
