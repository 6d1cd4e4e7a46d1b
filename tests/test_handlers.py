"""handlers/renders.py over HTTP: the summary the contract describes, and its tenancy."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.config import Settings
from api.server.app import create_app
from cli.event_lines import parse_lines
from db import queries
from db.connection import connection
from tests.support import SPEC, assert_envelope, event, url

EXAMPLE = SPEC["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]["200"]["content"][
    "application/json"
]["example"]


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
    # The same request id for both, so that every header can be compared.
    headers = {"Authorization": f"Bearer {beta_key}", "X-Request-ID": "tenancy-probe"}
    foreign = client.get(url(alpha_render), headers=headers)
    missing = client.get(url(str(uuid.uuid4())), headers=headers)
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


@pytest.mark.parametrize(
    "ms",
    [0, 999, 1000, 951782400000, 1782039600123, 1782039599999, 4102444799999, 1709164800001],
)
def test_timestamps_are_utc_iso_8601_with_milliseconds(ms):
    from datetime import UTC, datetime

    from handlers.wire import iso_timestamp

    expected = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    assert iso_timestamp(ms) == expected.replace("+00:00", "Z")


def test_timestamps_match_datetime_over_the_whole_range():
    """The precomputed pieces give what `datetime` gives, years 1 to 9999, before 1970 too."""
    import random
    from datetime import UTC, datetime, timedelta

    from handlers.wire import MAX_MS, MIN_MS, iso_timestamp

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(9)
    samples = [MIN_MS, MAX_MS, -1, 0, 86_399_999, 86_400_000, 951_868_799_999, 951_868_800_000]
    samples += [rng.randrange(MIN_MS, MAX_MS + 1) for _ in range(20_000)]
    for ms in samples:
        moment = epoch + timedelta(milliseconds=ms)
        assert iso_timestamp(ms) == moment.isoformat(timespec="milliseconds")[:-6] + "Z", ms


@pytest.mark.parametrize("ms", [-62_135_596_800_001, 253_402_300_800_000, 10**15])
def test_instants_without_a_four_digit_year_are_refused(ms):
    from handlers.wire import iso_timestamp

    with pytest.raises(OverflowError):
        iso_timestamp(ms)
