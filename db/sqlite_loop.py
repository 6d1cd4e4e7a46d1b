"""SQLite's reads on the event loop through one plain sqlite3 connection per loop.

The request path's SQLite reads ran on the event loop already (api/server/dbwork.py), but
through Peewee's pooled database: a checkout and a return per request, Peewee's per-request
connection state, its liveness and staleness checks. Measured in-process on the demo render
that cost 43 µs of a 235 µs request, more than the two statements themselves (issue 22).
SQLite needs none of it on the loop: statements there run one at a time, so the loop keeps
one connection, and a request's statements run on it directly. What the pooled path
guarantees still holds:

- the connection is Peewee's own SQLite connection (`new_connection`: the same file, the
  same PRAGMAs, WAL and busy timeout 0), made in a thread, since opening the file and its
  PRAGMAs may wait for a lock;
- a statement that meets another connection's lock fails at once, and the read runs again
  through Peewee in the thread pool, where it may wait (`FallBack(waiting=True)`);
- the watchdog bounds each batch (db/deadline.py `fetch_bounded`): past CRAFTKIT_DB_TIMEOUT
  it interrupts the statement, the request answers 503 and the connection is dropped;
- any other error drops the connection and runs the read through Peewee's pooled path,
  whose answer (a 503 saying why, the error envelope) is the one it always gave;
- the connection is closed when the file at the path is replaced (api/server/dbwork.py
  asks at each request) and at the app's shutdown.

Writes, the CLI, migrations, /readyz and the FlaskApp keep Peewee; CRAFTKIT_DB_ON_LOOP=0 keeps
the reads on Peewee's pool too.
"""

from __future__ import annotations

import asyncio
import sqlite3

import peewee

from db.connection import DatabaseUnavailable, is_busy
from db.deadline import fetch_bounded
from db.loop_reads import Rows, Statement


class FallBack(Exception):
    """The read cannot run here: run it through Peewee in a thread (`waiting`: where it may
    wait for another connection's lock)."""

    def __init__(self, waiting: bool) -> None:
        super().__init__("run through Peewee")
        self.waiting = waiting


def new_connection(db: peewee.SqliteDatabase) -> sqlite3.Connection:
    """A connection as `db` makes them: Peewee's SQLite connect (its `_connect`, under the
    pool's), with the database's PRAGMAs, functions and connect parameters (`check_same_thread`
    off: it is made in a thread and used on the loop). tests/test_sqlite_loop.py checks them."""
    conn: sqlite3.Connection = peewee.SqliteDatabase._connect(db)
    return conn


class SqliteOnLoop:
    """The request path's SQLite reads for one app, on whichever loop serves them; bound as
    every request's loop connection (db/loop_reads.py)."""

    def __init__(self, db: peewee.SqliteDatabase, statement_seconds: float | None) -> None:
        self.db = db
        self.dialect: peewee.Database = db
        self.database = self
        self.one_round_trip = False  # statements run in-process, one after the other
        self.statement_seconds = statement_seconds
        self._connections: dict[asyncio.AbstractEventLoop, sqlite3.Connection] = {}
        # Counts `retire` calls: a connection made across one (in a thread) opened the file
        # that was at the path before, and is not kept.
        self.generation = 0

    def connection(self) -> sqlite3.Connection | None:
        """The running loop's connection, if it has one (else `keep` one made in a thread)."""
        return self._connections.get(asyncio.get_running_loop())

    def keep(self, conn: sqlite3.Connection, generation: int) -> None:
        """Make `conn` (from `new_connection`, begun at `generation`) the running loop's
        connection, unless another request made one meanwhile or the file was replaced since.
        Several loops (in their threads) may share this object: the dict is only ever read
        through copies, and entries are popped with a default."""
        loop = asyncio.get_running_loop()
        for old in [known for known in list(self._connections) if known.is_closed()]:
            ended = self._connections.pop(old, None)  # a loop that ended without a shutdown
            if ended is not None:
                ended.close()
        if generation != self.generation or loop in self._connections:
            conn.close()
        else:
            self._connections[loop] = conn

    async def fetch(self, *statements: Statement) -> list[Rows]:
        """Every statement's rows, on the loop's connection; FallBack where Peewee must run
        the read, DatabaseUnavailable past the statement bound."""
        if getattr(self.db, "query_hooks", None):  # Peewee 4's hooks see every statement
            raise FallBack(waiting=False)
        loop = asyncio.get_running_loop()
        conn = self._connections.get(loop)
        if conn is None:  # dropped since the request began
            raise FallBack(waiting=False)
        try:
            return fetch_bounded(conn, statements, self.statement_seconds)
        except sqlite3.Error as exc:
            if is_busy(exc):
                raise FallBack(waiting=True) from exc
            self._drop(loop, conn)
            if str(exc) == "interrupted":  # the watchdog, past CRAFTKIT_DB_TIMEOUT
                raise DatabaseUnavailable(str(exc)) from exc
            raise FallBack(waiting=False) from exc

    def retire(self) -> None:
        """Close every loop's connection: the file at the path is another one now. Each is
        closed on its own loop, which may be running a statement on it in another thread."""
        running = asyncio.get_running_loop()
        self.generation += 1
        connections, self._connections = self._connections, {}
        for loop, conn in connections.items():
            try:
                if loop is running or loop.is_closed():
                    raise RuntimeError("close it here")
                loop.call_soon_threadsafe(conn.close)
            except RuntimeError:  # this loop, or one that has ended (or just did)
                conn.close()

    def close(self) -> None:
        """Close the running loop's connection (the app's shutdown)."""
        conn = self._connections.pop(asyncio.get_running_loop(), None)
        if conn is not None:
            conn.close()

    def _drop(self, loop: asyncio.AbstractEventLoop, conn: sqlite3.Connection) -> None:
        if self._connections.get(loop) is conn:
            self._connections.pop(loop, None)
        conn.close()
