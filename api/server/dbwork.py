"""Where a request's database work runs: on the event loop for SQLite, in threads otherwise.

Measured on the demo render (AsyncApp, one worker, wrk -c32; bench/results.md has the run):
running the key lookup and the handler's reads directly on the event loop served about 1.5x
the requests of the same work in the thread pool, where each hop costs a thread switch and
GIL hand-over worth more than the statements themselves (SQLite reads in WAL mode take tens
of microseconds). A statement that can wait must never block the loop, so:

- SQLite runs on the loop with a busy timeout of 0: a read that meets another connection's
  lock (rare in WAL mode: recovery, a non-WAL file) fails at once instead of waiting, and the
  same work is then retried in the thread pool, where it may wait up to the usual 5 s.
  Only work of GET/HEAD operations, which only read, is run this way. Handlers with a
  coroutine twin (handlers/context.py `on_loop`) read through the loop's own sqlite3
  connection (db/sqlite_loop.py: no pool to check out from, 35 µs of a 235 µs request);
  the others, and all of them with CRAFTKIT_DB_ON_LOOP=0, through Peewee's pool on the loop.
  Making a connection (opening the file, PRAGMAs) may wait too, so it happens in a thread.
- A read meets a lock SQLite does not time out while another process holds the WAL index's
  lock bytes (its recovery does): it retries for ~10 s, then fails with "locking protocol".
  Such a lock is asked for first (db/sqlite_file.py, one fcntl), and the read goes to a
  thread while it is held; "locking protocol" is busy too, retried in a thread.
- The SQLite file's identity is checked at each request's start (one stat): a file replaced
  or deleted while served retires the pool's connections and the loops', so new requests
  read the file now at the path (or find none, a 503) instead of the one first opened.
- PostgreSQL (every statement is a network round trip) runs on the loop too, through psycopg 3
  (db/postgres_loop.py: a request's statements in one round trip, each batch in a task of its
  own under a statement deadline), when the handler has a coroutine twin (handlers/context.py
  `on_loop`) and CRAFTKIT_DB_ON_LOOP allows; otherwise, and on the FlaskApp, through psycopg2
  in the thread pool. Measured on the demo render: bench/results.md.

The thread pool is the app's own `ThreadPoolExecutor`, as large as the connection pool, and
work is handed to it with the request's context variables (`loop.run_in_executor`): anyio's
`to_thread` (Starlette's `run_in_threadpool`), used before, cost about 160 µs a hop under 32
concurrent requests on the benchmark machine against 70 µs for the executor (its capacity
limiter, cancel scopes and worker queues); PostgreSQL requests make one hop each.

Each request holds one pooled connection from its first statement to its end
(`db.connection.request_connection`), shared by the key lookup and the handler. Requests take a
slot of an asyncio semaphore as large as the pool before their first statement, so one that
must wait for a connection waits on the loop, holding nothing; a thread never waits for a
connection held by a request that needs a thread to finish (no deadlock), and the thread
pool is sized to the pool (CRAFTKIT_DB_POOL_SIZE): more threads could only queue for it.
A request the deadline cancels (api/protocol/deadline.py) holds its slot and connection until its
thread is done (`_in_thread`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import peewee

from db.connection import (
    has_idle_connection,
    is_busy,
    request_connection,
    waiting_for_locks,
)
from db.deadline import sqlite_file
from db.loop_reads import bind_request, unbind_request
from db.postgres_loop import PostgresOnLoop, RequestConnection
from db.sqlite_file import SqliteFile
from db.sqlite_loop import FallBack, SqliteOnLoop, new_connection
from handlers.context import loop_twin

T = TypeVar("T")
READ_ONLY = ("get", "head")


class _Slot:
    __slots__ = ("semaphore",)

    def __init__(self) -> None:
        self.semaphore: asyncio.Semaphore | None = None  # set once this request holds one


_current: contextvars.ContextVar[tuple[DatabaseWork, _Slot] | None] = contextvars.ContextVar(
    "craftkit_database_work", default=None
)


class DatabaseWork:
    """One app's policy for running database work; see the module docstring."""

    def __init__(
        self,
        db: peewee.Database,
        pool_size: int,
        postgres_on_loop: PostgresOnLoop | None = None,
        sqlite_on_loop: SqliteOnLoop | None = None,
    ) -> None:
        self.db = db
        self.pool_size = pool_size
        self.on_loop = isinstance(db, peewee.SqliteDatabase)
        self.postgres_on_loop = postgres_on_loop
        self.sqlite_on_loop = sqlite_on_loop
        path = sqlite_file(db)
        self.file = SqliteFile(path) if path is not None else None
        # One semaphore per event loop (tests start several loops over one app).
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()
        # Threads are started on first use, so an app that never leaves the loop has none.
        self._threads: ThreadPoolExecutor | None = None

    @property
    def threads(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.pool_size, thread_name_prefix="craftkit-db")
        return self._threads

    async def close(self) -> None:
        """At the app's shutdown: the loop's PostgreSQL connections closed, the threads let go
        (made again if the app serves another loop, as tests do)."""
        if self.postgres_on_loop is not None:
            await self.postgres_on_loop.close()
        if self.sqlite_on_loop is not None:
            self.sqlite_on_loop.close()
        threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False)

    @asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """Around one request: its connection, and its slot, given back at the end."""
        if self.file is not None and self.file.changed():
            retire = getattr(self.db, "retire", None)  # pooled (db/deadline.py)
            if retire is not None:
                retire()
            if self.sqlite_on_loop is not None:
                self.sqlite_on_loop.retire()
        slot = _Slot()
        token = _current.set((self, slot))
        on_loop = None
        on_loop_token = None
        if self.postgres_on_loop is not None:
            on_loop = RequestConnection(self.postgres_on_loop)
            on_loop_token = bind_request(on_loop)
        elif self.sqlite_on_loop is not None:
            on_loop_token = bind_request(self.sqlite_on_loop)
        try:
            with request_connection(self.db):
                yield
        finally:
            try:
                if on_loop_token is not None:
                    unbind_request(on_loop_token)
                if on_loop is not None:
                    await on_loop.release()
            finally:
                _current.reset(token)
                if slot.semaphore is not None:
                    slot.semaphore.release()

    async def run(
        self, fn: Callable[..., T], *args: Any, read_only: bool = True, **kwargs: Any
    ) -> T:
        """`fn(*args, **kwargs)` on the loop (SQLite reads) or in the thread pool."""
        await self._take_slot()
        if self.on_loop and read_only and not (self.file and self.file.wal_index_locked()):
            if self.db.is_closed() and not has_idle_connection(self.db):
                # A new connection opens the file and runs PRAGMAs, which may wait: not here.
                await self._in_thread(self.db.connect, True)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_busy(exc):
                    raise
            return await self._in_thread(self._waiting, fn, *args, **kwargs)
        return await self._in_thread(fn, *args, **kwargs)

    async def read(
        self,
        fn: Callable[..., T],
        on_loop: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """The same read as `fn` (sync, Peewee) or `on_loop` (a coroutine reading through the
        loop's connection: db/postgres_loop.py, db/sqlite_loop.py), whichever this app runs."""
        if self.postgres_on_loop is not None:
            return await self.run_on_loop(on_loop, *args, **kwargs)
        if self.sqlite_on_loop is not None:
            return await self._sqlite_read(fn, on_loop, *args, **kwargs)
        return await self.run(fn, *args, **kwargs)

    async def _sqlite_read(
        self,
        fn: Callable[..., T],
        on_loop: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """`on_loop` on the loop's own SQLite connection (no pool, no slot: it holds nothing
        past its statements, which never wait); `fn` through Peewee where that cannot be done
        (db/sqlite_loop.py says when)."""
        sqlite = self.sqlite_on_loop
        assert sqlite is not None
        if self.file is not None and self.file.wal_index_locked():
            return await self.run(fn, *args, **kwargs)  # to a thread, as Peewee's path goes
        if sqlite.connection() is None:
            generation = sqlite.generation
            try:
                sqlite.keep(await self._in_thread(new_connection, self.db), generation)
            except (sqlite3.Error, peewee.PeeweeException):
                return await self.run(fn, *args, **kwargs)  # Peewee says why (a 503)
        try:
            return await on_loop(*args, **kwargs)
        except FallBack as fall:
            if not fall.waiting:
                return await self.run(fn, *args, **kwargs)
            await self._take_slot()
            return await self._in_thread(self._waiting, fn, *args, **kwargs)

    async def run_on_loop(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """`await fn(...)`, PostgreSQL statements on the loop (db/postgres_loop.py), in a task
        of its own: a request cancelled by its deadline waits for it (`_until_done`) rather
        than cancel it half-way through a batch, which psycopg would follow with a cancel
        request and up to ten seconds' wait on a frozen server. The batch's own deadline
        bounds that wait."""
        await self._take_slot()
        return await _until_done(asyncio.ensure_future(fn(*args, **kwargs)))

    def _waiting(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with waiting_for_locks(self.db):
            return fn(*args, **kwargs)

    async def reserve(self) -> None:
        """Take this request's slot now, before its first statement (the FlaskApp's views:
        api/server/app.py `SlotBeforeView`)."""
        await self._take_slot()

    async def _take_slot(self) -> None:
        found = _current.get()
        slot = found[1] if found is not None and found[0] is self else None
        if slot is not None and slot.semaphore is not None:
            return  # this request holds one already
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.pool_size)
        await semaphore.acquire()
        if slot is None:  # outside a request (a test calling run() directly): give it back
            semaphore.release()
        else:
            slot.semaphore = semaphore

    async def _in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` in this app's threads, with the request's context variables; see `_until_done`."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        future = asyncio.get_running_loop().run_in_executor(self.threads, call)
        return await _until_done(future)


async def _until_done(thread: asyncio.Future[T]) -> T:
    """Await work running in a thread (or a task of its own); a cancelled request
    (api/protocol/deadline.py) still waits for it.

    A cancelled `await` on a thread returns at once while the thread runs on, so the request
    would end under it: its connection, pool slot and thread token given back while the
    thread still uses them, and a connection the thread checks out afterwards never given
    back (after a frozen database had filled the pool that way, every request timed out).
    The thread's statements are bounded (db/deadline.py), and so is this wait with them.
    """
    try:
        return await asyncio.shield(thread)
    except asyncio.CancelledError:
        while not thread.done():
            with suppress(asyncio.CancelledError):
                await asyncio.wait({thread})
        if not thread.cancelled():
            thread.exception()  # retrieved: the request is cancelled, its result unwanted
        raise


def current() -> DatabaseWork:
    found = _current.get()
    if found is None:
        raise RuntimeError("no request is being served here (DatabaseWork.request)")
    return found[0]


def async_handler(
    fn: Callable[..., Any], method: str, work: DatabaseWork | None = None
) -> Callable[..., Any]:
    """`fn` (a sync handler) as a coroutine running through the app's DatabaseWork: on the
    loop for SQLite reads instead of in Connexion's thread pool (AsyncApp only), or its
    coroutine twin on the loop where `work` runs PostgreSQL there."""
    read_only = method.lower() in READ_ONLY
    twin = loop_twin(fn)
    # The twins are reads: a write keeps Peewee's transactions (and threads on PostgreSQL).
    reads_on_loop = work is not None and (
        work.postgres_on_loop is not None or work.sqlite_on_loop is not None
    )
    if reads_on_loop and twin is not None and read_only:
        on_loop = twin

        @functools.wraps(fn)
        async def handler(*args: Any, **kwargs: Any) -> Any:
            return await current().read(fn, on_loop, *args, **kwargs)

    else:

        @functools.wraps(fn)  # Connexion reads the parameters from the signature
        async def handler(*args: Any, **kwargs: Any) -> Any:
            return await current().run(fn, *args, read_only=read_only, **kwargs)

    # Connexion asks for the signature on every request: computed once here, not unwrapped
    # from `fn` each time.
    handler.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return handler
