"""Bearer credentials through Connexion's security_map, for the server's keys and the mock's.

The contract carries no `x-bearerInfoFunc`, so the `bearer` handler is replaced in code:
`bearer_handler(token_info)` is Connexion's bearer handler bound to a coroutine that turns a
token into token info or raises `InvalidApiKey`; the Connexion internals that takes are in
api/openapi/connexion_shim.py (`BearerTokenHandler`). Nothing here touches a database: the server
passes a key lookup (api/server/app.py), the mock a file of tokens.
"""

from __future__ import annotations

from typing import Any

from connexion.exceptions import Unauthorized
from connexion.lifecycle import ConnexionRequest

from api.openapi.connexion_shim import BearerTokenHandler, TokenInfo


class InvalidApiKey(Unauthorized):
    """A bearer token was given but is not a usable API key; `detail` says why, safely.

    `challenge` is the 401's `WWW-Authenticate` (RFC 6750 §3): `error="invalid_token"` for a
    token that was sent, the bare scheme for none."""

    challenge = 'Bearer error="invalid_token"'


class MissingToken(InvalidApiKey):
    """`Authorization: Bearer` with nothing after it: no token, so no error code."""

    challenge = "Bearer"


class BearerHandler(BearerTokenHandler):
    """Connexion's bearer handler, reading `Authorization: Bearer …` itself."""

    token_info: TokenInfo

    def token_info_for(self, scheme: dict[str, Any]) -> TokenInfo:
        return type(self).token_info

    def bearer_token(self, request: ConnexionRequest) -> str | None:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None  # no bearer credentials: Connexion answers 401
        token = token.strip()
        if not token:
            raise MissingToken("Missing Bearer token.")
        return token


def bearer_handler(token_info: TokenInfo) -> type[BearerHandler]:
    """A bearer handler class whose tokens `token_info` checks (a class: Connexion builds it)."""
    return type("BearerHandler", (BearerHandler,), {"token_info": staticmethod(token_info)})
