"""The database behind every model, chosen by URL at start-up.

Models bind to a `DatabaseProxy`; `open_database(url)` initialises it, so SQLite → PostgreSQL is
a URL change (playhouse.db_url). Connections are opened per request and closed after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import peewee
from playhouse import db_url

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


SUPPORTED = ("sqlite", "postgres")  # prefixes of playhouse.db_url's schemes
EXAMPLES = "sqlite:///path/to/file.db or postgresql://user@host:5432/dbname"


class DatabaseUnavailable(Exception):
    """The database could not be reached (or is not initialised); requests answer 503."""


class DatabaseConfigError(ValueError):
    """DATABASE_URL names a database this server cannot use; found before anything connects."""


def open_database(url: str) -> peewee.Database:
    """Build the database for `url` and bind every model to it; nothing connects yet.

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
    database.initialize(db)
    return db


def redact(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


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
