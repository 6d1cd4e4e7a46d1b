"""The request's connection for reads on the event loop, whichever database it is.

The handlers' coroutine twins (handlers/context.py `on_loop`) and the queries they call
(db/queries.py `*_on_loop`) ask for `request_connection()` and hand it their statements;
api/server/dbwork.py binds it for each request: PostgreSQL's (db/postgres_loop.py, one
connection per request, the statements pipelined) or SQLite's (db/sqlite_loop.py, the loop's
one connection).
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Any, Protocol

import peewee

Statement = tuple[str, Sequence[Any]]  # (SQL with the dialect's markers, parameters)
Rows = list[tuple[Any, ...]]


class LoopDatabase(Protocol):
    @property
    def dialect(self) -> peewee.Database:
        """What Prepared statements are built for (db/prepared.py)."""
        ...

    @property
    def one_round_trip(self) -> bool:
        """Whether statements fetched together cost one round trip (PostgreSQL's pipeline),
        not one each: then a query sends its next statement before the first's answer."""
        ...


class LoopConnection(Protocol):
    @property
    def database(self) -> LoopDatabase: ...

    async def fetch(self, *statements: Statement) -> list[Rows]:
        """Every statement's rows; DatabaseUnavailable when the database cannot answer."""
        ...


_request: contextvars.ContextVar[LoopConnection | None] = contextvars.ContextVar(
    "craftkit_loop_connection", default=None
)


def bind_request(connection: LoopConnection | None) -> contextvars.Token[Any]:
    return _request.set(connection)


def unbind_request(token: contextvars.Token[Any]) -> None:
    _request.reset(token)


def request_connection() -> LoopConnection:
    """This request's connection on the loop (api/server/dbwork.py binds it)."""
    found = _request.get()
    if found is None:
        raise RuntimeError("no request reading on the event loop is being served here")
    return found
