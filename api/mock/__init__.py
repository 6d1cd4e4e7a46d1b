"""Mock mode: every operation of a spec answered from its examples, with no database.

The app is built by the real server's `api.assembly.assemble()` (the 3.1 spec class and
validators, strict parameter validation, response validation, the error envelope, HEAD as
GET, no line feeds in paths), so requests are checked as the real server checks them and every
mock body is validated against the spec before it leaves. Nothing here loads db/. What differs:

- `MockResolver` names every operation, with or without an operationId, and `MockResponder`
  answers routed requests itself, after security and validation, before Connexion would call a
  handler. Connexion's parameter decorator is never reached: its type coercion fails on 3.1 type
  lists (`type: [string, 'null']`), and its own `MockResolver` answers 500 for operations without
  an operationId.
- `MockRequest` reads the client's preferences (RFC 7240 `Prefer: code=…, example=…,
  dynamic=true, seed=…`, `;` parameters read as preferences too, or Prism's
  `__code`/`__example`/`__dynamic`/`__seed` query parameters, removed before strict validation
  sees them), applies `--delay` and logs one line per call, CORS preflights included.
- `MockCORS` allows per path the declared methods and the headers the spec uses, and answers a
  refused preflight with the envelope; `BasePath` serves the operations under the spec's
  `servers` base path and at the root (api/mock/paths.py); `SpecErrors` puts 4xx answers in
  the shape the operation documents for them (api/mock/documented_errors.py);
  `StringPathRouting` routes integer and number path parameters as plain segments, so a bad
  one is a 400, not a 404.
- An example that breaks its own schema is logged at start and never sent: unasked, the next
  valid example or generated data is; asked for by name, a 500 envelope names it. Under
  `--watch`, a spec edited into one that does not load leaves the last good one serving
  (a 503 envelope, `SpecUnavailable`, only when there is none).

Dynamic bodies come from jsf (JSON Schema Faker), seeded so a `seed` reproduces a body; each is
validated with the spec's own 2020-12 (or 3.0) validator, and redrawn if jsf got it wrong.

Modules: `app` (assembly and the middlewares), `paths` (base path and per-path methods and
headers), `documented_errors` (errors in the spec's own shape), `prefer`, `replies` (choosing
the documented response), `generate` (jsf), `credentials` (`--keys`, each security scheme),
`spec_cache` (documents validated before, kept parsed).
"""

from api.mock.app import (
    OPTIONS_ENV,
    SPEC_PROBLEMS,
    MockOptions,
    app_from_env,
    configure_logging,
    create_mock_app,
    spec_problem,
)
from api.mock.generate import Generator
from api.mock.prefer import Preferences, parse_prefer
from api.mock.replies import PreferenceProblem, documented_status

__all__ = [
    "OPTIONS_ENV",
    "SPEC_PROBLEMS",
    "Generator",
    "MockOptions",
    "PreferenceProblem",
    "Preferences",
    "app_from_env",
    "configure_logging",
    "create_mock_app",
    "documented_status",
    "parse_prefer",
    "spec_problem",
]
