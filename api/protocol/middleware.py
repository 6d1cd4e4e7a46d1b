"""ASGI middleware shared by the server and the mock: exact routing, no line feeds, HEAD as GET;
and `send_whole`, the one way middleware outside the framework writes a whole answer.

- Starlette routers answer `/v1/renders/{id}/engagement/` with a bodiless 307 to the path
  without the slash: an undocumented response outside the envelope. `middlewares()` is
  Connexion's default stack with its routing middleware swapped for `ExactPathRouting`
  (built on api/openapi/connexion_shim.py's `Routing`, which reaches Connexion's routers).
- Connexion 3.3 mounts each API on a Starlette `Mount`, whose `(?P<path>.*)` does not match a
  line feed, while Flask's router does: `/v1/renders/a%0Ab/engagement` reached the handler with
  no operation context and failed with a 500 (found by the contract tests). No path of the
  contract can hold one, so `NoLineFeedInPaths` answers 404 before routing.
- HEAD is answered as GET without a body (RFC 9110 §9.3.2): Connexion 3.3 routes HEAD to no
  operation and its Flask layer then fails with a 500; rewriting the method before routing
  lets HEAD share GET's security, validation and headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.openapi.connexion_shim import Routing, default_middlewares


async def send_whole(
    send: Send,
    status: int,
    body: bytes,
    media_type: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    """A whole answer written straight to ASGI, for the middleware that answers before or
    outside the framework (health, metrics, Swagger UI's files, the request deadline); with
    `head`, the same headers and no body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


class ExactPathRouting(Routing):
    """Connexion's routing without slash redirects."""

    def adjust_routers(self, top: Router, apis: list[Router]) -> None:
        for router in (top, *apis):
            router.redirect_slashes = False


def middlewares(routing: type = ExactPathRouting) -> list[Any]:
    """A new list per app: Connexion's `add_middleware` inserts into the list it was given."""
    return default_middlewares(routing)


class NoLineFeedInPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\n" in scope["path"]:
            raise HTTPException(404)  # the error module's "No route matches" envelope
        await self.app(scope, receive, send)


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
