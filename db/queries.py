"""Every read and write the server and the CLI make; one function per question asked.

Queries return model rows or frozen dataclasses and raise db.errors; the contract's JSON
(camelCase, ISO timestamps, zero-filled counts) is shaped in handlers/.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import peewee

from db.connection import database, is_sqlite, write_transaction
from db.errors import Conflict, KeyNotFound, ProjectNotFound, RenderNotFound
from db.ingest import NewEvent, RecordResult, write_events
from db.loop_reads import request_connection
from db.models import LINK_OPEN, ApiKey, EngagementEvent, EventCounter, Project, Render
from db.prepared import Prepared, param

EVENT_TYPES = (
    "viewed",
    "downloaded",
    "printed",
    "email_opened",
    "email_sent",
    "share_created",
    "share_revoked",
)
ACTOR_KINDS = ("recipient", "partner", "system")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- projects -------------------------------------------------------------------------------


def create_project(name: str) -> Project:
    try:
        with database.atomic():
            return Project.create(name=name, created_at_ms=now_ms())
    except peewee.IntegrityError as exc:
        raise Conflict(f"A project named {name!r} already exists.") from exc


def get_project(name: str) -> Project:
    project = Project.get_or_none(Project.name == name)
    if project is None:
        raise ProjectNotFound(name)
    return project


def get_or_create_project(name: str) -> tuple[Project, bool]:
    project = Project.get_or_none(Project.name == name)
    if project is not None:
        return project, False
    return create_project(name), True


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key speaks for: the tenancy every read is scoped to."""

    key_id: int
    project_id: int
    mode: str


def store_api_key(project: Project, mode: str, digest: str, display_prefix: str) -> ApiKey:
    return ApiKey.create(
        project=project,
        mode=mode,
        digest=digest,
        display_prefix=display_prefix,
        created_at_ms=now_ms(),
    )


def find_active_key(digest: str) -> KeyOwner | None:
    """Who an unrevoked key speaks for, by its digest; every authenticated request asks this.

    One statement built once (db/prepared.py), its row read as a tuple: through the model API
    this took 0.35 ms, most of it building the same SQL again.
    """
    rows = ACTIVE_KEY.run(cast(peewee.Database, database.obj), digest=digest)
    if not rows:
        return None
    key_id, project_id, mode = rows[0]
    return KeyOwner(key_id=key_id, project_id=project_id, mode=mode)


async def find_active_key_on_loop(digest: str) -> KeyOwner | None:
    """`find_active_key` through the request's connection on the event loop (PostgreSQL,
    db/postgres_loop.py)."""
    request = request_connection()
    (rows,) = await request.fetch(ACTIVE_KEY.bind(request.database.dialect, digest=digest))
    if not rows:
        return None
    key_id, project_id, mode = rows[0]
    return KeyOwner(key_id=key_id, project_id=project_id, mode=mode)


ACTIVE_KEY = Prepared(
    lambda: (
        ApiKey.select(ApiKey.id, ApiKey.project, ApiKey.mode)
        .where((ApiKey.digest == param("digest")) & ApiKey.revoked_at_ms.is_null())
        .limit(1)
    )
)


def revoke_key(
    *, digest: str | None = None, display_prefix: str | None = None
) -> tuple[ApiKey, bool]:
    """Revoke one key named by its digest or display prefix: (key, whether this call revoked it).

    Revoking twice keeps the first time."""
    if digest is not None:
        key = ApiKey.get_or_none(ApiKey.digest == digest)
    else:
        key = ApiKey.get_or_none(ApiKey.display_prefix == display_prefix)
    if key is None:
        raise KeyNotFound(display_prefix or "the given key")
    if key.revoked_at_ms is not None:
        return key, False
    key.revoked_at_ms = now_ms()
    key.save(only=[ApiKey.revoked_at_ms])
    return key, True


def list_keys(project: Project) -> list[ApiKey]:
    return list(project.keys.order_by(ApiKey.created_at_ms, ApiKey.id))


