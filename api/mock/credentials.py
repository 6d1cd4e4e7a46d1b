"""Mock credentials: any well-formed token, or only those listed in a `--keys` file."""

from __future__ import annotations

import pathlib
from typing import Any

from connexion.security import ApiKeySecurityHandler, BasicSecurityHandler, OAuthSecurityHandler

from api.security import InvalidApiKey, bearer_handler


def read_keys(path: str | pathlib.Path) -> frozenset[str]:
    """Valid bearer tokens for `--keys`: one per line; blank lines and `#` comments ignored."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(s for line in lines if (s := line.strip()) and not s.startswith("#"))


def mock_security_map(valid_keys: frozenset[str] | None) -> dict[str, type]:
    """Credentials checked without a database: any well-formed one, or only those of `--keys`.

    Bearer is our contract's scheme; API keys, HTTP basic and OAuth2/OpenID Connect bearer
    tokens are accepted the same way, so that any spec's secured operations can be mocked
    (Connexion would refuse them all for want of an `x-…InfoFunc`).
    """

    def check(credential: str) -> None:
        if not credential or any(c.isspace() for c in credential):
            raise InvalidApiKey("Malformed credentials.")
        if valid_keys is not None and credential not in valid_keys:
            raise InvalidApiKey("Invalid API key (not in the mock's --keys file).")

    async def token_info(token: str) -> dict[str, Any]:
        check(token)
        return {"sub": "mock"}

    async def api_key_info(api_key: str, required_scopes: Any = None) -> dict[str, Any]:
        check(api_key)
        return {"sub": "mock"}

    async def basic_info(username: str, password: str, required_scopes: Any = None) -> Any:
        check(password)
        return {"sub": username}

    async def oauth_info(token: str, required_scopes: Any = None) -> dict[str, Any]:
        check(token)
        return {"sub": "mock", "scope": list(required_scopes or [])}  # every scope granted

    class MockApiKeyHandler(ApiKeySecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return api_key_info

    class MockBasicHandler(BasicSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return basic_info

    class MockOAuthHandler(OAuthSecurityHandler):
        def get_tokeninfo_func(self, security_definition: dict[str, Any]) -> Any:
            return oauth_info

    return {
        "bearer": bearer_handler(token_info),
        "apiKey": MockApiKeyHandler,
        "basic": MockBasicHandler,
        "oauth2": MockOAuthHandler,
        "openIdConnect": MockOAuthHandler,
    }
