"""The bounds of a request, as data: README's bounds table and SECURITY.md are checked against it.

Each bound is checked before routing (api/protocol/guards.py), so an oversized request costs a few
microseconds and gets a small envelope. A head still incomplete past `SERVER_HEAD_BYTES` never
reaches the app: uvicorn's protocol (api/protocol/uvicorn_shim.py) stops reading it and
answers the same 431 (or 414) envelope itself (see SECURITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    name: str
    limit: int
    status: int
    what: str


REQUEST_TARGET = Bound("request target", 2048, 414, "bytes of path and query string")
HEADERS = Bound("headers", 8192, 431, "bytes of all header names and values")
QUERY_PARAMETERS = Bound("query parameters", 16, 400, "parameters in the query string")
BODY = Bound("request body", 0, 413, "bytes: no operation of the contract takes a body")
AUTHORIZATION = Bound("Authorization headers", 1, 401, "header; two are ambiguous")

HTTP_BOUNDS = (REQUEST_TARGET, HEADERS, QUERY_PARAMETERS, BODY, AUTHORIZATION)

# The most bytes of an incomplete request head uvicorn reads (api/protocol/uvicorn_shim.py
# counts them).
SERVER_HEAD_BYTES = 16 * 1024
# uvicorn answers 503 itself past this many connections + requests in progress, per worker.
SERVER_CONCURRENCY = 1000
