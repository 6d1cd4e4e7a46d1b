"""Every read and write the server and the CLI make; one function per question asked.

Queries return model rows or frozen dataclasses and raise db.errors; the contract's JSON
(camelCase, ISO timestamps, zero-filled counts) is shaped in handlers/.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from db.connection import database
from db.errors import Conflict, EventRejected, KeyNotFound, ProjectNotFound, RenderNotFound
from db.models import ApiKey, EngagementEvent, Project, Render, Share

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
# SQLite caps bound variables per statement; stay well below it for IN (...) and inserts.
CHUNK = 400


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
    row = (
        ApiKey.select(ApiKey.id, ApiKey.project, ApiKey.mode)
        .where((ApiKey.digest == digest) & ApiKey.revoked_at_ms.is_null())
        .first()
    )
    if row is None:
        return None
    return KeyOwner(key_id=row.id, project_id=row.project_id, mode=row.mode)


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


# --- renders --------------------------------------------------------------------------------


def create_render(project: Project, mode: str, render_id: uuid.UUID | None = None) -> Render:
    return Render.create(
        id=render_id or uuid.uuid4(), project=project, mode=mode, created_at_ms=now_ms()
    )


@dataclass(frozen=True)
class StoredEvent:
    """One stored event as the database has it (epoch milliseconds, metadata as JSON text)."""

    public_id: str
    event_type: str
    actor_kind: str
    share_id: uuid.UUID | None
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
    cannot learn which ids exist elsewhere.
    """
    render = Render.get_or_none(
        (Render.id == render_id)
        & (Render.project == owner.project_id)
        & (Render.mode == owner.mode)
    )
    if render is None:
        raise RenderNotFound()

    by_type = (
        EngagementEvent.select(EngagementEvent.event_type, peewee.fn.COUNT(EngagementEvent.seq))
        .where(EngagementEvent.render == render.id)
        .group_by(EngagementEvent.event_type)
        .tuples()
    )
    link_opens = (
        EngagementEvent.select()
        .where(
            (EngagementEvent.render == render.id)
            & (EngagementEvent.event_type == "viewed")
            & EngagementEvent.share.is_null(False)
        )
        .count()
    )
    recent = (
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
        .where(EngagementEvent.render == render.id)
        .order_by(EngagementEvent.created_at_ms.desc(), EngagementEvent.seq.desc())
        .limit(recent_limit)
    )
    return Engagement(
        counts={event_type: int(count) for event_type, count in by_type},
        link_opens=link_opens,
        recent=[
            StoredEvent(
                public_id=event.public_id,
                event_type=event.event_type,
                actor_kind=event.actor_kind,
                share_id=event.share_id,
                source_ip=event.source_ip,
                user_agent=event.user_agent,
                metadata_json=event.metadata_json,
                created_at_ms=event.created_at_ms,
            )
            for event in recent
        ],
    )


# --- events ---------------------------------------------------------------------------------


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

    def same_content(self, row: EngagementEvent) -> bool:
        return (
            str(row.render_id) == str(self.render_id)
            and row.event_type == self.event_type
            and row.actor_kind == self.actor_kind
            and row.created_at_ms == self.created_at_ms
            and (str(row.share_id) if row.share_id else None)
            == (str(self.share_id) if self.share_id else None)
            and row.source_ip == self.source_ip
            and row.user_agent == self.user_agent
            and row.metadata_json == self.metadata_json
        )


@dataclass(frozen=True)
class RecordResult:
    inserted: int
    skipped: int


def new_event_id() -> str:
    return "ev_" + secrets.token_hex(12)


def record_events(events: Sequence[NewEvent]) -> RecordResult:
    """Store a batch in one transaction: all of it, or (if any event is bad) none of it.

    Every bad event is reported, not just the first. An event whose id is already stored with
    the same content is skipped, so a file whose events carry ids can be replayed; the same id
    with other content is an error.
    """
    with database.atomic():
        renders = _existing(Render, Render.id, {e.render_id for e in events})
        shares = {
            s.id: s.render_id
            for s in _rows_in(Share, Share.id, {e.share_id for e in events if e.share_id})
        }
        stored = {
            row.public_id: row
            for row in _rows_in(
                EngagementEvent,
                EngagementEvent.public_id,
                {e.public_id for e in events if e.public_id},
            )
        }
        rows: list[dict[str, Any]] = []
        new_shares: list[dict[str, Any]] = []
        batch_ids: dict[str, NewEvent] = {}
        skipped = 0
        problems: list[tuple[int, str]] = []
        for event in events:
            if event.render_id not in renders:
                problems.append((event.line, f"renderId {event.render_id} does not exist"))
                continue
            if event.public_id is not None:
                earlier = batch_ids.get(event.public_id)
                if earlier is not None:
                    if _same_new(earlier, event):
                        skipped += 1
                        continue
                    problems.append(
                        (
                            event.line,
                            f"id {event.public_id} appears on line {earlier.line} with other "
                            "content",
                        )
                    )
                    continue
                row = stored.get(event.public_id)
                if row is not None:
                    if event.same_content(row):
                        skipped += 1
                        continue
                    problems.append(
                        (event.line, f"id {event.public_id} is already stored with other content")
                    )
                    continue
                batch_ids[event.public_id] = event
            if event.share_id is not None:
                owner = shares.get(event.share_id)
                if owner is None:
                    shares[event.share_id] = event.render_id
                    new_shares.append(
                        {
                            "id": event.share_id,
                            "render": event.render_id,
                            "created_at_ms": event.created_at_ms,
                        }
                    )
                elif owner != event.render_id:
                    problems.append(
                        (event.line, f"shareId {event.share_id} belongs to another render")
                    )
                    continue
            rows.append(
                {
                    "public_id": event.public_id or new_event_id(),
                    "render": event.render_id,
                    "event_type": event.event_type,
                    "actor_kind": event.actor_kind,
                    "share": event.share_id,
                    "source_ip": event.source_ip,
                    "user_agent": event.user_agent,
                    "metadata_json": event.metadata_json,
                    "created_at_ms": event.created_at_ms,
                }
            )
        if problems:
            raise EventRejected(problems)
        for chunk in peewee.chunked(new_shares, CHUNK // 4):
            Share.insert_many(chunk).execute()
        for chunk in peewee.chunked(rows, CHUNK // 10):
            EngagementEvent.insert_many(chunk).execute()
    return RecordResult(inserted=len(rows), skipped=skipped)


def _same_new(a: NewEvent, b: NewEvent) -> bool:
    return {**a.__dict__, "line": 0} == {**b.__dict__, "line": 0}


def _rows_in(model: type[peewee.Model], column: peewee.Field, values: set[Any]) -> list[Any]:
    found: list[Any] = []
    ordered = sorted(values, key=str)
    for chunk in peewee.chunked(ordered, CHUNK):
        found.extend(model.select().where(column.in_(chunk)))
    return found


def _existing(model: type[peewee.Model], column: peewee.Field, values: set[Any]) -> set[Any]:
    return {getattr(row, column.name) for row in _rows_in(model, column, values)}
