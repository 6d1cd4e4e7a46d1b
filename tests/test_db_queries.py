"""db/queries.py on a real database: rows and domain errors, no wire format; the fast
summary held to the model-API reference."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from db import queries
from db.connection import connection
from db.errors import Conflict, EventRejected, KeyNotFound, RenderNotFound
from db.models import ApiKey, EngagementEvent, Share
from tests.reference import reference_engagement
from tests.support import event


def owner_of(project, mode="test") -> queries.KeyOwner:
    return queries.KeyOwner(key_id=0, project_id=project.id, mode=mode)


def test_engagement_is_rows_and_numbers(make_project, make_render, record_events):
    project = make_project()
    render = make_render(project)
    share = str(uuid.uuid4())
    record_events(
        [
            event(render, id="ev_old", createdAt="2026-06-21T10:00:00Z", shareId=share),
            event(render, id="ev_new", eventType="printed", createdAt="2026-06-21T11:00:00Z"),
        ]
    )
    with connection():
        engagement = queries.render_engagement(render, owner_of(project), recent_limit=1)
    assert engagement.counts == {"viewed": 1, "printed": 1}  # zero-filling is the handler's
    assert engagement.link_opens == 1
    assert [e.public_id for e in engagement.recent] == ["ev_new"]
    assert engagement.recent[0].created_at_ms == 1782039600000  # epoch ms, not a string


def test_another_mode_or_project_is_not_found(make_project, make_render):
    project = make_project()
    render = make_render(project)
    with connection():
        with pytest.raises(RenderNotFound):
            queries.render_engagement(render, owner_of(project, "live"), recent_limit=5)
        with pytest.raises(RenderNotFound):
            queries.render_engagement(render, owner_of(make_project()), recent_limit=5)


def test_a_rejected_batch_writes_nothing(make_project, make_render, record_events):
    render = make_render(make_project())
    other = make_render(make_project())
    share = str(uuid.uuid4())
    record_events([event(other, shareId=share)])
    with pytest.raises(EventRejected) as caught:
        record_events([event(render, shareId=str(uuid.uuid4())), event(render, shareId=share)])
    assert caught.value.problems == [(2, f"shareId {share} belongs to another render")]
    with connection():
        assert EngagementEvent.select().count() == 1
        assert Share.select().count() == 1


def test_batches_larger_than_a_chunk_are_stored_whole(make_project, make_render, record_events):
    render = make_render(make_project())
    many = [event(render, id=f"ev_{n}", shareId=str(uuid.UUID(int=n))) for n in range(250)]
    assert record_events(many).inserted == 250
    assert record_events(many).skipped == 250  # replayed: the same ids, the same content
    with connection():
        assert EngagementEvent.select().count() == 250
        assert Share.select().count() == 250


def test_names_and_keys(make_project):
    project = make_project("acme")
    with connection():
        with pytest.raises(Conflict):
            queries.create_project("acme")
        key = queries.store_api_key(project, "test", "d" * 64, "ck_test_abcdefgh")
        assert queries.find_active_key("d" * 64) == queries.KeyOwner(key.id, project.id, "test")
        assert queries.revoke_key(digest="d" * 64)[1] is True
        assert queries.revoke_key(display_prefix="ck_test_abcdefgh")[1] is False
        assert queries.find_active_key("d" * 64) is None
        with pytest.raises(KeyNotFound):
            queries.revoke_key(display_prefix="ck_test_nothere")


def varied_events(render: str, count: int, seed: int) -> list[dict[str, Any]]:
    """Events covering what a summary shows: every type and actor, shares, equal timestamps,
    null and non-null optional fields, metadata of every JSON kind, non-ASCII text."""
    rng = random.Random(seed)
    shares = [str(uuid.uuid5(uuid.UUID(render), str(n))) for n in range(2)]  # the render's own
    metadata: list[Any] = [None, {"page": 2}, [1, "x"], "text", 3.5, True, {"é": {"ü": [None]}}]
    events = []
    for n in range(count):
        event: dict[str, Any] = {
            "renderId": render,
            "eventType": rng.choice(queries.EVENT_TYPES),
            "actorKind": rng.choice(queries.ACTOR_KINDS),
            # few distinct times, so that many events tie and seq must break the tie
            "createdAt": f"2026-06-{1 + rng.randrange(3):02d}T10:00:00.{rng.randrange(3):03d}Z",
        }
        if rng.random() < 0.5:
            event["id"] = f"ev_{n}"
        if rng.random() < 0.4:
            event["shareId"] = rng.choice(shares)
        if rng.random() < 0.7:
            event["sourceIp"] = rng.choice(["203.0.113.7", "2001:db8::1", None])
        if rng.random() < 0.7:
            event["userAgent"] = rng.choice(["Mozilla/5.0", "curl/8 ✓", None])
        if rng.random() < 0.8:
            event["metadata"] = rng.choice(metadata)
        events.append(event)
    return events


@pytest.mark.parametrize("count", [0, 1, 7, 60])
def test_fast_summary_returns_exactly_what_the_model_api_returns(
    count, tenant, make_render, record_events
):
    owner = _owner(tenant)
    render = make_render(tenant["project"])
    other = make_render(tenant["project"])  # events of another render must not count
    record_events(varied_events(other, 30, seed=count + 1))
    if count:
        record_events(varied_events(render, count, seed=count))
    for limit in (1, 20, 100):
        with connection():
            fast = queries.render_engagement(render, owner, limit)
            reference = reference_engagement(render, owner, limit)
        assert fast == reference
        assert sum(fast.counts.values()) == count


def test_fast_summary_hides_other_tenants_renders_like_the_reference(
    tenant, make_project, make_render
):
    owner = _owner(tenant)
    foreign = make_render(make_project())
    live = make_render(tenant["project"], mode="live")
    for render in (foreign, live, str(uuid.uuid4())):
        with connection():
            with pytest.raises(RenderNotFound):
                queries.render_engagement(render, owner, 20)
            with pytest.raises(RenderNotFound):
                reference_engagement(render, owner, 20)


def test_the_reference_tells_a_wrong_summary_apart(tenant, make_render, record_events):
    """The equivalence above can fail: a counter off by one is seen."""
    owner = _owner(tenant)
    render = make_render(tenant["project"])
    record_events(varied_events(render, 10, seed=3))
    with connection() as db:
        db.execute_sql("UPDATE event_counter SET count = count + 1")
        assert queries.render_engagement(render, owner, 20) != reference_engagement(
            render, owner, 20
        )


def _owner(tenant: dict[str, Any]) -> queries.KeyOwner:
    return owner_of(tenant["project"])


def test_recent_reads_the_render_time_index_without_sorting(database_url, backend):
    """On SQLite the plan is stable at any size: `recent` walks (render_id, created_at_ms,
    seq) backwards and never sorts a render's events (PostgreSQL's plan depends on
    statistics; bench/scale.py measures it flat)."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL chooses by statistics; measured in bench/scale.py")
    with connection() as db:
        sql, params = queries.RECENT.bind(db, render="0" * 32, limit=20)
        plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "engagement_event_render_id_created_at_ms_seq" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def find_active_key_through_models(digest: str) -> queries.KeyOwner | None:
    """find_active_key as it was written with Peewee's model API: the reference."""
    row = (
        ApiKey.select(ApiKey.id, ApiKey.project, ApiKey.mode)
        .where((ApiKey.digest == digest) & ApiKey.revoked_at_ms.is_null())
        .first()
    )
    return None if row is None else queries.KeyOwner(row.id, row.project_id, row.mode)


def test_the_prepared_key_lookup_answers_exactly_as_the_model_api(make_project):
    live, test = make_project(), make_project()
    with connection():
        queries.store_api_key(live, "live", "a" * 64, "ck_live_aaaaaaaa")
        queries.store_api_key(test, "test", "b" * 64, "ck_test_bbbbbbbb")
        queries.store_api_key(test, "test", "c" * 64, "ck_test_cccccccc")
        queries.revoke_key(digest="c" * 64)
        for digest in ("a" * 64, "b" * 64, "c" * 64, "e" * 64, "", "a" * 63):
            assert queries.find_active_key(digest) == find_active_key_through_models(digest)
        assert queries.find_active_key("a" * 64) is not None  # the comparison is not all None
        assert isinstance(queries.find_active_key("b" * 64).project_id, int)  # type: ignore[union-attr]
