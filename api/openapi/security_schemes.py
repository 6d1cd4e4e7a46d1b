"""Security schemes as a request meets them: where each credential goes and its shape
(`Bearer` token characters, `Basic` base64 of `user:password`, API keys in their header,
query or cookie); mutual TLS is the TLS layer's business and always met here."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


@dataclass(frozen=True)
class Credential:
    """One security scheme of a requirement: where its credential goes and its shape."""

    scheme: str  # the scheme's name in components.securitySchemes
    kind: str  # apiKey, http, oauth2, openIdConnect, mutualTLS
    where: str  # header, query, cookie ("header" for http/oauth2/openIdConnect)
    name: str  # the header, query or cookie name
    auth_scheme: str | None  # `bearer`, `basic`, … for http (and bearer for oauth2/openIdConnect)

    def describe(self) -> str:
        if self.kind == "mutualTLS":
            return f"a client certificate ({self.scheme})"
        if self.auth_scheme:
            return f"{self.auth_scheme.capitalize()} credentials in {self.name} ({self.scheme})"
        return f"{self.where} {self.name!r} ({self.scheme})"

    def problem(
        self, headers: dict[str, list[str]], query: dict[str, list[str]], cookies: dict[str, str]
    ) -> str | None:
        """Why this credential is missing or malformed, or None when it is there."""
        if self.kind == "mutualTLS":
            return None  # the TLS layer's business, invisible here
        if self.where == "query":
            values = query.get(self.name, [])
        elif self.where == "cookie":
            values = [cookies[self.name]] if self.name in cookies else []
        else:
            values = headers.get(self.name.lower(), [])
        if not values or not values[0]:
            return f"missing: {self.describe()}"
        if not self.auth_scheme:
            return None
        scheme, _, token = values[0].strip().partition(" ")
        if scheme.lower() != self.auth_scheme.lower():
            return f"{self.name} does not use the {self.auth_scheme.capitalize()} scheme"
        token = token.strip()
        if not token:
            return f"{self.name} has no {self.auth_scheme.capitalize()} credentials"
        if self.auth_scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return f"{self.name}: Basic credentials are not base64 of UTF-8 text"
            if ":" not in decoded:
                return f"{self.name}: Basic credentials have no ':' between user and password"
        elif self.auth_scheme.lower() == "bearer" and not TOKEN68.match(token):
            return f"{self.name}: the Bearer token has characters a token cannot have"
        return None


def compile_credential(name: str, scheme: Mapping[str, Any]) -> Credential:
    kind = str(scheme.get("type"))
    if kind == "apiKey":
        return Credential(name, kind, str(scheme.get("in")), str(scheme.get("name")), None)
    if kind == "http":
        return Credential(name, kind, "header", "Authorization", str(scheme.get("scheme", "")))
    if kind in ("oauth2", "openIdConnect"):
        return Credential(name, kind, "header", "Authorization", "bearer")
    return Credential(name, kind, "header", "", None)
