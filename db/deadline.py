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
- A pool (`BoundedPool`) does no network work under its lock, and its liveness check on an
  idle connection (PostgreSQL: `SELECT 1`) is under the same deadline. playhouse ran that
  check, and made new connections, holding the pool's lock with no deadline: against a frozen
  server one thread held the lock until the thaw, and the event loop, giving a request's
  connection back, waited for it (issue 16: /livez took 15 s, SIGTERM 27 s).
- That `SELECT 1` was a round trip on every checkout, a third of a request's statements
  (issue 22). A PostgreSQL connection that is idle with nothing from the server in its
  socket is handed out without it: a server that ends a session (restart, termination, idle
  timeout) sends an error and closes the socket, which makes it readable, and only then is
  the round trip made. A path that died silently fails the request's first statement at its
  deadline, as the check did at its own.

Peewee has no per-statement deadline and psycopg2's own cancel needs a live server; this is
the smallest piece that bounds both drivers the same way.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import peewee
from playhouse import db_url
from playhouse.pool import MaxConnectionsExceeded, PoolConnection, PooledDatabase


class Watchdog:
    """Calls `interrupt` for each armed deadline that passes before it is disarmed.

    Arming and disarming are a dict write each, with no lock and no wake-up: they happen on
    every statement of every request. The watchdog thread looks at what is armed every
    `tick` seconds, so a deadline fires up to a tick late. It used to keep a heap of
    deadlines under a condition and woke for each one, disarmed or not: thousands of wake-ups
    a second under load, each taking the GIL from the event loop.
    """

    def __init__(self, tick: float = 0.05) -> None:
        self.tick = tick
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}
        self._ids = itertools.count()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forget_thread)  # threads do not survive fork

    def arm(self, seconds: float, interrupt: Callable[[], None]) -> int:
        if self._thread is None:
            self._start()
        token = next(self._ids)  # itertools.count is atomic under the GIL
        self._armed[token] = (time.monotonic() + seconds, interrupt)
        return token

    def disarm(self, token: int) -> bool:
        """Take the deadline back; False if it had passed (its interrupt was called)."""
        return self._armed.pop(token, None) is not None

    def _start(self) -> None:
        with self._started:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                thread.start()
                self._thread = thread

    def _forget_thread(self) -> None:
        """In a forked child: no thread yet, and none of the parent's deadlines (interrupting
        them would shut down sockets the parent still uses)."""
        self._thread = None
        self._started = threading.Lock()
        self._armed = {}

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            # dict.copy() runs no Python code, so no other thread can change the dict while it
            # is read (iterating it could raise if a finalizer let one run); and nothing may
            # end this thread: arm() starts one only once.
            with contextlib.suppress(Exception):
                self._fire(time.monotonic())

    def _fire(self, now: float) -> None:
        for token, (deadline, interrupt) in self._armed.copy().items():
            # pop: whichever of disarm() and this comes first owns the token.
            if deadline <= now and self._armed.pop(token, None) is not None:
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

    def execute_sql(self, sql: str, params: Any = None, **options: Any) -> Any:
        # `options`: what a database class adds (postgresext's `named_cursor`), passed on.
        seconds = self.statement_seconds
        if not seconds:
            return super().execute_sql(sql, params, **options)  # type: ignore[misc]
        conn = self.connection()  # type: ignore[attr-defined]  # connect_timeout bounds this
        token = WATCHDOG.arm(seconds, lambda: interrupt(conn))
        try:
            return super().execute_sql(sql, params, **options)  # type: ignore[misc]
        finally:
            WATCHDOG.disarm(token)

    def fetch_all(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        """`execute_sql(sql, params).fetchall()` in one call, for the request path's prepared
        statements (db/prepared.py): the same connection, deadline, error classes and SQL
        log, minus Peewee's layers around the cursor (a sixth of a short statement's time).
        With Peewee query hooks installed it takes Peewee's path, which calls them."""
        if getattr(self, "query_hooks", None):  # Peewee 4's; Peewee 3 has none
            return list(self.execute_sql(sql, params).fetchall())
        conn = self.connection()  # type: ignore[attr-defined]  # connects if closed
        with EXCEPTION_WRAPPER:  # the driver's errors as Peewee's (OperationalError, …)
            (rows,) = fetch_bounded(conn, ((sql, params),), self.statement_seconds)
        return rows


def fetch_bounded(
    conn: Any, statements: Sequence[tuple[str, Any]], seconds: float | None
) -> list[list[tuple[Any, ...]]]:
    """Every statement's rows on `conn` (a driver's connection), one after the other under one
    deadline (the watchdog's), each logged as Peewee logs it; the driver's errors as raised."""
    if _SQL_LOG.isEnabledFor(logging.DEBUG):
        for statement in statements:
            _SQL_LOG.debug(statement)
    token = WATCHDOG.arm(seconds, lambda: interrupt(conn)) if seconds else None
    try:
        found = []
        for sql, params in statements:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            found.append(cursor.fetchall())
        return found
    finally:
        if token is not None:
            WATCHDOG.disarm(token)


class BoundedPool:
    """Mixed into playhouse's pooled databases before them: the pool's lock is held for its
    bookkeeping only. Checking an idle connection, making a new one and giving one back
    (which may roll back) happen outside it, each bounded (`statement_seconds`, or the
    driver's connect timeout); a liveness check that outlives its deadline fails the checkout
    at once, since the next idle connection is as likely to hang. Overrides playhouse's
    `_connect` and `_close` (4.x), reading its pool state; tests/test_db_connection.py checks
    that state is still there."""

    statement_seconds: float | None = None
    retired_before = 0.0  # connections made before this (time.time()) are closed, not reused
    _pool_lock: Any
    _pool_available: Any
    _connections: list[Any]
    _in_use: dict[int, Any]
    _heap_counter: int
    _max_connections: int | None
    _stale_timeout: int | None

    def _connect(self) -> Any:
        pool: Any = self
        while True:
            with self._pool_lock:
                if not self._connections:
                    break
                stamp, _, conn = heapq.heappop(self._connections)
                key = pool.conn_key(conn)
                self._in_use[key] = PoolConnection(stamp, conn, time.time())  # held while checked
            if (self._stale_timeout and pool._is_stale(stamp)) or stamp < self.retired_before:
                self._forget(key)
                pool._close_raw(conn)
                continue
            if not _quiet(pool, conn) and self._bounded(pool._is_closed, conn):  # dropped
                self._forget(key)
                pool._close_raw(conn)
                continue
            return conn
        placeholder = object()  # holds a place while the new connection is made
        with self._pool_lock:
            if self._max_connections and len(self._in_use) >= self._max_connections:
                raise MaxConnectionsExceeded("Exceeded maximum connections.")
            self._in_use[id(placeholder)] = PoolConnection(time.time(), placeholder, time.time())
        try:
            conn = super(PooledDatabase, self)._connect()  # type: ignore[misc]  # the driver's connect
        finally:
            self._forget(id(placeholder))
        with self._pool_lock:
            self._in_use[pool.conn_key(conn)] = PoolConnection(time.time(), conn, time.time())
        return conn

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        pool: Any = self
        key = pool.conn_key(conn)
        with self._pool_lock:
            checked_out = self._in_use.pop(key, None)
        if close_conn:
            pool._close_raw(conn)
        elif checked_out is not None:
            if (
                (self._stale_timeout and pool._is_stale(checked_out.timestamp))
                or checked_out.timestamp < self.retired_before
                or not self._bounded(pool._can_reuse, conn)
            ):
                pool._close_raw(conn)
            else:
                with self._pool_lock:
                    self._heap_counter += 1
                    heapq.heappush(
                        self._connections, (checked_out.timestamp, self._heap_counter, conn)
                    )
        with self._pool_lock:
            self._pool_available.notify()

    def retire(self) -> None:
        """Close every connection made so far, idle ones now, those in use when given back:
        the database they were opened on is not the one to serve any more."""
        pool: Any = self
        with self._pool_lock:
            self.retired_before = time.time()
            idle, self._connections = self._connections, []
        for _, _, conn in idle:
            pool._close_raw(conn)

    def _forget(self, key: int) -> None:
        with self._pool_lock:
            self._in_use.pop(key, None)
            self._pool_available.notify()

    def _bounded(self, check: Callable[[Any], bool], conn: Any) -> bool:
        """`check(conn)` under the statement deadline; past it the database is unavailable."""
        seconds = self.statement_seconds
        if not seconds:
            return check(conn)
        token = WATCHDOG.arm(seconds, lambda: interrupt(conn))
        try:
            result = check(conn)
        finally:
            in_time = WATCHDOG.disarm(token)
        if not in_time:
            cast_pool: Any = self
            cast_pool._close_raw(conn)
            raise peewee.OperationalError(
                f"the database did not answer the pool's check within {seconds:g} s"
            )
        return result


def _quiet(pool: Any, conn: Any) -> bool:
    """Whether a pooled PostgreSQL connection is idle and the server has sent nothing since:
    usable without the `SELECT 1` round trip (module docstring). Reads Peewee's driver adapter
    (`Database._adapter`, 4.x); False, so the full check runs, for anything else."""
    adapter = getattr(pool, "_adapter", None)
    if not isinstance(pool, peewee.PostgresqlDatabase) or adapter is None or conn.closed:
        return False
    try:
        if adapter.txn_status(conn) != adapter.txn_idle:
            return False
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        return not poller.poll(0)  # readable: an error, a notice or the end of the stream
    except Exception:
        return False


_SQL_LOG = logging.getLogger("peewee")  # where Peewee logs each statement, at DEBUG
EXCEPTION_WRAPPER = peewee.__exception_wrapper__  # Peewee's own driver-to-Peewee error mapping


def _pairs(pragmas: Any) -> list[tuple[str, Any]]:
    if pragmas is None:
        return []
    return list(pragmas.items()) if isinstance(pragmas, dict) else list(pragmas)


@cache
def _bounded(base: type[peewee.Database]) -> type[peewee.Database]:
    pool = (BoundedPool,) if issubclass(base, PooledDatabase) else ()
    return type(f"Bounded{base.__name__}", (Deadlines, *pool, base), {})


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
