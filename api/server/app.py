"""`create_app(settings)`: the server; it owns its database, and nothing is built on import.

The wiring is `assemble()` (api/assembly.py), shared with the mock; what is the server's own
is here: handlers resolved by operationId, API keys looked up in the database, db/'s errors
mapped to envelopes, `/livez` and `/readyz` (api/ops/health.py) behind request guards and a
request deadline, and `AppState`, which binds this app's database and handler
settings around each request (context variables, so a second app in the process never
rebinds the first one's database).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
from collections.abc import Callable
from typing import Any

import connexion
import peewee
from connexion.middleware import MiddlewarePosition
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.assembly import JSONIFIER, SPEC_ROUTES, Middleware, assemble
from api.config import Settings
from api.openapi.connexion_shim import produced_media_types, scope_operation_id
from api.openapi.json_views import json_view
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import RequestValidationProblem
from api.ops import health
from api.ops.request_log import configure_logging
from api.protocol.cors import ContractCORS
from api.protocol.deadline import RequestDeadline
from api.security import InvalidApiKey, bearer_handler
from api.server import dbwork
from api.server.dbwork import DatabaseWork
from api.server.resolver import OperationIdResolver
from db import keys
from db.connection import (
    DatabaseUnavailable,
    bound,
    connection,
    database_for,
    unavailable_reason,
)
from db.errors import NotFound, RenderNotFound
from db.migrations import check_schema, schema_problem
from db.postgres_loop import PostgresOnLoop
from db.queries import KeyOwner, find_active_key, find_active_key_on_loop
from db.sqlite_loop import SqliteOnLoop
from handlers.context import HandlerContext, using

logger = logging.getLogger("craftkit")

# Routes served besides the contract's operations; contract tests check there are no others.
# The health routes are answered before routing (api/ops/health.py), the document by the framework.
OPERATIONAL_ROUTES = (*SPEC_ROUTES, *health.ROUTES)


DATABASE_ERRORS: dict[type[Exception], errors.Handler] = {
    # A malformed id names no render: the same 404 as a missing or foreign one.
    RequestValidationProblem: errors.path_not_found(str(RenderNotFound())),
    NotFound: errors.not_found,
    DatabaseUnavailable: errors.unavailable,
    peewee.OperationalError: errors.unavailable,
    peewee.InterfaceError: errors.unavailable,
}


APP_CLASSES: dict[str, type[connexion.FlaskApp] | type[connexion.AsyncApp]] = {
    "async": connexion.AsyncApp,
    "flask": connexion.FlaskApp,
}


def create_app(
    settings: Settings | None = None,
    *,
    app_class: type[connexion.FlaskApp] | type[connexion.AsyncApp] | None = None,
) -> Any:
    """The Connexion app for `settings` (default: from the environment), with its own database.

    An AsyncApp unless `settings.app` (CRAFTKIT_APP) or `app_class` asks for the FlaskApp.
    """
    settings = settings or Settings.from_env()
    app_class = app_class or APP_CLASSES[settings.app]
    spec = OpenAPI31Specification.from_path(settings.spec_path)
    db = database_for(
        settings.database_url,
        pool_size=settings.db_pool_size,
        wait_for_locks=False,  # SQLite runs on the event loop: see api/server/dbwork.py
        timeout=settings.db_timeout,  # every wait on the database (db/deadline.py)
        create=False,  # never a new SQLite file: only `craftkit db init` (or `demo`) makes one
    )
    before_routing = MiddlewarePosition.BEFORE_SWAGGER
    _refuse_other_schema(db)
    on_loop = app_class is connexion.AsyncApp and settings.db_on_loop
    work = DatabaseWork(
        db,
        settings.db_pool_size,
        postgres_on_loop(db, settings.db_timeout, settings.db_prepare) if on_loop else None,
        SqliteOnLoop(db, settings.db_timeout)
        if on_loop and isinstance(db, peewee.SqliteDatabase)
        else None,
    )
    # AsyncApp awaits handlers, so they can run on the loop; FlaskApp calls them in its threads.
    wrap = functools.partial(async_view, work) if app_class is connexion.AsyncApp else None
    app = assemble(
        spec,
        settings.spec_path,
        app_class=app_class,
        resolver=OperationIdResolver(wrap),
        security_map={"bearer": bearer_handler(KeyLookup(settings.key_cache_seconds))},
        validate_responses=settings.validate_responses,
        middleware=[
            *cors(spec, settings.cors_origin_list),
            # Outermost but CORS: an abandoned request keeps its own database context
            # (api/protocol/deadline.py).
            Middleware(
                RequestDeadline,
                MiddlewarePosition.BEFORE_EXCEPTION,
                {"seconds": settings.db_timeout},
            ),
            Middleware(
                AppState,
                MiddlewarePosition.BEFORE_EXCEPTION,
                {
                    "database": db,
                    "work": work,
                    "context": HandlerContext(recent_limit=settings.recent_limit),
                },
            ),
            Middleware(health.Health, before_routing, {"ready": ready}),
            *flask_slots(app_class, work),
        ],
        domain_errors=DATABASE_ERRORS,
        answered_paths=health.ROUTES,
        max_body=0,  # no operation of the contract takes a body
        strict_query=settings.strict_query,
        compiled=settings.pipeline == "compiled" and app_class is connexion.AsyncApp,
        on_shutdown=work.close,
    )
    app.database = db  # for tests and tools that need the app's own database
    app.database_work = work  # the same, for how its requests reach the database
    return app


def flask_slots(app_class: type, work: DatabaseWork) -> list[Middleware]:
    """On the FlaskApp, `SlotBeforeView` innermost, where the request has been routed."""
    if app_class is not connexion.FlaskApp:
        return []
    return [Middleware(SlotBeforeView, MiddlewarePosition.BEFORE_CONTEXT, {"work": work})]


class SlotBeforeView:
    """FlaskApp: a request routed to an operation takes its database slot (api/server/dbwork.py)
    before its view is handed to a thread.

    The FlaskApp runs views in a2wsgi's threads, which open the request's connection without
    a slot, while key lookups take one on the loop. Requests whose key was looked up held
    every connection while they waited for a thread, and every thread ran a request whose
    key was cached and waited for a connection: none was ever given back (503s, then nothing
    at all, under 32 connections; tests/test_dbwork.py). With a slot first, no more requests
    hold or want a connection than the pool has. Routes outside the contract take none, so
    they never wait on the database."""

    def __init__(self, app: ASGIApp, work: DatabaseWork) -> None:
        self.app = app
        self.work = work

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope_operation_id(scope) is not None:
            await self.work.reserve()
        await self.app(scope, receive, send)


def cors(spec: OpenAPI31Specification, origins: list[str]) -> list[Middleware]:
    """CORS for the origins CRAFTKIT_CORS_ORIGINS names, none by default (api/protocol/cors.py).

    Outside the exception middleware and the request deadline, so every error envelope
    carries its headers; inside the request log, which is outermost, so preflights are logged.
    """
    if not origins:
        return []
    position = MiddlewarePosition.BEFORE_EXCEPTION
    return [Middleware(ContractCORS, position, {"spec": spec, "origins": origins})]


class NotReady(DatabaseUnavailable):
    """The database answers but cannot serve: the message says why, and is safe to show."""

    @property
    def public_message(self) -> str:
        return str(self)


def ready() -> None:
    """`/readyz`'s check: the database answers within the bound and holds the current schema.

    An unreachable database is answered saying why, in words safe to show (no host, user or
    URL: `unavailable_reason`); the driver's own message goes to the log.
    """
    try:
        problem = schema_problem()
    except DatabaseUnavailable as exc:
        if isinstance(exc, NotReady):
            raise
        reason = unavailable_reason(exc)
        raise NotReady(f"The database is unavailable: {reason}.") from (exc.__cause__ or exc)
    if problem is not None:
        raise NotReady(problem)


def postgres_on_loop(db: peewee.Database, timeout: float, prepare: bool) -> PostgresOnLoop | None:
    """PostgreSQL's reads on the event loop (db/postgres_loop.py) when psycopg 3 is there;
    without it (only psycopg2 installed) they stay in threads, and the log says how to change
    that. None for SQLite (db/sqlite_loop.py)."""
    if not isinstance(db, peewee.PostgresqlDatabase):
        return None
    if importlib.util.find_spec("psycopg") is None:
        logger.warning(
            "psycopg 3 is not installed: PostgreSQL reads run in threads through psycopg2 "
            "(pip install -e '.[postgres]' installs it; CRAFTKIT_DB_ON_LOOP=0 keeps threads)"
        )
        return None
    return PostgresOnLoop(db, timeout, prepare=prepare)


def async_view(
    work: DatabaseWork, handler: Callable[..., Any], operation: Any
) -> Callable[..., Any]:
    """The AsyncApp's view of a handler: run through the app's database policy
    (api/server/dbwork.py), its dicts answered as JSON without Connexion's per-request inference
    (api/openapi/json_views.py) where the operation produces exactly one JSON media type."""
    view = dbwork.async_handler(handler, operation.method, work)
    return json_view(view, lambda: produced_media_types(operation), JSONIFIER.dumps)


def _refuse_other_schema(db: peewee.Database) -> None:
    """Fail at start-up on an older (or newer) schema, saying to run `craftkit db migrate`;
    an unreachable database is not an error here: requests answer 503 until it is back."""
    with bound(db):
        try:
            check_schema()
        except DatabaseUnavailable:
            logger.warning("database unreachable at start-up; requests get 503 until it is back")
        finally:
            if not db.is_closed():
                db.close()


def serve_app() -> Any:
    """uvicorn's factory for `craftkit serve`: logging as the settings say, then the app.

    Run in every worker process, which starts with no logging configured.
    """
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


class KeyLookup:
    """Token info for a valid key: the project and mode every read is scoped to.

    The shape is checked first, so a malformed key never reaches the database. A valid key is
    then trusted for `ttl` seconds by this worker (looked up again after that), so a revoked
    key is refused within `ttl` (CRAFTKIT_KEY_CACHE_SECONDS; 0 looks every request up). Only
    valid keys are kept, by digest, never the key itself; unknown keys always reach the
    database, so random tokens cannot fill the cache. The lookup uses the request's
    connection, which the handler then uses too (api/server/dbwork.py).
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._valid: dict[str, tuple[float, KeyOwner]] = {}

    async def __call__(self, token: str) -> dict[str, Any]:
        if keys.key_mode(token) is None:
            raise InvalidApiKey("Malformed API key: expected ck_live_… or ck_test_….")
        digest = keys.digest(token)
        now = self.clock()
        cached = self._valid.get(digest)
        if cached is not None and cached[0] > now:
            owner: KeyOwner | None = cached[1]
        else:
            owner = await dbwork.current().read(_lookup, find_active_key_on_loop, digest)
            if owner is not None and self.ttl > 0:
                if len(self._valid) >= self.MAX_ENTRIES:
                    self._valid.clear()
                self._valid[digest] = (now + self.ttl, owner)
            else:
                self._valid.pop(digest, None)
        if owner is None:
            raise InvalidApiKey("Invalid or revoked API key.")
        return {"sub": str(owner.project_id), "owner": owner}


def _lookup(digest: str) -> KeyOwner | None:
    with connection():
        return find_active_key(digest)


class AppState:
    """This app's database, its connection for the request and handler context, around each
    request.

    Context variables follow the request into the thread pool where Connexion runs handlers
    and key lookups (FlaskApp's a2wsgi and AsyncApp's run_in_threadpool both copy them).
    """

    def __init__(
        self, app: ASGIApp, database: peewee.Database, work: DatabaseWork, context: HandlerContext
    ) -> None:
        self.app = app
        self.database = database
        self.work = work
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with bound(self.database), using(self.context):
            async with self.work.request():
                await self.app(scope, receive, send)
