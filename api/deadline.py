"""A request waits at most `seconds` for its answer to start; past that, 503 with Retry-After.

Each database statement is bounded already (db/deadline.py), but a request can also queue for
a pooled connection or a worker thread behind others that wait on a hung database; this
bounds the whole wait. It is the outermost middleware, so the abandoned request keeps its own
database context (connection, pool slot) until it ends in the background, within its own
statement bound; whatever it sends then is dropped. Being outside Connexion's error handling,
it writes the 503 envelope itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors

BODY = json.dumps({"error": {"code": errors.CODES[503], "message": errors.MESSAGES[503]}}).encode()


class RequestDeadline:
    def __init__(self, app: ASGIApp, seconds: float | None) -> None:
        self.app = app
        self.seconds = seconds
        self._abandoned: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.seconds:
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        late = False

        async def send_unless_late(message: Message) -> None:
            if late:
                return
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, send_unless_late))
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
        if task.done() or started.is_set():
            await task
            return
        late = True
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)
        errors.logger.error(
            "unavailable on %s %s: no answer within %g s",
            scope["method"],
            scope["path"],
            self.seconds,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(BODY)).encode()),
                    (b"retry-after", errors.RETRY_AFTER.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": BODY})

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
