"""How every app we serve is run: one uvicorn configuration with the protocol's bounds.

`craftkit serve`, `craftkit mock` (and the proxy) build their uvicorn config with
`bounded_config()`, so each gets the same protocol (api/protocol/uvicorn_shim.py: bounded heads,
pipelining held back, the envelope for parse errors), the head and idle timeouts, the
concurrency limit and no `Server` header; `run()` serves it as `uvicorn.run` would (workers,
reload), which cannot take a config of its own.

`BoundedConfig` is uvicorn's `Config` with what the protocol reads besides uvicorn's own
options: the head timeout and whether requests may carry a body. A subclass, not a global: a
worker process gets the config pickled, attributes and all.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from api.protocol import bounds
from api.protocol.uvicorn_shim import PROTOCOL, supervise


class BoundedConfig(uvicorn.Config):
    """uvicorn's config plus `head_timeout` (seconds to send a whole head once begun) and
    `takes_bodies` (False: a request declaring a body is answered, then the connection
    closes, nothing more read)."""

    def __init__(
        self, app: Any, *, head_timeout: float, takes_bodies: bool, **options: Any
    ) -> None:
        self.head_timeout = head_timeout
        self.takes_bodies = takes_bodies
        super().__init__(app, **options)


def bounded_config(
    app: Any,
    host: str,
    port: int,
    *,
    head_timeout: float,
    idle_timeout: float,
    takes_bodies: bool = False,
    http: str = PROTOCOL,
    **options: Any,
) -> BoundedConfig:
    """uvicorn's config for `app` (an ASGI app, or an import string with `factory=True`)
    behind the bounded protocol (`http`: it, or a subclass of it such as the proxy's);
    `options` are uvicorn's own (workers, log_level, reload…)."""
    return BoundedConfig(
        app,
        host=host,
        port=port,
        http=http,
        ws="none",  # no WebSocket: an Upgrade request is answered as plain HTTP
        limit_concurrency=bounds.SERVER_CONCURRENCY,
        timeout_keep_alive=idle_timeout,  # type: ignore[arg-type]  # a float works as well
        server_header=False,
        head_timeout=head_timeout,
        takes_bodies=takes_bodies,
        **options,
    )


def run(config: BoundedConfig) -> None:
    """Serve `config` as `uvicorn.run` does: under the reloader, in worker processes, or here
    (uvicorn's supervisors: api/protocol/uvicorn_shim.py)."""
    supervise(config)
