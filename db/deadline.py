"""Bounds on every database call, so that a sick database costs a caller seconds, not forever.

- PostgreSQL: `connect_timeout` bounds a connect and `statement_timeout` a slow statement. A
  frozen server (SIGSTOP, a dead network path) answers neither: the kernel still acknowledges
  the bytes, so libpq waits on its socket forever and TCP keepalives never fire.
- So every statement also arms a deadline on one watchdog thread: past it the watchdog shuts
  the connection's socket down (PostgreSQL) or interrupts it (SQLite, `sqlite3.interrupt`).
  The blocked call fails at once with OperationalError, which callers turn into a 503 or a
  message; the connection is dropped, never reused.
- SQLite waits at most the same bound for another writer's lock (`timeout`, its busy
  handler), and write transactions start as writes (`BEGIN IMMEDIATE`) so a waiting writer
  really waits instead of failing at its first write (a deferred transaction cannot).

Peewee has no per-statement deadline and psycopg2's own cancel needs a live server; this is
the smallest piece that bounds both drivers the same way.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import peewee
from playhouse import db_url


class Watchdog:
    """Calls `interrupt` for each armed deadline that passes before it is disarmed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._armed: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, interrupt: Callable[[], None]) -> int:
        token = next(self._ids)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            first = not self._heap or time.monotonic() + seconds < self._heap[0][0]
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, interrupt))
            self._armed.add(token)
            if first:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.discard(token)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, token, interrupt = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                due = token in self._armed
                self._armed.discard(token)
            if due:
                # An interrupt that fails leaves the statement to its own bounds.
                with contextlib.suppress(Exception):
                    interrupt()


WATCHDOG = Watchdog()


def interrupt(conn: Any) -> None:
    """Make a blocked call on `conn` fail now: SQLite's interrupt, else shut its socket down."""
    if isinstance(conn, sqlite3.Connection):
        conn.interrupt()
        return
    fd = conn.fileno()  # psycopg2 and psycopg 3 both expose the libpq socket
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()


class Deadlines:
    """Mixed into a Peewee database class: each statement is bounded by `statement_seconds`."""

    statement_seconds: float | None = None

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        seconds = self.statement_seconds
        if not seconds:
            return super().execute_sql(sql, params)  # type: ignore[misc]
        conn = self.connection()  # type: ignore[attr-defined]  # connect_timeout bounds this
        token = WATCHDOG.arm(seconds, lambda: interrupt(conn))
        try:
            return super().execute_sql(sql, params)  # type: ignore[misc]
        finally:
            WATCHDOG.disarm(token)


def _pairs(pragmas: Any) -> list[tuple[str, Any]]:
    if pragmas is None:
        return []
    return list(pragmas.items()) if isinstance(pragmas, dict) else list(pragmas)


@cache
def _bounded(base: type[peewee.Database]) -> type[peewee.Database]:
    return type(f"Bounded{base.__name__}", (Deadlines, base), {})


def sqlite_file(db: Any) -> str | None:
    """The file behind a SQLite database (also when opened as a `file:…?mode=rw` URI)."""
    if not isinstance(db, peewee.SqliteDatabase) or db.database == ":memory:":
        return None
    name = str(db.database)
    if name.startswith("file:"):
        return unquote(name.removeprefix("file:").split("?", 1)[0])
    return name


def connect(url: str, seconds: float | None, *, create: bool = True, **options: Any) -> Any:
    """A Peewee database for `url` whose every wait is bounded by `seconds` (None: unbounded).

    With `create=False` a missing SQLite file is an error at connect time instead of a new,
    empty database.
    """
    parsed = urlsplit(url)
    kwargs = db_url.parseresult_to_dict(parsed)  # type: ignore[arg-type]
    base = db_url.schemes[parsed.scheme]
    kwargs.update(options)
    if issubclass(base, peewee.SqliteDatabase):
        if seconds:  # the wait for another writer's lock, where waiting is wanted at all
            kwargs["pragmas"] = [
                (name, int(seconds * 1000) if name == "busy_timeout" and value else value)
                for name, value in _pairs(kwargs.get("pragmas"))
            ]
        kwargs["lock_type"] = "IMMEDIATE"
        path = kwargs["database"]
        if not create and path != ":memory:":
            kwargs["database"] = f"file:{quote(os.path.abspath(path))}?mode=rw"
            kwargs["uri"] = True
    elif issubclass(base, peewee.PostgresqlDatabase) and seconds:
        # libpq's connect_timeout counts whole seconds and treats values under 2 as 2.
        kwargs.setdefault("connect_timeout", max(2, math.ceil(seconds)))
        statement = f"-c statement_timeout={int(seconds * 1000)}"
        kwargs["options"] = f"{kwargs['options']} {statement}" if "options" in kwargs else statement
        kwargs.setdefault("keepalives", 1)
        kwargs.setdefault("keepalives_idle", 10)
    db = _bounded(base)(**kwargs)
    db.statement_seconds = seconds
    return db
