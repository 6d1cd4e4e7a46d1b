"""`/livez` and `/readyz` (and `/healthz`, its older name), answered before routing.

- `/livez`: the process answers; it never touches the database, so a probe does not restart
  a server whose database is the sick part.
- `/readyz`: the database answers within the bound and holds the current schema; otherwise a
  503 envelope naming the problem (with `Retry-After`), so a load balancer stops sending.

Both are plain ASGI, not framework routes: they answer while every worker thread waits on a
hung database.
"""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import send_whole
from db.connection import DatabaseUnavailable

LIVE = "/livez"
READY = ("/readyz", "/healthz")
ROUTES = (LIVE, *READY)
OK = b'{"status":"ok"}'


class NotReady(DatabaseUnavailable):
    """The database answers but cannot serve: the message says why, and is safe to show."""

    @property
    def public_message(self) -> str:
        return str(self)


class Health:
    def __init__(self, app: ASGIApp, schema_problem: Callable[[], str | None]) -> None:
        self.app = app
        self.schema_problem = schema_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ROUTES:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":  # HEAD arrives here as GET (api/head.py)
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        if scope["path"] in READY:
            problem = await to_thread.run_sync(self.schema_problem)
            if problem is not None:
                raise NotReady(problem)
        await send_whole(send, 200, OK, "application/json", [(b"cache-control", b"no-store")])
