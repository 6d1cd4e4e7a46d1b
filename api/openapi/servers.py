"""Where a document's operations live: the path of its first `servers` URL.

`servers: [{url: https://api.example.com/v2}]` puts `GET /pets` at `/v2/pets`; server variables
(`{scheme}://host/{basePath}`) take their defaults; relative URLs (`/api/v3`) count too. The
mock serves under this path, the proxy forwards to it, the contract tests call through it.
Connexion's own `base_path` does the same substitution but fails on a variable without a
default and keeps a trailing `/` of the root's `//`; this one never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

VARIABLE = re.compile(r"\{([^{}]+)\}")


def server_url(server: Mapping[str, Any]) -> str:
    """A server object's URL with every `{variable}` replaced by its default (or left out)."""
    url = str(server.get("url") or "")
    variables = server.get("variables") or {}

    def default(match: re.Match[str]) -> str:
        variable = variables.get(match.group(1)) if isinstance(variables, Mapping) else None
        if isinstance(variable, Mapping) and variable.get("default") is not None:
            return str(variable["default"])
        return ""

    return VARIABLE.sub(default, url)


def normalise(path: str) -> str:
    """`""` for the root, else `/a/b`: one leading slash, none trailing, no empty segments."""
    segments = [segment for segment in path.split("/") if segment]
    return "/" + "/".join(segments) if segments else ""


def url_path(url: str) -> str:
    """The path part of a server URL, absolute (`https://h/v2`) or relative (`/v2`, `v2`)."""
    if "://" in url or url.startswith("//"):
        return urlsplit(url).path
    return urlsplit(url).path if url.startswith("/") else "/" + url.split("?", 1)[0]


def base_path(document: Mapping[str, Any]) -> str:
    """The path of the document's first `servers` URL, variables at their defaults:
    `""` for the root (or no servers), else `/v2` style. Percent-encoding is kept as written."""
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], Mapping):
        return ""
    return normalise(url_path(server_url(servers[0])))


def join(base: str, path: str) -> str:
    """`base` (as `base_path` gives it) followed by an operation path (`/pets`)."""
    if not base:
        return path or "/"
    if not path or path == "/":
        return base
    return base + (path if path.startswith("/") else "/" + path)


def strip(base: str, path: str) -> str | None:
    """`path` without the `base` prefix (`/v2/pets` -> `/pets`), or None when it is not under it."""
    if not base:
        return path
    if path == base:
        return "/"
    if path.startswith(base + "/"):
        return path[len(base) :]
    return None
