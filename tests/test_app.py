"""getRenderEngagement over HTTP: the summary, tenancy, and every error path's envelope."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from api import keys
from api.app import create_app
from api.config import Settings
from api.event_lines import parse_lines
from db import queries
from db.connection import connection, database, is_sqlite
from tests.conftest import ROOT

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
EXAMPLE = SPEC["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]["200"]["content"][
    "application/json"
]["example"]


def url(render_id: str) -> str:
    return f"/v1/renders/{render_id}/engagement"


def assert_envelope(resp: Any, status: int, code: str, message: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if message is not None:
        assert body["error"]["message"] == message
    return body["error"]


def event(render_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "renderId": render_id,
        "eventType": "viewed",
        "actorKind": "recipient",
        "createdAt": "2026-06-21T10:00:00Z",
        **fields,
    }


# --- the summary ----------------------------------------------------------------------------


def test_new_render_has_zero_filled_counts(client, tenant, make_render):
    render = make_render(tenant["project"])
    resp = client.get(url(render), headers=tenant["headers"])
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {
        "counts": dict.fromkeys(queries.EVENT_TYPES, 0),
        "linkOpens": 0,
        "total": 0,
        "recent": [],
    }


def test_event_types_match_the_contract():
    schemas = SPEC["components"]["schemas"]
    assert tuple(schemas["EngagementEventType"]["enum"]) == queries.EVENT_TYPES
    actor = schemas["EngagementSummary"]["properties"]["recent"]["items"]["properties"]
    assert tuple(actor["actorKind"]["enum"]) == queries.ACTOR_KINDS


def test_the_specs_example_is_reproduced_from_stored_events(database_url, tenant, make_render):
    """Storing the events behind the contract's example yields the example, id and time included."""
    render = make_render(tenant["project"])
    newest = EXAMPLE["recent"][0]
    older: list[dict[str, Any]] = []
    for event_type, count in EXAMPLE["counts"].items():
        older += [{"eventType": event_type} for _ in range(count)]
    older.remove({"eventType": newest["eventType"]})  # the newest event is one of the views
    linked = EXAMPLE["linkOpens"] - 1  # ... and came through the share link
    for n, item in enumerate(older):
        if item["eventType"] == "viewed" and linked:
            item["shareId"], linked = newest["shareId"], linked - 1
        item["createdAt"] = f"2026-06-21T09:{n:02d}:00Z"
    with connection():
        queries.record_events(
            parse_lines(json.dumps(event(render, **e)) for e in [*older, {**newest}])
        )
    settings = Settings.from_env({}, database_url=database_url, recent_limit=1)
    with TestClient(create_app(settings)) as client:
        body = client.get(url(render), headers=tenant["headers"]).json()
    assert body == EXAMPLE


def test_counts_link_opens_total_and_recent(client, tenant, make_render, record_events):
    render = make_render(tenant["project"])
    share = str(uuid.uuid4())
    record_events(
        [
            event(render, createdAt="2026-06-21T10:00:00Z", shareId=share),
            event(render, createdAt="2026-06-21T10:01:00Z"),
            event(render, eventType="downloaded", createdAt="2026-06-21T10:02:00.5Z"),
            event(render, eventType="share_created", actorKind="system", shareId=share),
            event(render, eventType="printed", createdAt="2026-06-21T12:03:04.123+02:00"),
        ]
    )
    body = client.get(url(render), headers=tenant["headers"]).json()
    assert body["counts"] == {
        **dict.fromkeys(queries.EVENT_TYPES, 0),
        "viewed": 2,
        "downloaded": 1,
        "share_created": 1,
        "printed": 1,
    }
    assert body["linkOpens"] == 1  # only views through a share link; share_created is not one
    assert body["total"] == 5
    times = [e["createdAt"] for e in body["recent"]]
    assert times[:2] == ["2026-06-21T10:03:04.123Z", "2026-06-21T10:02:00.500Z"]
    assert times == sorted(times, reverse=True)
    assert all(e["id"].startswith("ev_") for e in body["recent"])


