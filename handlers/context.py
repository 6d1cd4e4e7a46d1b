"""What a handler needs from the app that serves it, without knowing the web framework.

api/protocol/middleware.py sets it around each request (a context variable, so it follows the
request into the thread pool where handlers run); tests may set it directly with `using()`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class HandlerContext:
    recent_limit: int = 20  # how many events `recent` lists


_current: contextvars.ContextVar[HandlerContext] = contextvars.ContextVar(
    "craftkit_handler_context",
    default=HandlerContext(),  # noqa: B039  # frozen: the shared default cannot be mutated
)


def current() -> HandlerContext:
    return _current.get()


@contextmanager
def using(context: HandlerContext) -> Iterator[HandlerContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def on_loop(twin: Callable[..., Any]) -> Callable[[F], F]:
    """Mark a handler with a coroutine doing the same work on the event loop, which the
    AsyncApp runs instead when the database's statements run there (PostgreSQL through
    psycopg 3: api/server/dbwork.py). Same parameters, same answer."""

    def mark(handler: F) -> F:
        handler.on_loop = twin  # type: ignore[attr-defined]
        return handler

    return mark


def loop_twin(handler: Callable[..., Any]) -> Callable[..., Any] | None:
    return getattr(handler, "on_loop", None)
