"""The database behind every model: built from a URL, bound per context, never process-global.

Models bind to `database`, a Peewee `DatabaseProxy` whose target is looked up in a context
variable rather than stored once for the process. The app sets its own database around each
request (`bound(db)`, in api/protocol/middleware.py); the CLI, tests and benchmarks `bind(db)` one
explicitly. Two apps in one process therefore never rebind each other's database, and
contextvars follow a request into the thread pool where handlers and key lookups run.
SQLite → PostgreSQL is a URL change (playhouse.db_url).

The server's database is pooled (`database_for(url, pool_size=…)`, playhouse's pooled
classes): connections and their PRAGMAs are made once and reused. Inside
`request_connection(db)` one connection serves the whole request, the key lookup and the
handler alike, whichever threads they run in, and goes back to the pool at the end: Peewee keeps
connection state per thread (`Database._state`, a `threading.local`), so `database_for`
replaces it with `RequestScopedState`, which is per request inside that block and per thread
elsewhere, and drops Peewee's per-database lock (`Database._lock`, which that state makes
pointless, and which the event loop waited on). Those attributes, `peewee._ConnectionState`
and `peewee._NoopLock` are Peewee internals (4.x), used here only (and playhouse's pool state
in db/deadline.py); tests/test_db_connection.py fails loudly if they change.
"""

from __future__ import annotations

import contextvars
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse import db_url

from db import deadline

_current: contextvars.ContextVar[peewee.Database | None] = contextvars.ContextVar(
    "craftkit_database", default=None
)

BUSY_TIMEOUT_MS = 5000  # how long SQLite waits for another writer's lock before failing
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": BUSY_TIMEOUT_MS,
    "foreign_keys": 1,
    "synchronous": "normal",
}
POOL_WAIT_SECONDS = 30  # a thread waiting for a free pooled connection gives up after this
POOL_STALE_SECONDS = 300  # pooled connections older than this are closed when given back

SUPPORTED = ("sqlite", "postgres")  # prefixes of playhouse.db_url's schemes
EXAMPLES = "sqlite:///path/to/file.db or postgresql://user@host:5432/dbname"


class DatabaseUnavailable(Exception):
    """The database could not be reached; requests answer 503."""


class DatabaseConfigError(ValueError):
    """DATABASE_URL names a database this server cannot use; found before anything connects."""


class NoDatabaseBound(AttributeError):
    """A query ran where no database is bound: a wiring bug (an AttributeError, as Peewee's)."""


class ContextDatabase(peewee.DatabaseProxy):
    """A `DatabaseProxy` whose target is the database bound in the current context."""

    __slots__ = ()

    @property  # type: ignore[override]
    def obj(self) -> peewee.Database | None:
        return _current.get()

    @obj.setter
    def obj(self, value: Any) -> None:
        # DatabaseProxy.__init__ sets None; anything else would be the process-global binding
        # this class exists to avoid.
        if value is not None:
            raise TypeError("bind(db) a database to a context instead of initialize(db)")

    def __setattr__(self, attr: str, value: Any) -> None:
        object.__setattr__(self, attr, value)

    def __getattr__(self, attr: str) -> Any:
        target = _current.get()
        if target is None:
            raise NoDatabaseBound(
                f"no database is bound here (wanted .{attr}): serve through create_app(), "
                "or bind(database_for(url)) in a CLI command or test"
            )
        return getattr(target, attr)


database = ContextDatabase()


