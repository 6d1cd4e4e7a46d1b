"""What an operator needs around any app: request log, metrics, health and Swagger UI.

One telemetry middleware writes the request log and the Prometheus metrics (`telemetry`,
`request_log`, `metrics`); `health` answers `/livez` and `/readyz`; `docs_ui` serves Swagger UI
of the document as written; `operational` adds them all to an app in one call. Everything is
plain ASGI, so the server (FlaskApp or AsyncApp), the mock and the proxy get it alike. It may
import `api.openapi`, `api.protocol` and `api.config`, never an app, `db/` or `handlers/`.
"""
