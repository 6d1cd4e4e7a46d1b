"""FastAPI references: the engagement endpoint as a FastAPI user would write it, uvicorn factories.

Each answers `GET /v1/renders/{id}/engagement` with the bytes craftkit serves, through a pydantic
`response_model` mirroring the contract's EngagementSummary (FastAPI validates every answer
against it and serialises it with pydantic, as craftkit validates its answers against the
contract). A key it does not know is a 401 and a render the key may not read a 404, in the
contract's error envelope; a malformed id is FastAPI's own 422.

- `fastapi_sqlite` (g): `async def` and the stdlib sqlite3 module, one connection per worker,
  opened at start-up (lifespan) and used on the event loop: what the FastAPI docs' async
  examples do, and what craftkit does with SQLite (its reads run on the loop, api/server/dbwork.py).
- `fastapi_sqlite_threads` (h): the same with a plain `def` endpoint, so FastAPI runs it (and
  the response model's validation) in its thread pool; a sqlite3 connection per thread
  (`threading.local`), since a sqlite3 connection belongs to the thread that made it.
- `fastapi_fixed` (i): the fixed body (`reference.BODY_ENV`), parsed once at start-up and
  returned as a dict through the same response model: FastAPI's cost without a database.
- `fastapi_postgres` (q): `async def` and psycopg 3's `AsyncConnectionPool` (psycopg_pool),
  opened in the lifespan as psycopg's documentation shows for FastAPI. A pool, not one
  `AsyncConnection`: a connection runs one statement at a time, so 32 concurrent requests
  would queue on it. Eight connections, craftkit's CRAFTKIT_DB_POOL_SIZE default; autocommit,
  as Peewee runs craftkit's connections, so both send the same statements and no BEGIN/COMMIT.

Every request runs the statements craftkit's path does (db/queries.py): the key by its SHA-256
digest (db/keys.py) among unrevoked keys, giving project and mode; the render's counters with
the tenant check (id, project and mode; LEFT JOIN, so a render without counters still comes
back); then, if it has events, the newest 20. craftkit trusts a key it has found for
CRAFTKIT_KEY_CACHE_SECONDS (1 s by default), so under load it mostly skips the first; these
look it up every time, as a FastAPI user's dependency would. The SQL is written by hand, as a
user of the stdlib driver or psycopg would; SQLite keeps UUIDs as Peewee does, 32 hex digits.

The database is named by `DATABASE_ENV` (the file `craftkit demo` seeded, or PostgreSQL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from bench.reference import BODY_ENV, DATABASE_ENV, PATH
from db.keys import digest
from db.models import LINK_OPEN  # the counter of views through a share link
from db.queries import EVENT_TYPES

RECENT_LIMIT = 20  # craftkit's CRAFTKIT_RECENT_LIMIT default
POOL_SIZE = 8  # craftkit's CRAFTKIT_DB_POOL_SIZE default

KEY_SQL = (
    "SELECT project_id, mode FROM api_key WHERE digest = {0} AND revoked_at_ms IS NULL LIMIT 1"
)
COUNTERS_SQL = (
    "SELECT c.kind, c.count FROM render r LEFT JOIN event_counter c ON c.render_id = r.id "
    "WHERE r.id = {0} AND r.project_id = {0} AND r.mode = {0}"
)
RECENT_SQL = (
    "SELECT public_id, event_type, actor_kind, share_id, source_ip, user_agent, metadata_json, "
    "created_at_ms FROM engagement_event WHERE render_id = {0} "
    f"ORDER BY created_at_ms DESC, seq DESC LIMIT {RECENT_LIMIT}"
)
EPOCH = datetime(1970, 1, 1)


class RecentEvent(BaseModel):
    id: str
    eventType: Literal[
        "viewed",
        "downloaded",
        "printed",
        "email_opened",
        "email_sent",
        "share_created",
        "share_revoked",
    ]
    actorKind: Literal["recipient", "partner", "system"]
    shareId: str | None = None
    sourceIp: str | None = None
    userAgent: str | None = None
    metadata: Any = None
    createdAt: str  # UTC, milliseconds and Z: pydantic's datetime would write microseconds


class EngagementSummary(BaseModel):
    counts: dict[str, int]
    linkOpens: int
    total: int
    recent: list[RecentEvent]


def error(status: int, code: str, message: str) -> JSONResponse:
    """The contract's error envelope."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def unauthorized() -> JSONResponse:
    return error(401, "unauthorized", "Invalid API key.")


def not_found() -> JSONResponse:
    return error(404, "not_found", "Render not found.")


