"""Swagger UI of the verbatim document at `/ui` (where Connexion users look) and `/docs`.

The UI's files come from the `swagger_ui_bundle` package, the one Connexion's swagger-ui
extra uses, but in its 5.x build (`swagger-ui-bundle-v2`): the 4.15 build that
`connexion[swagger-ui]` installs cannot render an OpenAPI 3.1 document ("does not specify a
valid version field"). The page is ours rather than Connexion's `SwaggerUIMiddleware` for
three reasons: Connexion answers `/ui` with a redirect to `/ui/` and this server never
redirects (its assets are linked by absolute path here, so `/ui`, `/ui/` and `/docs` are the
same page); Connexion's page asks the validator badge service on the internet about the
document (`validatorUrl` is null here); and it points at Connexion's processed copy of the
spec, where this page reads `/openapi.json`, the document as written.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import pathlib
import re
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.protocol.middleware import send_whole

logger = logging.getLogger("craftkit.docs")

UI_PATH = "/ui"
PAGE_PATHS = (UI_PATH, UI_PATH + "/", "/docs")
# Operational routes this module serves, as the request log and the metrics name them.
ROUTES = (*PAGE_PATHS, UI_PATH + "/{file}")
ASSETS = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
)
MIN_MAJOR = 5
HTTP_METHODS = (
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
    "query",
)  # the first Swagger UI release that renders OpenAPI 3.1

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · Swagger UI</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ui}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ui}/swagger-ui-bundle.js"></script>
<script>
// The document as written, with this server listed first among its servers (in the page
// only), so that "Try it out" calls the server that serves the page, not production.
// Tags with no operation this server serves are left out, and the description starts by
// naming the operations it serves (the document itself stays as written).
fetch({spec_url}).then((response) => response.json()).then((spec) => {{
  const here = window.location.origin + {root_path};
  const served = {served};
  spec.servers = [{{url: here, description: "This server"}}, ...(spec.servers || [])];
  if (served !== null) {{
    spec.tags = (spec.tags || []).filter((tag) => served.tags.includes(tag.name));
    spec.info = Object.assign({{}}, spec.info);
    spec.info.description = served.note + (spec.info.description || "");
  }}
  window.ui = SwaggerUIBundle(Object.assign({{spec}}, {config}));
}});
</script>
</body>
</html>
"""


def bundle_dir() -> pathlib.Path:
    """Where the installed `swagger_ui_bundle` keeps Swagger UI's files."""
    from swagger_ui_bundle import swagger_ui_path

    return pathlib.Path(str(swagger_ui_path))


def bundle_version(directory: pathlib.Path | None = None) -> tuple[int, ...]:
    """Swagger UI's version, from the bundle's directory name (`swagger-ui-5.31.0`)."""
    directory = directory or bundle_dir()
    found = re.fullmatch(r"swagger-ui-(\d+(?:\.\d+)*)", directory.name)
    if found is None:
        raise RuntimeError(f"cannot tell the Swagger UI version of {directory}")
    return tuple(int(part) for part in found.group(1).split("."))


def served_view(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows of `spec` besides the document: the tags of its operations and a
    note naming them (every operation of the document is served: the server's resolver
    refuses to start without a handler for each, the mock answers every one)."""
    operations: list[str] = []
    tags: set[str] = set()
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                name = f"`{method.upper()} {path}`"
                if operation.get("operationId"):
                    name += f" ({operation['operationId']})"
                operations.append(name)
                tags.update(str(tag) for tag in operation.get("tags") or ())
    listed = "; ".join(operations) or "none"
    count = f"{len(operations)} operation{'' if len(operations) == 1 else 's'}"
    note = (
        f"**This server serves {count} of this document:** {listed}. "
        "Tags with no served operation are not shown here; /openapi.yaml and /openapi.json "
        "are the document as written.\n\n"
    )
    return {"tags": sorted(tags), "note": note}


def render_page(
    title: str, spec_url: str, root_path: str = "", served: dict[str, Any] | None = None
) -> bytes:
    """The UI page for a document at `spec_url`, its assets under `root_path` + /ui; with
    `served` (`served_view`), only those tags, and the note first in the description."""
    config = {
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,  # no call to the public validator service
        "tryItOutEnabled": False,
        "persistAuthorization": False,  # a pasted key stays in the tab, not in localStorage
    }
    page = PAGE.format(
        title=html.escape(title),
        ui=html.escape(root_path + UI_PATH),
        config=_js(config),
        spec_url=_js(root_path + spec_url),
        root_path=_js(root_path),
        served=_js(served),
    )
    return page.encode()


def _js(value: object) -> str:
    """A JSON literal for a script element: `</` is escaped so no value can close the element."""
    return json.dumps(value).replace("</", "<\\/")


class SwaggerUI:
    """Answers the UI page and its assets; anything else under /ui goes on (a 404 envelope)."""

    def __init__(
        self,
        app: ASGIApp,
        title: str,
        spec_url: str = "/openapi.json",
        served: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.title = title
        self.spec_url = spec_url
        self.served = served
        directory = bundle_dir()
        version = bundle_version(directory)
        if version[0] < MIN_MAJOR:
            logger.warning(
                "Swagger UI %s cannot show OpenAPI 3.1 documents: pip install "
                "'swagger-ui-bundle-v2>=5' (connexion[swagger-ui] installs 4.x)",
                ".".join(map(str, version)),
            )
        self.assets = {name: directory / name for name in ASSETS if (directory / name).is_file()}
        self._bytes: dict[str, bytes] = {}  # read on first use, then served from memory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in PAGE_PATHS:
            self._allow_get(scope)
            body = render_page(self.title, self.spec_url, scope.get("root_path", ""), self.served)
            await _send(send, body, "text/html; charset=utf-8", cache="no-cache")
        elif path.startswith(UI_PATH + "/") and path[len(UI_PATH) + 1 :] in self.assets:
            self._allow_get(scope)
            name = path[len(UI_PATH) + 1 :]
            if name not in self._bytes:
                self._bytes[name] = self.assets[name].read_bytes()
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith("javascript"):
                media_type += "; charset=utf-8"
            await _send(send, self._bytes[name], media_type, cache="public, max-age=86400")
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _allow_get(scope: Scope) -> None:
        if scope["method"] != "GET":  # HEAD arrives here as GET (HeadAsGet is further out)
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})


async def _send(send: Send, body: bytes, media_type: str, *, cache: str) -> None:
    extra = [(b"cache-control", cache.encode()), (b"x-content-type-options", b"nosniff")]
    await send_whole(send, 200, body, media_type, extra)
