"""The database behind every model, chosen by URL at start-up.

Models bind to a `DatabaseProxy`; `open_database(url)` initialises it, so SQLite → PostgreSQL is
a URL change (playhouse.db_url). Connections are opened per request and closed after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


class DatabaseUnavailable(Exception):
    """The database could not be reached (or is not initialised); requests answer 503."""


def open_database(url: str) -> peewee.Database:
    """Build the database for `url` and bind every model to it; nothing connects yet."""
    options: dict[str, object] = {}
    if url.startswith("sqlite"):
        options["pragmas"] = SQLITE_PRAGMAS
    db = connect(url, **options)
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextmanager
def connection() -> Iterator[peewee.Database]:
    """A connection for one unit of work, closed afterwards; unreachable → DatabaseUnavailable."""
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
