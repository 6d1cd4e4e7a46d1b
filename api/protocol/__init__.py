"""What the HTTP server does before the app sees a request, for any app we serve.

The uvicorn protocol that bounds a request head (`uvicorn_shim`), the bounds as data
(`bounds`), the guards that refuse an oversized or malformed request before routing (`guards`),
the request deadline (`deadline`) and the small ASGI middleware that keeps routing exact
(`middleware`). It may import `api.openapi` and `api.errors` (to answer in the envelope), never
an app, `db/` or `handlers/`, so the server, the mock and the proxy share it.
"""
