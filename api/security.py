"""Bearer API keys for the spec's `bearerApiKey` scheme, wired through Connexion's security_map.

The contract carries no `x-bearerInfoFunc`, so the `bearer` handler is replaced in code. A key
is checked for shape first (a malformed one never reaches the database), then looked up by its
SHA-256 digest; a revoked key fails at once because every request looks it up.
"""

from __future__ import annotations

from typing import Any

from connexion.exceptions import Unauthorized
from connexion.lifecycle import ConnexionRequest
from connexion.security import NO_VALUE, BearerSecurityHandler
from starlette.concurrency import run_in_threadpool

from api import keys
from db.connection import connection
from db.queries import KeyOwner, find_active_key


class InvalidApiKey(Unauthorized):
    """A bearer token was given but is not a usable API key; `detail` says why, safely."""


def _lookup(digest: str) -> KeyOwner | None:
    with connection():
        return find_active_key(digest)


async def api_key_info(token: str) -> dict[str, Any]:
    """Token info for a valid key: the project and mode every read is scoped to."""
    if keys.key_mode(token) is None:
        raise InvalidApiKey("Malformed API key: expected ck_live_… or ck_test_….")
    owner = await run_in_threadpool(_lookup, keys.digest(token))
    if owner is None:
        raise InvalidApiKey("Invalid or revoked API key.")
    return {"sub": str(owner.project_id), "owner": owner}


class ApiKeyBearerHandler(BearerSecurityHandler):
    """Connexion's bearer handler, bound to our key check instead of an `x-bearerInfoFunc`."""

    def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
        return api_key_info

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


SECURITY_MAP = {"bearer": ApiKeyBearerHandler}