@dataclass(frozen=True)
class ProjectRow:
    name: str
    created_at_ms: int
    renders: int
    active_keys: int


def list_projects() -> list[ProjectRow]:
    """Every project, by name, with how many renders and unrevoked keys it has."""
    renders = Render.select(peewee.fn.COUNT(Render.id)).where(Render.project == Project.id)
    active = ApiKey.select(peewee.fn.COUNT(ApiKey.id)).where(
        (ApiKey.project == Project.id) & ApiKey.revoked_at_ms.is_null()
    )
    query = Project.select(
        Project.name, Project.created_at_ms, renders.alias("renders"), active.alias("keys")
    ).order_by(Project.name)
    return [ProjectRow(*row) for row in query.tuples()]


# --- renders --------------------------------------------------------------------------------


def create_render(project: Project, mode: str, render_id: uuid.UUID | None = None) -> Render:
    return Render.create(
        id=render_id or uuid.uuid4(), project=project, mode=mode, created_at_ms=now_ms()
    )


def list_renders(project: Project, mode: str | None = None) -> list[Render]:
    """A project's renders (of one mode, if given), oldest first."""
    query = project.renders
    if mode is not None:
        query = query.where(Render.mode == mode)
    return list(query.order_by(Render.created_at_ms, Render.id))


class StoredEvent(NamedTuple):
    """One stored event as the database has it (epoch milliseconds, metadata as JSON text).

    A named tuple: the request path makes up to `recent_limit` of these per call, and a tuple
    is built several times faster than a frozen dataclass."""

    public_id: str
    event_type: str
    actor_kind: str
    share_id: str | None  # the canonical hyphenated text
    source_ip: str | None
    user_agent: str | None
    metadata_json: str | None
    created_at_ms: int


@dataclass(frozen=True)
class Engagement:
    """What is stored about one render's engagement: rows and numbers, no wire format.

    `counts` holds only the event types that occurred; `recent` is newest first.
    """

    counts: dict[str, int]
    link_opens: int
    recent: list[StoredEvent]


def render_engagement(render_id: str, owner: KeyOwner, recent_limit: int) -> Engagement:
    """Counts and recent events of one render the key may read, else RenderNotFound.

    A render of another project or mode raises the same error as a missing one, so that a key
    cannot learn which ids exist elsewhere. Two statements, built once (db/prepared.py): the
    render with its counters, then (if it has any event) the newest events by the
    (render, created_at, seq) index; neither reads more rows as events accumulate.
    """
    db = cast(peewee.Database, database.obj)  # bound by the caller, as for every query
    render = Render.id.db_value(render_id)
    counters = RENDER_COUNTERS.run(db, render=render, project=owner.project_id, mode=owner.mode)
    if not _has_events(counters):  # nor any to show (or missing, or another tenant's)
        return _engagement(counters, [])
    return _engagement(counters, RECENT.run(db, render=render, limit=recent_limit))


async def render_engagement_on_loop(
    render_id: str, owner: KeyOwner, recent_limit: int
) -> Engagement:
    """`render_engagement` through the request's connection on the event loop. On PostgreSQL
    (db/postgres_loop.py) both statements go in one round trip: the events are asked for
    before the first statement's answer is known, so that statement checks the tenancy itself
    (`RECENT_OWNED`): another tenant's events never leave the database. On SQLite
    (db/sqlite_loop.py), where a statement costs no round trip, one after the other."""
    request = request_connection()
    dialect = request.database.dialect
    render = Render.id.db_value(render_id)
    owned = {"render": render, "project": owner.project_id, "mode": owner.mode}
    if not request.database.one_round_trip:  # SQLite: as `render_engagement` does
        (counters,) = await request.fetch(RENDER_COUNTERS.bind(dialect, **owned))
        if not _has_events(counters):
            return _engagement(counters, [])
        (rows,) = await request.fetch(RECENT.bind(dialect, render=render, limit=recent_limit))
        return _engagement(counters, rows)
    counters, rows = await request.fetch(
        RENDER_COUNTERS.bind(dialect, **owned),
        RECENT_OWNED.bind(dialect, **owned, limit=recent_limit),
    )
    return _engagement(counters, rows)


