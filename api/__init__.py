"""HTTP, by layer: the server's app and its one assembly, settings, errors and security.

- `api/openapi/`: the document and validation layer (imports nothing else of the project);
- `api/protocol/`: what happens before the app sees a request (bounds, guards, deadline);
- `api/ops/`: request log, metrics, health, Swagger UI;
- `api/mock/` and `api/proxy/`: tools that serve any spec, free of `db/` and `handlers/`;
- `api/server/`: the engagement server (app, dbwork, resolver), the only part with `db/`;
- here: `assembly` (the wiring serve and mock share), `config`, `errors` and `security`.
"""

import warnings

# Connexion 3.3 imports starlette.testclient at start-up, which warns about httpx on every
# `craftkit serve`; the warning is about Connexion's test helper, not about anything we run.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