def database_for(
    url: str,
    *,
    pool_size: int | None = None,
    wait_for_locks: bool = True,
    timeout: float | None = None,
    create: bool = True,
) -> peewee.Database:
    """Build the database for `url`; nothing connects yet and nothing is bound.

    With `pool_size`, a pooled database keeping up to that many connections. Without
    `wait_for_locks`, SQLite statements fail at once on another connection's lock (busy
    timeout 0) instead of waiting: for work on an event loop, which retries them where waiting
    is harmless (`waiting_for_locks`). Making a connection may still wait (its PRAGMAs need
    the file), so that is done off the loop (`has_idle_connection`).

    `timeout` bounds every wait on the database (db/deadline.py: connect and statement
    timeouts, a watchdog for a frozen server, SQLite's lock wait); `create=False` never
    creates a missing SQLite file.

    Unsupported schemes and missing drivers are refused here, at start-up, with a message that
    names the fix; the URL itself is never repeated, since it may hold a password.
    """
    scheme = urlsplit(url).scheme
    if scheme not in db_url.schemes or not scheme.startswith(SUPPORTED):
        raise DatabaseConfigError(
            f"DATABASE_URL: unsupported scheme {scheme or '(none)'!r}; use {EXAMPLES}"
        )
    options: dict[str, object] = {}
    if scheme.startswith("sqlite"):
        pragmas = list(SQLITE_PRAGMAS.items())
        if not wait_for_locks:  # connecting may still wait (journal_mode); statements after not
            pragmas.append(("busy_timeout", 0))
        options["pragmas"] = pragmas
    if pool_size is not None:
        pooled = scheme.split("+")[0] + "+pool"  # playhouse.db_url's pooled twin
        url = pooled + url[len(scheme) :]
        options |= {"max_connections": pool_size, "timeout": POOL_WAIT_SECONDS}
        if scheme.startswith("sqlite"):
            options["check_same_thread"] = False  # a request's connection may change threads
        else:
            options["stale_timeout"] = POOL_STALE_SECONDS  # servers drop idle connections
    db = deadline.connect(url, timeout, create=create, **options)
    db._state = RequestScopedState(db)
    # Peewee's lock serialises connect and close on one database across threads: with the
    # state per request (or per thread) there is nothing to share, and the event loop giving
    # a request's connection back waited there for threads connecting to a hung server.
    db._lock = peewee._NoopLock()
    adapter = getattr(db, "_adapter", None)  # peewee 4: knows which driver the URL needs
    if adapter is not None and hasattr(adapter, "check_driver"):
        try:
            adapter.check_driver()
        except peewee.ImproperlyConfigured as exc:
            raise DatabaseConfigError(
                f"DATABASE_URL: {exc} Install it with: pip install -e '.[postgres]'"
            ) from exc
    return db


# --- one connection per request --------------------------------------------------------------

_request_states: contextvars.ContextVar[dict[int, Any] | None] = contextvars.ContextVar(
    "craftkit_request_connection", default=None
)


class RequestScopedState:
    """Peewee's connection state for one database: per request inside `request_connection`,
    per thread (as Peewee keeps it) everywhere else."""

    __slots__ = ("_key", "_thread")

    def __init__(self, db: peewee.Database) -> None:
        object.__setattr__(self, "_key", id(db))
        object.__setattr__(self, "_thread", peewee._ConnectionLocal())

    def _target(self) -> Any:
        states = _request_states.get()
        if states is not None:
            state = states.get(self._key)
            if state is not None:
                return state
        return self._thread

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)


@contextmanager
def request_connection(db: peewee.Database) -> Iterator[None]:
    """Inside this block, `db` has one connection, opened at first use, closed (given back to
    its pool) at the end; contextvars carry it into the thread pool with the request."""
    states = dict(_request_states.get() or {})
    states[id(db)] = peewee._ConnectionState()
    token = _request_states.set(states)
    try:
        yield
    finally:
        try:
            if not db.is_closed():
                db.close()
        finally:
            _request_states.reset(token)


def has_idle_connection(db: peewee.Database) -> bool:
    """Whether `db`'s pool can hand out a connection it has already made (no file to open, no
    PRAGMA to run). Reads playhouse's pool list (`PooledDatabase._connections`, 4.x)."""
    return bool(getattr(db, "_connections", None))


