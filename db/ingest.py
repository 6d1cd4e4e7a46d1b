"""Storing a stream of events in batches, inside one transaction, with their counters.

Memory stays flat whatever the length of the stream: events are checked and written a batch
at a time; what is kept across batches grows with the renders and shares named (a few bytes
each), never with the events. A replayed or duplicated id is found in the database (the
earlier copy is already written, in this same transaction), not in a set of every id seen.

All or nothing: the caller holds one transaction for the whole stream. Problems do not stop
the stream: valid events keep being written so that every later problem (a duplicate of an
earlier line, say) is still found, and `finish()` raises EventRejected with all of them, which
rolls the transaction back. On SQLite the uncommitted pages spill to the WAL file, on
PostgreSQL to the table's own pages, so a file of millions of lines costs disk until the end,
not memory. Counters are added once, at the end, in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee

from db.counters import add_to_counters
from db.errors import EventRejected
from db.models import LINK_OPEN, EngagementEvent, Render, Share

BATCH = 500  # events per INSERT: 4,500 parameters, well below SQLite's 32,766
SQLITE_CACHE_KIB = 64 * 1024  # the bound on the page cache while writing: memory stays flat

# The columns an event is written with, in order; also the content compared on a replay.
COLUMNS = (
    EngagementEvent.public_id,
    EngagementEvent.render,
    EngagementEvent.event_type,
    EngagementEvent.actor_kind,
    EngagementEvent.share,
    EngagementEvent.source_ip,
    EngagementEvent.user_agent,
    EngagementEvent.metadata_json,
    EngagementEvent.created_at_ms,
)


@dataclass(frozen=True)
class NewEvent:
    """An event to store, already checked field by field; `line` is where it came from."""

    line: int
    render_id: uuid.UUID
    event_type: str
    actor_kind: str
    created_at_ms: int
    public_id: str | None = None
    share_id: uuid.UUID | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    metadata_json: str | None = None  # canonical JSON text, None for null

    def content(self) -> tuple[Any, ...]:
        """What a replay must match: every stored column but the id and the render."""
        return (
            self.event_type,
            self.actor_kind,
            self.share_id.hex if self.share_id else None,
            self.source_ip,
            self.user_agent,
            self.metadata_json,
            self.created_at_ms,
        )


@dataclass(frozen=True)
class RecordResult:
    inserted: int
    skipped: int


def new_event_id() -> str:
    return "ev_" + secrets.token_hex(12)


Stored = dict[tuple[uuid.UUID, str], tuple[int | None, tuple[Any, ...]]]


@dataclass
class _Batch:
    """The outcome of checking one batch: what to write, and what it adds up to."""

    values: list[Any] = field(default_factory=list)  # the rows' values, flat, in COLUMNS order
    rows: int = 0
    share_rows: list[tuple[str, str, int]] = field(default_factory=list)
    new_shares: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0


class EventWriter:
    """Checks and stores events handed to it one by one, inside the caller's transaction."""

    KEEP_PROBLEMS = 1000  # the first ones are kept to be shown; the rest only counted

    def __init__(self, db: peewee.Database, batch: int = BATCH) -> None:
        self.db = db
        self.batch = batch
        self.pending: list[NewEvent] = []
        self.renders: dict[uuid.UUID, bool] = {}  # render id -> exists
        self.shares: dict[uuid.UUID, uuid.UUID] = {}  # share id -> its render
        self.counts: Counter[tuple[str, str]] = Counter()  # (render hex, kind) -> new events
        self.problems: list[tuple[int, str]] = []
        self.rejected = 0
        self.inserted = 0
        self.skipped = 0
        self._insert_sql: dict[int, str] = {}  # rows -> INSERT text, built once per size
        # Events above this seq were written by this stream (on PostgreSQL, or by a concurrent
        # one: then a message says "earlier in this file" where it should say "stored").
        self.first_seq: int = EngagementEvent.select(
            peewee.fn.COALESCE(peewee.fn.MAX(EngagementEvent.seq), 0)
        ).scalar()

    def add(self, event: NewEvent) -> None:
        self.pending.append(event)
        if len(self.pending) >= self.batch:
            self.flush()

    def reject(self, line: int, why: str) -> None:
        """Count a bad line (unreadable, or refused by a check); all are reported at the end."""
        self.rejected += 1
        if len(self.problems) < self.KEEP_PROBLEMS:
            self.problems.append((line, why))

    def finish(self) -> RecordResult:
        """Write the rest and the counters; EventRejected (every problem) if any line was bad."""
        self.flush()
        if self.rejected:
            self.problems.sort()
            raise EventRejected(self.problems, total=self.rejected)
        add_to_counters(self.counts)
        return RecordResult(inserted=self.inserted, skipped=self.skipped)

    def flush(self) -> None:
        """Check and write the pending events.

        Optimistic first: most events are new, so the batch is inserted under a savepoint
        without asking which ids are stored; only if the unique (render, id) index refuses it
        are the stored copies looked up and compared, the savepoint undone, and the batch
        written again without them.
        """
        events, self.pending = self.pending, []
        if not events:
            return
        self._learn_renders({e.render_id for e in events} - self.renders.keys())
        self._learn_shares({e.share_id for e in events if e.share_id} - self.shares.keys())
        batch = self._check(events, stored={})
        if not batch.problems and not batch.skipped:
            try:
                with self.db.atomic():  # a savepoint inside the stream's transaction
                    self._write(batch)
            except peewee.IntegrityError:
                # A concurrent writer may have committed one of these shares meanwhile, too.
                self._learn_shares(set(batch.new_shares))
                batch = self._check(events, self._stored(events))
                self._write(batch)
        else:
            batch = self._check(events, self._stored(events))
            self._write(batch)
        for line, why in batch.problems:
            self.reject(line, why)
        self.skipped += batch.skipped
        self.inserted += batch.rows
        self.counts.update(batch.counts)
        self.shares.update(batch.new_shares)

    def _check(self, events: Sequence[NewEvent], stored: Stored) -> _Batch:
        """What to write of `events`, given what is `stored` under their ids; no side effects."""
        batch = _Batch()
        in_batch: dict[tuple[uuid.UUID, str], NewEvent] = {}
        for event in events:
            if not self.renders[event.render_id]:
                batch.problems.append((event.line, f"renderId {event.render_id} does not exist"))
                continue
            if event.public_id is not None:
                key = (event.render_id, event.public_id)
                earlier = stored.get(key)
                if earlier is None and key in in_batch:
                    earlier = (in_batch[key].line, in_batch[key].content())
                if earlier is not None:
                    where, content = earlier
                    if content == event.content():
                        batch.skipped += 1
                    else:
                        batch.problems.append((event.line, self._reused(event, where)))
                    continue
                in_batch[key] = event
            if event.share_id is not None:
                owner = self.shares.get(event.share_id) or batch.new_shares.get(event.share_id)
                if owner is None:
                    batch.new_shares[event.share_id] = event.render_id
                    batch.share_rows.append(
                        (event.share_id.hex, event.render_id.hex, event.created_at_ms)
                    )
                elif owner != event.render_id:
                    why = f"shareId {event.share_id} belongs to another render"
                    batch.problems.append((event.line, why))
                    continue
            render = event.render_id.hex
            batch.values += (
                event.public_id or new_event_id(),
                render,
                event.event_type,
                event.actor_kind,
                event.share_id.hex if event.share_id else None,
                event.source_ip,
                event.user_agent,
                event.metadata_json,
                event.created_at_ms,
            )
            batch.rows += 1
            batch.counts[(render, event.event_type)] += 1
            if event.event_type == "viewed" and event.share_id is not None:
                batch.counts[(render, LINK_OPEN)] += 1
        return batch

    def _write(self, batch: _Batch) -> None:
        fields = [Share.id, Share.render, Share.created_at_ms]
        for chunk in peewee.chunked(batch.share_rows, 100):
            Share.insert_many(chunk, fields=fields).returning().execute()
        if batch.rows:
            self.db.execute_sql(self._insert(batch.rows), batch.values)

    def _reused(self, event: NewEvent, where: int | None) -> str:
        said = f"id {event.public_id} of render {event.render_id}"
        if where is None:
            return f"{said} is already stored with other content"
        if where == 0:
            return f"{said} appears earlier in this file with other content"
        return f"{said} appears on line {where} with other content"

    def _insert(self, rows: int) -> str:
        """The INSERT text for `rows` events, from Peewee once per size (in practice two sizes)."""
        if rows not in self._insert_sql:
            sample = [tuple(None for _ in COLUMNS)] * rows
            query = EngagementEvent.insert_many(sample, fields=COLUMNS).returning()
            self._insert_sql[rows] = query.sql()[0]
        return self._insert_sql[rows]

    def _learn_renders(self, ids: set[uuid.UUID]) -> None:
        for chunk in peewee.chunked(sorted(ids), self.batch):
            query = Render.select(Render.id).where(Render.id.in_(chunk)).tuples()
            found = {_as_uuid(render) for (render,) in query}
            self.renders.update((render, render in found) for render in chunk)

    def _learn_shares(self, ids: set[uuid.UUID]) -> None:
        for chunk in peewee.chunked(sorted(ids), self.batch):
            query = Share.select(Share.id, Share.render).where(Share.id.in_(chunk)).tuples()
            self.shares.update((_as_uuid(share), _as_uuid(render)) for share, render in query)

    def _stored(self, events: Sequence[NewEvent]) -> Stored:
        """What is stored under the ids of `events`, by (render, id): (0 if this stream wrote
        it else None, content)."""
        wanted: dict[uuid.UUID, set[str]] = {}
        for event in events:
            if event.public_id is not None and self.renders[event.render_id]:
                wanted.setdefault(event.render_id, set()).add(event.public_id)
        stored: Stored = {}
        for render, ids in wanted.items():
            query = (
                EngagementEvent.select(EngagementEvent.seq, EngagementEvent.public_id, *COLUMNS[2:])
                .where((EngagementEvent.render == render) & EngagementEvent.public_id.in_(ids))
                .tuples()
            )
            for seq, public_id, *content in query:
                if content[2] is not None:
                    content[2] = _as_uuid(content[2]).hex
                mine = 0 if seq > self.first_seq else None
                stored[(render, public_id)] = (mine, tuple(content))
        return stored


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def write_events(
    db: peewee.Database, events: Iterable[NewEvent | tuple[int, str]], batch: int = BATCH
) -> RecordResult:
    """Store `events` (or (line, why) for lines that could not be read) inside the caller's
    transaction; EventRejected lists every problem, and the caller's rollback undoes the rest."""
    if isinstance(db, peewee.SqliteDatabase):
        # A bigger page cache for this connection: the (render, id) and (render, time) indexes
        # take inserts all over, and 2 MB (the default) thrashes past a few 100,000 events.
        db.execute_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    writer = EventWriter(db, batch)
    for item in events:
        if isinstance(item, NewEvent):
            writer.add(item)
        else:
            writer.reject(*item)
    return writer.finish()