_new = tuple.__new__


def _has_events(counters: list[tuple[Any, ...]]) -> bool:
    return any(kind is not None and kind != LINK_OPEN for kind, _ in counters)


def _engagement(counters: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> Engagement:
    """The engagement from the two statements' rows; RenderNotFound when the render with its
    counters was not found (missing, or another tenant's: its events are not looked at)."""
    if not counters:
        raise RenderNotFound()
    counts: dict[str, int] = {}
    link_opens = 0
    for kind, count in counters:
        if kind == LINK_OPEN:
            link_opens = int(count)
        elif kind is not None:  # None: the render has no counter yet
            counts[kind] = int(count)
    recent = [
        # tuple.__new__: a named tuple's own __new__ is a Python function, half this loop's time
        _new(StoredEvent, row if row[3] is None else (*row[:3], hyphenated(row[3]), *row[4:]))
        for row in (rows if counts else ())
    ]
    return Engagement(counts=counts, link_opens=link_opens, recent=recent)


def hyphenated(stored: Any) -> str:
    """A stored UUID as canonical text: SQLite keeps Peewee's 32 hex digits, PostgreSQL's
    driver gives the hyphenated form. Slicing is a tenth of the time of a `uuid.UUID` and back."""
    text = str(stored)
    if len(text) == 32:
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text.lower()


# A render with no counter row yet still comes back, as one row of NULLs.
RENDER_COUNTERS = Prepared(
    lambda: (
        Render.select(EventCounter.kind, EventCounter.count)
        .join(EventCounter, peewee.JOIN.LEFT_OUTER, on=(EventCounter.render == Render.id))
        .where(
            (Render.id == param("render"))
            & (Render.project == param("project"))
            & (Render.mode == param("mode"))
        )
    )
)
RECENT = Prepared(
    lambda: (
        EngagementEvent.select(
            EngagementEvent.public_id,
            EngagementEvent.event_type,
            EngagementEvent.actor_kind,
            EngagementEvent.share,
            EngagementEvent.source_ip,
            EngagementEvent.user_agent,
            EngagementEvent.metadata_json,
            EngagementEvent.created_at_ms,
        )
        .where(EngagementEvent.render == param("render"))
        .order_by(EngagementEvent.created_at_ms.desc(), EngagementEvent.seq.desc())
        .limit(param("limit"))
    )
)


# --- events ---------------------------------------------------------------------------------

ANALYZE_AFTER = 10_000  # events written at once after which PostgreSQL's statistics are renewed


def record_events(events: Iterable[NewEvent | tuple[int, str]]) -> RecordResult:
    """Store events in one transaction: all of them, or (if any is bad) none of them.

    Every bad event is reported, not just the first; (line, why) items are lines that could
    not be read, reported with the others. An event whose id is already stored for its
    render with the same content is skipped, so a file whose events carry ids can be
    replayed; the same id with other content is an error naming the render. `events` may be
    a stream: see db/ingest.py for how memory stays flat.
    """
    with write_transaction():
        result = write_events(cast(peewee.Database, database.obj), events)
    if result.inserted >= ANALYZE_AFTER and not is_sqlite():
        # Fresh statistics, so that PostgreSQL reads `recent` by its index at once rather
        # than after autovacuum's next ANALYZE (until then it may sort all of a render's rows).
        database.execute_sql("ANALYZE engagement_event")
    return result


# RECENT for a request that cannot wait for RENDER_COUNTERS' answer (both in one round trip):
# no rows unless the render is the key's project's and mode's.
RECENT_OWNED = Prepared(
    lambda: RECENT.build().where(
        peewee.fn.EXISTS(
            Render.select(peewee.SQL("1")).where(
                (Render.id == param("render"))
                & (Render.project == param("project"))
                & (Render.mode == param("mode"))
            )
        )
    )
)