def created_at(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


def summary(counters: Iterable[Sequence[Any]], recent: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """The answer from the counters' rows and the newest events' rows (newest first)."""
    counts = dict.fromkeys(EVENT_TYPES, 0)
    link_opens = 0
    for kind, count in counters:
        if kind == LINK_OPEN:
            link_opens = count
        elif kind is not None:
            counts[kind] = count
    return {
        "counts": counts,
        "linkOpens": link_opens,
        "total": sum(counts.values()),
        "recent": [
            {
                "id": public_id,
                "eventType": event_type,
                "actorKind": actor_kind,
                "shareId": None if share is None else str(uuid.UUID(str(share))),
                "sourceIp": source_ip,
                "userAgent": user_agent,
                "metadata": None if metadata is None else json.loads(metadata),
                "createdAt": created_at(ms),
            }
            for public_id, event_type, actor_kind, share, source_ip, user_agent, metadata, ms in (
                recent
            )
        ],
    }


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]


def _digest(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return None if credentials is None else digest(credentials.credentials)


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_path() -> str:
    url = os.environ[DATABASE_ENV]
    if not url.startswith("sqlite:///"):
        raise ValueError(f"{DATABASE_ENV} must be a sqlite:/// URL here, not {url!r}")
    return url.removeprefix("sqlite:///")


def _sqlite_answer(
    db: sqlite3.Connection, id: uuid.UUID, key_digest: str | None
) -> dict[str, Any] | JSONResponse:
    """The three statements on one sqlite3 connection, and the answer or the error."""
    owner = None if key_digest is None else db.execute(KEY_SQL_SQLITE, (key_digest,)).fetchone()
    if owner is None:
        return unauthorized()
    counters = db.execute(COUNTERS_SQL_SQLITE, (id.hex, *owner)).fetchall()
    if not counters:
        return not_found()
    has_events = any(kind is not None for kind, _ in counters)
    recent = db.execute(RECENT_SQL_SQLITE, (id.hex,)).fetchall() if has_events else []
    return summary(counters, recent)


KEY_SQL_SQLITE = KEY_SQL.format("?")
COUNTERS_SQL_SQLITE = COUNTERS_SQL.format("?")
RECENT_SQL_SQLITE = RECENT_SQL.format("?")


def fastapi_sqlite() -> FastAPI:
    """(g) `async def`, one sqlite3 connection per worker, used on the event loop."""
    path = _sqlite_path()
    state: dict[str, sqlite3.Connection] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["db"] = sqlite3.connect(path)
        try:
            yield
        finally:
            state.pop("db").close()

    app = FastAPI(lifespan=lifespan)

    @app.get(PATH, response_model=EngagementSummary)
    async def get_render_engagement(id: uuid.UUID, credentials: Bearer) -> Any:
        return _sqlite_answer(state["db"], id, _digest(credentials))

    return app


def fastapi_sqlite_threads() -> FastAPI:
    """(h) A `def` endpoint in FastAPI's thread pool, one sqlite3 connection per thread."""
    path = _sqlite_path()
    local = threading.local()

    def connection() -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None:
            db = local.db = sqlite3.connect(path)
        return db

    app = FastAPI()

    @app.get(PATH, response_model=EngagementSummary)
    def get_render_engagement(id: uuid.UUID, credentials: Bearer) -> Any:
        return _sqlite_answer(connection(), id, _digest(credentials))

    return app


# --- the fixed body -------------------------------------------------------------------------


def fastapi_fixed() -> FastAPI:
    """(i) craftkit's answer, parsed once, returned through the response model every time."""
    body = json.loads(Path(os.environ[BODY_ENV]).read_bytes())
    app = FastAPI()

    @app.get(PATH, response_model=EngagementSummary)
    async def get_render_engagement(id: uuid.UUID) -> Any:
        return body

    return app


# --- PostgreSQL -----------------------------------------------------------------------------

KEY_SQL_PG = KEY_SQL.format("%s")
COUNTERS_SQL_PG = COUNTERS_SQL.format("%s")
RECENT_SQL_PG = RECENT_SQL.format("%s")


def fastapi_postgres() -> FastAPI:
    """(q) `async def`, psycopg 3's AsyncConnectionPool, opened and closed by the lifespan."""
    from psycopg_pool import AsyncConnectionPool

    url = os.environ[DATABASE_ENV]
    pool = AsyncConnectionPool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, kwargs={"autocommit": True}, open=False
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get(PATH, response_model=EngagementSummary)
    async def get_render_engagement(id: uuid.UUID, credentials: Bearer) -> Any:
        key_digest = _digest(credentials)
        if key_digest is None:
            return unauthorized()
        async with pool.connection() as db:
            owner = await (await db.execute(KEY_SQL_PG, (key_digest,))).fetchone()
            if owner is None:
                return unauthorized()
            cursor = await db.execute(COUNTERS_SQL_PG, (id, *owner))
            counters = await cursor.fetchall()
            if not counters:
                return not_found()
            recent: list[Any] = []
            if any(kind is not None for kind, _ in counters):
                recent = await (await db.execute(RECENT_SQL_PG, (id,))).fetchall()
        return summary(counters, recent)

    return app
