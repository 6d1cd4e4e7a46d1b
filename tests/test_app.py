"""api/server/app.py: the operational routes, and an app that owns its database."""

from __future__ import annotations

import gc
import uuid

import connexion
import orjson
from starlette.testclient import TestClient

from api.server.app import create_app
from tests.support import ROOT, SPEC, event, url


def test_the_served_spec_is_the_file(client):
    as_yaml = client.get("/openapi.yaml")
    assert as_yaml.content == (ROOT / "openapi.yaml").read_bytes()
    as_json = client.get("/openapi.json")
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == SPEC
    assert as_json.json()["openapi"] == "3.1.0"


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_same_handlers_serve_an_async_app(settings, tenant, make_render, record_events):
    """Handlers know no framework: AsyncApp answers exactly as the default FlaskApp does."""
    render = make_render(tenant["project"])
    record_events([event(render, shareId=str(uuid.uuid4())), event(render, eventType="printed")])
    answers = []
    for app_class in (connexion.FlaskApp, connexion.AsyncApp):
        with TestClient(create_app(settings, app_class=app_class)) as client:
            ok = client.get(url(render), headers=tenant["headers"])
            missing = client.get(url(str(uuid.uuid4())), headers=tenant["headers"])
            health = client.get("/healthz")
        answers.append(
            (ok.status_code, ok.json(), missing.status_code, missing.json(), health.json())
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 200 and answers[0][1]["linkOpens"] == 1 and answers[0][2] == 404


def test_answers_and_errors_are_compact_json_in_the_contracts_key_order(
    client, tenant, make_render, record_events
):
    render = make_render(tenant["project"])
    record_events([event(render)])
    ok = client.get(url(render), headers=tenant["headers"])
    bad = client.get(url(render) + "?x=" + "y" * 3000, headers=tenant["headers"])
    for resp in (ok, bad):
        assert resp.content == orjson.dumps(resp.json())  # no spaces, no indent, no newline
    schema = SPEC["components"]["schemas"]["EngagementSummary"]
    assert list(ok.json()) == list(schema["properties"])
    assert list(ok.json()["recent"][0]) == list(
        schema["properties"]["recent"]["items"]["properties"]
    )
    assert list(bad.json()["error"]) == ["code", "message"]


def test_the_heap_built_at_start_up_is_frozen_while_serving(app):
    """The garbage collector skips start-up's objects while the app serves (p99 under load)."""
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 100_000
    assert gc.get_freeze_count() == 0