def test_recent_items_carry_every_field_and_any_metadata(
    client, tenant, make_render, record_events
):
    render = make_render(tenant["project"])
    kinds = [{"page": 2, "nested": {"a": [1, None]}}, [1, "two"], "text", 3.5, True, None]
    record_events(
        [
            event(
                render,
                id=f"ev_meta{i}",
                createdAt=f"2026-06-21T10:00:0{i}Z",
                metadata=meta,
                sourceIp="2001:db8::1" if i == 0 else None,
                userAgent="curl/8" if i == 0 else None,
            )
            for i, meta in enumerate(kinds)
        ]
    )
    recent = client.get(url(render), headers=tenant["headers"]).json()["recent"]
    by_id = {item["id"]: item for item in recent}
    assert [by_id[f"ev_meta{i}"]["metadata"] for i in range(len(kinds))] == kinds
    first = by_id["ev_meta0"]
    assert set(first) == {
        "id",
        "eventType",
        "actorKind",
        "shareId",
        "sourceIp",
        "userAgent",
        "metadata",
        "createdAt",
    }
    assert (first["sourceIp"], first["userAgent"], first["shareId"]) == (
        "2001:db8::1",
        "curl/8",
        None,
    )


def test_recent_is_the_newest_twenty_with_deterministic_ties(
    client, tenant, make_render, record_events
):
    render = make_render(tenant["project"])
    same_time = "2026-06-21T10:00:00Z"
    record_events([event(render, id=f"ev_{n:02d}", createdAt=same_time) for n in range(25)])
    first = client.get(url(render), headers=tenant["headers"]).json()
    second = client.get(url(render), headers=tenant["headers"]).json()
    assert len(first["recent"]) == 20
    assert first["total"] == 25
    # equal timestamps: the later-recorded event comes first, every time
    assert [e["id"] for e in first["recent"]] == [f"ev_{n:02d}" for n in range(24, 4, -1)]
    assert first == second


def test_recent_limit_is_a_setting(database_url, tenant, make_render, record_events):
    render = make_render(tenant["project"])
    record_events(
        [event(render, id=f"ev_{n}", createdAt=f"2026-06-21T10:00:0{n}Z") for n in range(5)]
    )
    app = create_app(Settings.from_env({}, database_url=database_url, recent_limit=3))
    with TestClient(app) as client:
        body = client.get(url(render), headers=tenant["headers"]).json()
    assert [e["id"] for e in body["recent"]] == ["ev_4", "ev_3", "ev_2"]


# --- tenancy --------------------------------------------------------------------------------


def test_a_key_reads_only_its_own_projects_renders(client, make_project, make_key, make_render):
    alpha, beta = make_project(), make_project()
    alpha_render = make_render(alpha, "test")
    beta_key = make_key(beta, "test")
    alpha_key = make_key(alpha, "test")
    foreign = client.get(url(alpha_render), headers={"Authorization": f"Bearer {beta_key}"})
    missing = client.get(url(str(uuid.uuid4())), headers={"Authorization": f"Bearer {beta_key}"})
    assert_envelope(foreign, 404, "not_found", "Render not found.")
    assert foreign.content == missing.content
    assert dict(foreign.headers) == dict(missing.headers)
    own = client.get(url(alpha_render), headers={"Authorization": f"Bearer {alpha_key}"})
    assert own.status_code == 200


@pytest.mark.parametrize(("key_mode", "render_mode"), [("test", "live"), ("live", "test")])
def test_a_key_reads_only_renders_of_its_mode(
    client, make_project, make_key, make_render, key_mode, render_mode
):
    project = make_project()
    render = make_render(project, render_mode)
    key = make_key(project, key_mode)
    resp = client.get(url(render), headers={"Authorization": f"Bearer {key}"})
    assert_envelope(resp, 404, "not_found", "Render not found.")
    same_mode_key = make_key(project, render_mode)
    assert (
        client.get(url(render), headers={"Authorization": f"Bearer {same_mode_key}"}).status_code
        == 200
    )


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing Bearer token."),
        ("Basic dXNlcjpwYXNz", "Missing Bearer token."),
        ("Bearer", "Missing Bearer token."),
        ("Bearer ck_test_short", "Malformed API key: expected ck_live_… or ck_test_…."),
        (
            "Bearer sk_test_abcdefghijklmnopqrstuvwxyz",
            "Malformed API key: expected ck_live_… or ck_test_….",
        ),
        ("Bearer ck_test_" + "A" * 32, "Invalid or revoked API key."),
    ],
)
def test_bad_credentials_get_401_envelopes(client, tenant, make_render, authorization, message):
    render = make_render(tenant["project"])
    headers = {"Authorization": authorization} if authorization else {}
    resp = client.get(url(render), headers=headers)
    assert_envelope(resp, 401, "unauthorized", message)
    assert resp.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_gets_401_at_once(client, tenant, make_render):
    render = make_render(tenant["project"])
    assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    with connection():
        queries.revoke_key(digest=keys.digest(tenant["key"]))
    resp = client.get(url(render), headers=tenant["headers"])
    assert_envelope(resp, 401, "unauthorized", "Invalid or revoked API key.")


