"""Bearer credentials through Connexion's security_map, for the server's keys and the mock's.

The contract carries no `x-bearerInfoFunc`, so the `bearer` handler is replaced in code:
`bearer_handler(token_info)` is Connexion's bearer handler bound to a coroutine that turns a
token into token info or raises `InvalidApiKey`. It overrides `_resolve_func` and
`_get_verify_func`, internals of connexion.security 3.3 (pinned <3.4; every 401 test goes
through them). Nothing here touches a database: the server passes a key lookup
(api/app.py), the mock a file of tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from connexion.exceptions import Unauthorized
from connexion.lifecycle import ConnexionRequest
from connexion.security import NO_VALUE, BearerSecurityHandler

TokenInfo = Callable[[str], Awaitable[dict[str, Any]]]


class InvalidApiKey(Unauthorized):
    """A bearer token was given but is not a usable API key; `detail` says why, safely."""


class BearerHandler(BearerSecurityHandler):
    """Connexion's bearer handler, reading `Authorization: Bearer …` itself."""

    token_info: TokenInfo

    def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
        return type(self).token_info

    def _get_verify_func(self, token_info_func: Any) -> Any:
        async def verify(request: ConnexionRequest) -> Any:
            authorization = request.headers.get("Authorization", "")
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer":
                return NO_VALUE  # no bearer credentials: Connexion answers 401
            token = token.strip()
            if not token:
                raise InvalidApiKey("Missing Bearer token.")
            return await token_info_func(token)

        return verify


def bearer_handler(token_info: TokenInfo) -> type[BearerHandler]:
    """A bearer handler class whose tokens `token_info` checks (a class: Connexion builds it)."""
    return type("BearerHandler", (BearerHandler,), {"token_info": staticmethod(token_info)})
