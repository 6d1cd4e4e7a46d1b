"""PostgreSQL on the event loop: psycopg 3's async connections, statements pipelined.

The request path's reads on PostgreSQL used to run through psycopg2 in the thread pool: a hop
per request and a network round trip per statement (bench/results.md, issue 22). Here they run
on the event loop through psycopg 3, and a request's statements go out together in one round
trip (libpq's pipeline mode). psycopg prepares a statement on a connection once it has run
five times, so later requests send only its parameters (PgBouncer passes protocol-level
prepared statements in transaction mode from 1.21, with `max_prepared_statements` set, by
default from 1.24; CRAFTKIT_DB_PREPARE=0 turns preparation off for older ones). Everything
else (the CLI, migrations, /readyz, the FlaskApp) keeps Peewee and psycopg2.

The bounds are the thread path's (db/deadline.py), kept on the loop:
- connecting is bounded by libpq's `connect_timeout`, which psycopg's async connect applies;
- each batch of statements arms a loop timer that shuts the connection's socket down past its
  deadline: a frozen server (SIGSTOP, a dead path) never answers, and `statement_timeout`
  alone cannot end the wait. The read then fails at once, the request answers 503 and the
  connection is dropped;
- a request cancelled by its deadline never cancels a batch half-way (psycopg would then
  try a cancel request and wait up to ten more seconds on a frozen server): the batch runs in
  a task of its own, and the request waits for it (api/server/dbwork.py), within its bound.

Connections are kept per event loop (`LoopConnections`), not in psycopg_pool's pool: the app
already bounds how many requests hold one (api/server/dbwork.py's slots), a pool opened on one
loop cannot serve another (tests run several loops over one app), and the checks wanted at
checkout and return are this module's (an idle connection the server has written to is
dropped without a `SELECT 1`, as in db/deadline.py). A worker holds at most
CRAFTKIT_DB_POOL_SIZE of these per loop, beside Peewee's pool, which /readyz uses. psycopg 3
is imported only when this path is used: the `postgres` extra installs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from db.connection import DatabaseUnavailable
from db.deadline import interrupt
from db.loop_reads import Rows, Statement

if TYPE_CHECKING:
    import psycopg


IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: nothing pending, not in a transaction
APPLICATION_NAME = "craftkit"  # how pg_stat_activity names these connections


class LoopConnections:
    """One event loop's idle connections to one database, newest first out."""

    def __init__(self, params: dict[str, Any], stale_seconds: float) -> None:
        self.params = params
        self.stale_seconds = stale_seconds
        self.closed = False  # the app shut down: connections given back now are closed
        self._idle: list[tuple[float, psycopg.AsyncConnection[Any]]] = []  # (made at, conn)

    def __len__(self) -> int:
        """How many idle connections are kept."""
        return len(self._idle)

    async def take(self) -> tuple[float, psycopg.AsyncConnection[Any]]:
        while self._idle:
            made, conn = self._idle.pop()
            if self._usable(made, conn):
                return made, conn
            await conn.close()
        import psycopg

        conn = await psycopg.AsyncConnection.connect(**self.params)
        return time.time(), conn

    async def give_back(self, made: float, conn: psycopg.AsyncConnection[Any]) -> None:
        if (
            not self.closed
            and not conn.closed
            and conn.info.transaction_status == IDLE
            and time.time() - made < self.stale_seconds
        ):
            self._idle.append((made, conn))
        else:
            await conn.close()

    def _usable(self, made: float, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Open, fresh, and quiet: a server ending a session (restart, termination, idle
        timeout) writes an error and closes the socket, which makes it readable. `poll`, not
        `select`, which refuses descriptors past 1023 (a busy worker has them)."""
        if conn.closed or time.time() - made >= self.stale_seconds:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False  # closed under us: made again

    async def close(self) -> None:
        self.closed = True
        idle, self._idle = self._idle, []
        for _, conn in idle:
            await conn.close()

    def finish(self) -> None:
        """Close the idle connections of a loop that has ended (nothing can be awaited on it):
        libpq's own close, which sends the server its goodbye without waiting for an answer."""
        self.closed = True
        idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.pgconn.finish()


class PostgresOnLoop:
    """The request path's PostgreSQL reads for one app, on whichever loop serves them."""

    def __init__(
        self,
        db: peewee.PostgresqlDatabase,
        statement_seconds: float | None,
        *,
        prepare: bool = True,
    ) -> None:
        self.dialect = db  # Prepared statements are built for Peewee's PostgreSQL dialect
        self.one_round_trip = True  # the statements of a batch go out pipelined
        self.statement_seconds = statement_seconds
        params = dict(db.connect_params)  # the same host, timeouts and options as psycopg2's
        for pool_only in ("max_connections", "stale_timeout", "timeout"):
            params.pop(pool_only, None)
        params.setdefault("application_name", APPLICATION_NAME)  # unless the URL names one
        self.params = {**params, "dbname": db.database, "autocommit": True}
        if not prepare:
            self.params["prepare_threshold"] = None  # psycopg never prepares
        self.stale_seconds = float(getattr(db, "_stale_timeout", None) or 300)
        self._loops: dict[asyncio.AbstractEventLoop, LoopConnections] = {}

    def connections(self) -> LoopConnections:
        loop = asyncio.get_running_loop()
        found = self._loops.get(loop)
        if found is None:
            for old in [known for known in self._loops if known.is_closed()]:
                self._loops.pop(old).finish()  # a loop that ended without the app's shutdown
            found = self._loops[loop] = LoopConnections(self.params, self.stale_seconds)
        return found

    async def close(self) -> None:
        """Close the running loop's idle connections (the app's shutdown)."""
        found = self._loops.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.close()


class RequestConnection:
    """One request's connection on the loop: taken at its first batch, given back at its end."""

    __slots__ = ("_conn", "_home", "_made", "database")

    def __init__(self, database: PostgresOnLoop) -> None:
        self.database = database
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._made = 0.0
        self._home: LoopConnections | None = None  # where it goes back (closed, if shut down)

    async def fetch(self, *statements: Statement) -> list[Rows]:
        """Every statement's rows, the statements sent together; DatabaseUnavailable when the
        server cannot be reached or does not answer within the statement bound."""
        import psycopg

        try:
            if self._conn is None:
                self._home = self.database.connections()
                self._made, self._conn = await self._home.take()
            return await self._pipelined(self._conn, statements)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    async def _pipelined(
        self, conn: psycopg.AsyncConnection[Any], statements: Sequence[Statement]
    ) -> list[Rows]:
        seconds = self.database.statement_seconds
        timer = (
            asyncio.get_running_loop().call_later(seconds, _interrupt, conn) if seconds else None
        )
        try:
            if len(statements) == 1:
                sql, params = statements[0]
                return [await (await conn.execute(sql, params)).fetchall()]
            async with conn.pipeline():
                cursors = [await conn.execute(sql, params) for sql, params in statements]
            return [await cursor.fetchall() for cursor in cursors]
        finally:
            if timer is not None:
                timer.cancel()

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._home is not None:
            await self._home.give_back(self._made, conn)


def _interrupt(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(OSError):  # already closed: the statement has failed on its own
        interrupt(conn)