def test_keys_never_appear_in_logs(client, tenant, make_render, caplog):
    caplog.set_level(logging.DEBUG)
    render = make_render(tenant["project"])
    client.get(url(render), headers=tenant["headers"])
    client.get(url("not-a-uuid"), headers=tenant["headers"])
    bad_key = "ck_live_" + "Z" * 30
    client.get(url(render), headers={"Authorization": f"Bearer {bad_key}"})
    assert caplog.records, "expected some log output to inspect"
    assert tenant["key"] not in caplog.text
    assert bad_key not in caplog.text


# --- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id", ["notauuid", "123", "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f1", "%20"]
)
def test_a_non_uuid_id_gets_400_and_never_reaches_the_database(client, tenant, bad_id):
    # Without the renders table, any query for a render would fail (503): a 400 proves the
    # request stopped at validation.
    with connection():
        database.execute_sql("DROP TABLE render" + ("" if is_sqlite() else " CASCADE"))
    error = assert_envelope(
        client.get(url(bad_id), headers=tenant["headers"]), 400, "invalid_request"
    )
    assert error["issues"] == [
        {
            "in": "path",
            "name": "id",
            "message": f"{bad_id.replace('%20', ' ')!r} is not a valid uuid",
        }
    ]
    # ... while a valid id does reach it, and fails there (503 on SQLite, 500 on PostgreSQL).
    valid = client.get(url(str(uuid.uuid4())), headers=tenant["headers"])
    assert valid.status_code in (500, 503)
    assert valid.json()["error"]["code"] in ("internal_error", "service_unavailable")


@pytest.mark.parametrize("bad_id", ["a%0Ab", "%0A", "ab%0A"])
def test_a_line_feed_in_the_path_gets_404_not_500(client, tenant, bad_id):
    # Connexion's router and Flask's disagreed on these (found by the contract tests).
    assert_envelope(client.get(url(bad_id), headers=tenant["headers"]), 404, "not_found")


def test_unknown_query_parameters_get_400_listing_each(client, tenant, make_render):
    render = make_render(tenant["project"])
    resp = client.get(url(render) + "?limit=5&expand=all", headers=tenant["headers"])
    error = assert_envelope(resp, 400, "invalid_request")
    assert [(i["in"], i["name"]) for i in error["issues"]] == [
        ("query", "expand"),
        ("query", "limit"),
    ]


def test_every_problem_is_reported_not_just_the_first(client, tenant):
    resp = client.get(url("nope") + "?x=1", headers=tenant["headers"])
    error = assert_envelope(resp, 400, "invalid_request")
    assert {(i["in"], i["name"]) for i in error["issues"]} == {("query", "x"), ("path", "id")}


# --- routing errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/v1/renders",
        "/v1/renders/x/engagement/extra",
        "/",
        f"/v1/renders/{uuid.UUID(int=1)}/engagement/",  # no redirect to the slashless path
        "/openapi.json/",
    ],
)
def test_unknown_paths_get_404_envelopes(client, tenant, path):
    resp = client.get(path, headers=tenant["headers"], follow_redirects=False)
    assert_envelope(resp, 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_wrong_methods_get_405_with_allow(client, tenant, make_render, method):
    render = make_render(tenant["project"])
    resp = client.request(method, url(render), headers=tenant["headers"])
    assert_envelope(resp, 405, "method_not_allowed")
    assert {m.strip() for m in resp.headers["allow"].split(",")} == {"GET", "HEAD"}


def test_head_answers_as_get_without_a_body(client, tenant, make_render):
    render = make_render(tenant["project"])
    get = client.get(url(render), headers=tenant["headers"])
    head = client.head(url(render), headers=tenant["headers"])
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"]
    assert client.head(url(render)).status_code == 401
    assert client.head("/nope").status_code == 404


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


def test_the_served_spec_is_the_file(client):
    as_yaml = client.get("/openapi.yaml")
    assert as_yaml.content == (ROOT / "openapi.yaml").read_bytes()
    as_json = client.get("/openapi.json")
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == SPEC
    assert as_json.json()["openapi"] == "3.1.0"


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_each_app_has_its_own_middleware_stack(settings):
    """Connexion inserts middleware into the list it is given; apps must not share one."""
    from api.head import HeadAsGet

    first, second = create_app(settings), create_app(settings)
    for app in (first, second):
        stack = [getattr(m, "func", m) for m in app.middleware.middlewares]  # partial(cls)
        assert stack.count(HeadAsGet) == 1
    assert first.middleware.middlewares is not second.middleware.middlewares
