"""What every command shares: settings, opening the database, and failing in one line."""

from __future__ import annotations

import functools
import os
import pathlib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click
import peewee

from api.config import Settings, check
from db import migrations, queries
from db.connection import (
    DatabaseConfigError,
    DatabaseUnavailable,
    bind,
    database_for,
    sqlite_path,
)
from db.errors import NotFound
from db.migrations import SchemaVersionMismatch

MODE = click.Choice(["test", "live"])


class Context:
    """Settings for every command; the database is opened only by commands that use it."""

    def __init__(self, database_url: str | None = None) -> None:
        overrides = {"database_url": database_url} if database_url else {}
        try:
            self.settings = Settings.from_env(None, **overrides)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc

    def use_database_url(self, database_url: str) -> None:
        """`--database-url` given after the command: it wins over the one before it."""
        self.settings = replace(self.settings, database_url=database_url)

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
            database = database_for(
                self.settings.database_url,
                timeout=self.settings.write_timeout,  # every wait (db/deadline.py)
                create=create,
            )
        except DatabaseConfigError as exc:
            fail(str(exc))
        path = sqlite_path(self.settings.database_url)
        if path is not None and not create and not os.path.exists(path):
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


def setting_rule(name: str) -> Any:
    """A flag's callback applying the rule of the setting `name` (api/config.py), so a flag
    and its environment variable refuse the same values."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        problem = None if value is None else check(name, value)
        if problem is not None:
            raise click.BadParameter(problem)
        return value

    return callback


F = TypeVar("F", bound=Callable[..., Any])


def listen_options(command: F) -> F:
    """--host and --port, for every command that serves (serve, mock, proxy): one wording,
    and the port refused as CRAFTKIT_PORT is, not handed to uvicorn to fail on."""
    command = click.option(
        "--port",
        type=int,
        callback=setting_rule("port"),
        help="Port, 1-65535 (default: $CRAFTKIT_PORT or 8080).",
    )(command)
    return click.option("--host", help="Address to bind (default: $CRAFTKIT_HOST or 127.0.0.1).")(
        command
    )


def unwritable(path: pathlib.Path) -> str | None:
    """Why `path` cannot take a report, after making its folder and the file (empty if new),
    or None. Asked before a long run whose report goes there, so a bad path is a usage error
    at the start, not a traceback at the end that loses the run's record."""
    return write_report(path, None)


def write_report(path: pathlib.Path, text: str | None) -> str | None:
    """Write `text` to `path` (None: only make sure the file exists), making its folder; why
    it could not, in one line, or None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if text is None else "w", encoding="utf-8") as file:
            if text is not None:
                file.write(text)
    except FileExistsError as exc:  # a file where a folder should be
        return f"cannot write {path}: {exc.filename} is a file, not a folder"
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None


def fail(message: str) -> None:
    raise click.ClickException(message)


def database_message(exc: BaseException, timeout: float, database_url: str | None = None) -> str:
    """One line for a database failure, naming its real cause.

    The cause may sit under another error: after SQLite gives up a write on a full disk it
    rolls the transaction back itself, and Peewee's own rollback then fails with "cannot
    rollback - no transaction is active", which said nothing about the disk.
    """
    causes: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(causes) < 10:
        causes.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    text = " | ".join(causes)
    if "disk is full" in text or "no space left" in text:
        return "database error: the disk is full (no space left for the database); nothing written"
    if "database is locked" in text or "database is busy" in text:
        return (
            f"database error: another writer held the database lock for {timeout:g} s; "
            "nothing was written; run it again (CRAFTKIT_WRITE_TIMEOUT sets the wait)"
        )
    if "interrupted" in text or "statement timeout" in text:
        return f"database error: no answer within {timeout:g} s (CRAFTKIT_WRITE_TIMEOUT)"
    path = sqlite_path(database_url) if database_url else None
    if "unable to open database file" in text and path is not None:
        return sqlite_open_message(path)
    said = one_line(str(exc))
    if re.search(r'database ".*" does not exist', text):  # PostgreSQL: the database itself
        return f"database error: {said} (create it first, e.g. with createdb)"
    if "no such table" in text or "does not exist" in text:
        return f"database error: {said} (was `craftkit db init` run?)"
    if "is the server running" in text:  # libpq already asks
        return f"database error: {said}"
    return f"database error: {said} (is the database running?)"


def one_line(text: str) -> str:
    """A driver's message on one line: libpq puts its hint on a tab-indented line of its own."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    joined = ""
    for line in lines:
        if joined:
            joined += " " if joined[-1] in ".?!:;" else ". "
        joined += line
    return joined


def sqlite_open_message(path: str) -> str:
    """Why SQLite could not open `path` ("unable to open database file" says none of it)."""
    where = os.path.abspath(path)
    folder = os.path.dirname(where)
    if not os.path.isdir(folder):
        return (
            f"database error: cannot open the SQLite file {where}: its folder {folder} does not "
            "exist (create the folder, or point DATABASE_URL or --database-url elsewhere)"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"database error: cannot open the SQLite file {where}: cannot write in {folder}"
    return f"database error: cannot open the SQLite file {where}"


def database_errors(func: Any) -> Any:
    """Report a database failure as one readable line naming its cause, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SchemaVersionMismatch as exc:
            fail(f"database error: {exc}")
        except (DatabaseUnavailable, peewee.OperationalError, peewee.ProgrammingError) as exc:
            context = click.get_current_context().find_object(Context)
            if context is None:
                fail(database_message(exc, 0))
            else:
                settings = context.settings
                fail(database_message(exc, settings.write_timeout, settings.database_url))

    return wrapper


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def project(name: str) -> Any:
    """The project called `name`, or a one-line failure naming it."""
    try:
        return queries.get_project(name)
    except NotFound as exc:
        fail(str(exc))
