"""The database behind every model: built from a URL, bound per context, never process-global.

Models bind to `database`, a Peewee `DatabaseProxy` whose target is looked up in a context
variable rather than stored once for the process. The app sets its own database around each
request (`bound(db)`, in api/middleware.py); the CLI, tests and benchmarks `bind(db)` one
explicitly. Two apps in one process therefore never rebind each other's database, and
contextvars follow a request into the thread pool where handlers and key lookups run.
SQLite → PostgreSQL is a URL change (playhouse.db_url).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse import db_url

_current: contextvars.ContextVar[peewee.Database | None] = contextvars.ContextVar(
    "craftkit_database", default=None
)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
}

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


def database_for(url: str) -> peewee.Database:
    """Build the database for `url`; nothing connects yet and nothing is bound.

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
        options["pragmas"] = SQLITE_PRAGMAS
    db = db_url.connect(url, **options)
    adapter = getattr(db, "_adapter", None)  # peewee 4: knows which driver the URL needs
    if adapter is not None and hasattr(adapter, "check_driver"):
        try:
            adapter.check_driver()
        except peewee.ImproperlyConfigured as exc:
            raise DatabaseConfigError(
                f"DATABASE_URL: {exc} Install it with: pip install -e '.[postgres]'"
            ) from exc
    return db


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


def redact(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def is_sqlite() -> bool:
    return isinstance(_current.get(), peewee.SqliteDatabase)


@contextmanager
def connection() -> Iterator[peewee.Database]:
    """A connection for one unit of work, closed afterwards; unreachable → DatabaseUnavailable.

    Peewee keeps connections per thread, so this opens and closes in the thread that queries:
    the handler's, the key lookup's, the CLI's.
    """
    try:
        opened = database.connect(reuse_if_open=True)
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
