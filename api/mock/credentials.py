"""Mock credentials: tokens of the shape the spec describes, or any, or those of `--keys`.

A security scheme has no field for a token's shape, but descriptions say it: this contract's
`bearerApiKey` reads "Project API key (`ck_live_…` or `ck_test_…`)". Prefixes written that way
(an identifier ending in `_` followed by `…`, `...` or `xxx`) become the shape the mock
requires, as the real server does, so a frontend sending `Bearer whatever` gets the 401 it
would get in production. `--token-pattern` gives the shape as a regular expression instead;
`--any-token` accepts any token without spaces (the mock's behaviour before this).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from typing import Any

from connexion.security import ApiKeySecurityHandler, BasicSecurityHandler, OAuthSecurityHandler

from api.openapi.connexion_shim import TokenInfo, with_info_func
from api.security import BearerHandler, InvalidApiKey


def read_keys(path: str | pathlib.Path) -> frozenset[str]:
    """Valid bearer tokens for `--keys`: one per line; blank lines and `#` comments ignored."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(s for line in lines if (s := line.strip()) and not s.startswith("#"))


# `ck_live_…`, `sk_test_...`, `pk_xxxx`: a prefix ending in `_`, then a placeholder.
DESCRIBED_PREFIX = re.compile(
    r"(?<![\w-])([A-Za-z][A-Za-z0-9]*_(?:[A-Za-z0-9]+_)*)(?:…|\.\.\.|x{3,})"
)
TOKEN_CHARS = "[A-Za-z0-9._~+/=-]+"  # RFC 6750's b64token


@dataclass(frozen=True)
class TokenShape:
    """What a token must look like: a full-match regular expression, and how to say it."""

    pattern: re.Pattern[str] | None  # None: any token without whitespace
    described: str

    def check(self, token: str) -> None:
        if not token or any(c.isspace() for c in token):
            raise InvalidApiKey("Malformed credentials.")
        if self.pattern is not None and not self.pattern.fullmatch(token):
            raise InvalidApiKey(f"Malformed API key: expected {self.described}.")


ANY_TOKEN = TokenShape(None, "any token")


def described_shape(scheme: dict[str, Any]) -> TokenShape:
    """The token shape a security scheme's description implies, or any token if it says none."""
    prefixes = list(dict.fromkeys(DESCRIBED_PREFIX.findall(str(scheme.get("description", "")))))
    if not prefixes:
        return ANY_TOKEN
    alternatives = "|".join(re.escape(prefix) for prefix in prefixes)
    return TokenShape(
        re.compile(f"(?:{alternatives}){TOKEN_CHARS}"), " or ".join(f"{p}…" for p in prefixes)
    )


def pattern_shape(pattern: str) -> TokenShape:
    """`--token-pattern`: a regular expression every token must match in full."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--token-pattern is not a valid regular expression: {exc}") from None
    return TokenShape(compiled, f"a token matching {pattern}")


class MutualTLSHandler:
    """`type: mutualTLS`: the client certificate is checked by TLS, before HTTP; the mock
    serves plain HTTP and cannot see one, so the requirement is met (Connexion knows no such
    type and refused every request with a 401 naming a bearer token)."""

    def get_fn(self, _scheme: dict[str, Any], _required_scopes: Any) -> Any:
        async def verify(_request: Any) -> dict[str, Any]:
            return {"sub": "mutual-tls"}

        return verify


def mock_security_map(
    valid_keys: frozenset[str] | None,
    *,
    shape: TokenShape | None = None,
    any_token: bool = False,
) -> dict[str, type]:
    """Credentials checked without a database: any well-formed one, or only those of `--keys`.

    Bearer is our contract's scheme; API keys, HTTP basic and OAuth2/OpenID Connect bearer
    tokens are accepted the same way, so that any spec's secured operations can be mocked
    (Connexion would refuse them all for want of an `x-…InfoFunc`).
    """

    def check(credential: str, scheme: dict[str, Any] | None = None) -> None:
        """A listed key, else a token of the shape given or described (or any, if told so)."""
        if valid_keys is not None:
            ANY_TOKEN.check(credential)
            if credential not in valid_keys:
                raise InvalidApiKey("Invalid API key (not in the mock's --keys file).")
            return
        if any_token:
            ANY_TOKEN.check(credential)
        else:
            (shape or described_shape(scheme or {})).check(credential)

    def token_info_for(scheme: dict[str, Any]) -> Any:
        async def token_info(token: str) -> dict[str, Any]:
            check(token, scheme)
            return {"sub": "mock"}

        return token_info

    def api_key_info_for(scheme: dict[str, Any]) -> Any:
        async def api_key_info(api_key: str, required_scopes: Any = None) -> dict[str, Any]:
            check(api_key, scheme)
            return {"sub": "mock"}

        return api_key_info

    # Passwords and OAuth tokens have no described shape: any is taken (or a --keys one).
    async def basic_info(username: str, password: str, required_scopes: Any = None) -> Any:
        check(password, {})
        return {"sub": username}

    async def oauth_info(token: str, required_scopes: Any = None) -> dict[str, Any]:
        check(token, {})
        return {"sub": "mock", "scope": list(required_scopes or [])}  # every scope granted

    class MockBearerHandler(BearerHandler):
        def token_info_for(self, scheme: dict[str, Any]) -> TokenInfo:
            return token_info_for(scheme)  # type: ignore[no-any-return]

    oauth = with_info_func(OAuthSecurityHandler, lambda _scheme: oauth_info)
    return {
        "mutualTLS": MutualTLSHandler,
        "bearer": MockBearerHandler,
        "apiKey": with_info_func(ApiKeySecurityHandler, api_key_info_for),
        "basic": with_info_func(BasicSecurityHandler, lambda _scheme: basic_info),
        "oauth2": oauth,
        "openIdConnect": oauth,
    }