def in_request(db: peewee.Database | None) -> bool:
    states = _request_states.get()
    return db is not None and states is not None and id(db) in states


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is SQLite refusing: another connection holds a lock
    (`database is locked`, `database table is locked`, `locking protocol`)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.OperationalError | peewee.OperationalError):
            text = str(seen)
            # "locking protocol": SQLITE_PROTOCOL, a WAL index another process holds locked.
            if "is locked" in text or "locking protocol" in text:
                return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def waiting_for_locks(db: peewee.Database) -> Iterator[None]:
    """SQLite waits up to BUSY_TIMEOUT_MS for locks in this block (its connection does not
    outside it, see `database_for(wait_for_locks=False)`); other databases are left alone."""
    if not isinstance(db, peewee.SqliteDatabase):
        yield
        return
    db.connect(reuse_if_open=True)  # a new connection waits for locks while it is made
    db.execute_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        yield
    finally:
        db.execute_sql("PRAGMA busy_timeout = 0")


def bind(db: peewee.Database | None) -> contextvars.Token[peewee.Database | None]:
    """Make `db` the models' database in this context (a CLI command, a test) until rebound."""
    return _current.set(db)


@contextmanager
def bound(db: peewee.Database) -> Iterator[peewee.Database]:
    """`db` as the models' database for one unit of work (a request), then the previous one."""
    token = _current.set(db)
    try:
        yield db
    finally:
        _current.reset(token)


def current() -> peewee.Database | None:
    """The database bound in this context, if any."""
    return _current.get()


# (words in the driver's message, lower-cased; why, in words safe to show anyone)
UNAVAILABLE_REASONS = (
    (("connection refused",), "it refuses connections (is it running?)"),
    (("could not translate host name", "name or service not known"), "its host name is unknown"),
    (("authentication failed", "no pg_hba.conf entry"), "it refused the credentials"),
    # PostgreSQL says `role "x" does not exist` of an unknown user: not the database.
    (('role "',), "the user named in DATABASE_URL does not exist"),
    (("does not exist",), "the database named in DATABASE_URL does not exist"),
    (("too many clients", "remaining connection slots"), "it has no free connection slots"),
    (("unable to open database file",), "the SQLite file cannot be opened"),
    (("database is locked",), "another writer holds the SQLite file's lock"),
    (
        ("timeout", "timed out", "interrupted", "closed the connection", "terminating"),
        "it did not answer in time (CRAFTKIT_DB_TIMEOUT)",
    ),
)


def unavailable_reason(exc: BaseException) -> str:
    """Why the database is unavailable, in words safe to show anyone (a /readyz answer).

    Never the driver's text itself: it names hosts, users and databases, and a URL may hold
    a password. Unrecognised causes are named by their class only.
    """
    seen: BaseException | None = exc
    causes: list[BaseException] = []
    while seen is not None and len(causes) < 10:
        causes.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " | ".join(str(cause).lower() for cause in causes)
    for words, reason in UNAVAILABLE_REASONS:
        if any(word in text for word in words):
            return reason
    return f"{type(causes[-1]).__name__} from the driver"


def redact(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for other databases and for :memory:)."""
    if not urlsplit(url).scheme.startswith("sqlite"):
        return None
    path = db_url.parse(url)["database"]
    return None if path == ":memory:" else str(path)


def is_sqlite() -> bool:
    return isinstance(_current.get(), peewee.SqliteDatabase)


@contextmanager
def connection() -> Iterator[peewee.Database]:
    """A connection for one unit of work, closed afterwards; unreachable → DatabaseUnavailable.

    Inside `request_connection` the request's connection is used and left open for the rest
    of the request; elsewhere Peewee keeps connections per thread, so this opens and closes in
    the thread that queries (the CLI's, a test's).
    """
    keep_open = in_request(current())
    try:
        opened = database.connect(reuse_if_open=True) and not keep_open
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield database.obj
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    finally:
        if opened and not database.is_closed():
            database.close()


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that will write: on SQLite it takes the write lock at BEGIN.

    SQLite's default (deferred) transaction upgrades its lock at the first write, and two
    writers that both read first make one fail at once with "database is locked" instead of
    waiting out the busy timeout; BEGIN IMMEDIATE makes concurrent writers queue instead.
    """
    if isinstance(database.obj, peewee.SqliteDatabase):
        with database.obj.atomic(lock_type="IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield
