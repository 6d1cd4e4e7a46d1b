"""What every command shares: settings, opening the database, and failing in one line."""

from __future__ import annotations

import functools
import os
from typing import Any

import click
import peewee

from api.config import Settings
from db import migrations, queries
from db.connection import (
    DatabaseConfigError,
    DatabaseUnavailable,
    bind,
    database_for,
)
from db.errors import NotFound
from db.migrations import SchemaVersionMismatch

MODE = click.Choice(["test", "live"])


class Context:
    """Settings for every command; the database is opened only by commands that use it."""

    def __init__(self, database_url: str | None) -> None:
        overrides = {"database_url": database_url} if database_url else {}
        try:
            self.settings = Settings.from_env(None, **overrides)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc

    def open(self, *, create: bool = False, check_schema: bool = True) -> None:
        """Bind the settings' database for the rest of this command.

        A SQLite file that does not exist is created only when `create` is true (`db init`,
        `demo`): any other command would leave an empty file behind and then fail on its
        missing tables, so it says where it looked and what to run instead. Unless told
        otherwise (init, migrate), a database whose schema is not this version's is refused
        here, saying what to run; an unreachable one is left for the command to report in
        its own words.
        """
        try:
            database = database_for(self.settings.database_url)
        except DatabaseConfigError as exc:
            fail(str(exc))
        if isinstance(database, peewee.SqliteDatabase) and not create:
            path = str(database.database)
            if path != ":memory:" and not path.startswith("file:") and not os.path.exists(path):
                fail(
                    f"no database at {os.path.abspath(path)}: run `craftkit db init` to create "
                    "it (or point DATABASE_URL or --database-url at an existing one)"
                )
        bind(database)
        if not check_schema:
            return
        try:
            migrations.check_schema()
        except SchemaVersionMismatch as exc:
            fail(str(exc))
        except DatabaseUnavailable:
            pass


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str) -> None:
    raise click.ClickException(message)


def database_errors(func: Any) -> Any:
    """Report an unreachable or uninitialised database as one readable line, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SchemaVersionMismatch as exc:
            fail(f"database error: {exc}")
        except (DatabaseUnavailable, peewee.OperationalError, peewee.ProgrammingError) as exc:
            fail(f"database error: {exc} (is it running, and was `craftkit db init` run?)")

    return wrapper


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def project(name: str) -> Any:
    """The project called `name`, or a one-line failure naming it."""
    try:
        return queries.get_project(name)
    except NotFound as exc:
        fail(str(exc))
