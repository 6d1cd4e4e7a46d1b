"""db/queries.py on a real database: rows and domain errors, no wire format."""

from __future__ import annotations

import uuid

import pytest

from db import queries
from db.connection import connection
from db.errors import Conflict, EventRejected, KeyNotFound, RenderNotFound
from db.models import EngagementEvent, Share
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
