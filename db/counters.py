"""Event counters per render and kind: added to by every event write, rebuilt by a recount."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import peewee
from peewee import EXCLUDED

from db.connection import database, is_sqlite, write_transaction
from db.models import LINK_OPEN, EngagementEvent, EventCounter


def add_to_counters(counts: Mapping[tuple[str, str], int]) -> None:
    """Add `counts` ((render hex, kind) -> n) to the counters, in the caller's transaction.

    Rows are upserted in key order, so concurrent writers on PostgreSQL lock them in the same
    order and cannot deadlock each other.
    """
    rows = sorted((render, kind, n) for (render, kind), n in counts.items() if n)
    fields = [EventCounter.render, EventCounter.kind, EventCounter.count]
    for chunk in peewee.chunked(rows, 200):
        EventCounter.insert_many(chunk, fields=fields).on_conflict(
            conflict_target=[EventCounter.render, EventCounter.kind],
            update={EventCounter.count: EventCounter.count + EXCLUDED.count},
        ).returning().execute()


def recount(render_id: uuid.UUID | None = None) -> int:
    """Rebuild the counters of one render (or of all) from its events; return the rows written.

    On PostgreSQL the events table is locked against writes meanwhile (reads go on), so no
    event is counted twice or missed by a recount that races an ingestion.
    """
    with write_transaction():
        if not is_sqlite():
            database.execute_sql("LOCK TABLE engagement_event IN SHARE MODE")
        delete = EventCounter.delete()
        by_type = EngagementEvent.select(
            EngagementEvent.render,
            EngagementEvent.event_type,
            peewee.fn.COUNT(peewee.SQL("*")),
        )
        link_opens = EngagementEvent.select(
            EngagementEvent.render, peewee.Value(LINK_OPEN), peewee.fn.COUNT(peewee.SQL("*"))
        ).where((EngagementEvent.event_type == "viewed") & EngagementEvent.share.is_null(False))
        if render_id is not None:
            delete = delete.where(EventCounter.render == render_id)
            by_type = by_type.where(EngagementEvent.render == render_id)
            link_opens = link_opens.where(EngagementEvent.render == render_id)
        delete.execute()
        fields = [EventCounter.render, EventCounter.kind, EventCounter.count]
        written = 0
        for query in (
            by_type.group_by(EngagementEvent.render, EngagementEvent.event_type),
            link_opens.group_by(EngagementEvent.render),
        ):
            written += EventCounter.insert_from(query, fields).as_rowcount().execute()
        return written


def counters_of(render_id: uuid.UUID | None = None) -> dict[tuple[str, str], int]:
    """Every counter (or one render's) as {(render hex, kind): count}, for checks and tests."""
    query = EventCounter.select(EventCounter.render, EventCounter.kind, EventCounter.count)
    if render_id is not None:
        query = query.where(EventCounter.render == render_id)
    return {(uuid.UUID(str(r)).hex, kind): int(n) for r, kind, n in query.tuples()}
