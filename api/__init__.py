"""HTTP: app assembly, OpenAPI 3.1 support, validation, middleware, security, errors, settings."""

import warnings

# Connexion 3.3 imports starlette.testclient at start-up, which warns about httpx on every
# `craftkit serve`; the warning is about Connexion's test helper, not about anything we run.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
