"""`craftkit proxy`: real traffic checked against any OpenAPI 3.0/3.1/3.2 contract.

A bare ASGI app (`app`) in front of one upstream, on serve's bounded uvicorn protocol: each
request is routed and checked by api/openapi/operations.py, forwarded unchanged by `upstream`
(its own asyncio HTTP/1.1 client), its answer checked, and every exchange kept in the `record`:
coverage per operation x documented status, JUnit and JSON reports for CI. Nothing here loads
db/, handlers/ or the server's app.
"""

from api.proxy.app import MODES, REPORT_PATH, ProxyApp, ProxyOptions
from api.proxy.record import Record
from api.proxy.upstream import Upstream

__all__ = ["MODES", "REPORT_PATH", "ProxyApp", "ProxyOptions", "Record", "Upstream"]
