"""What the HTTP server does before the app sees a request, for any app we serve.

How every app is run (`server`: one bounded uvicorn config for serve, mock and proxy), the
uvicorn protocol that bounds a request head and times out idle and slow connections
(`uvicorn_shim`), the bounds as data (`bounds`), the guards that refuse an oversized or
malformed request before routing (`guards`), the request deadline (`deadline`), the small ASGI
middleware that keeps routing exact (`middleware`) and the server's CORS (`cors`). It may import
`api.openapi` and `api.errors` (to answer in the envelope), never an app, `db/` or `handlers/`,
so the server, the mock and the proxy share it.
"""
