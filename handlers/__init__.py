"""One function per operationId: ask db/ for rows, shape the contract's JSON.

Handlers know no Connexion, Flask or Starlette: Connexion passes the spec's parameters and
`token_info`, and api/ sets the per-app settings they need in `handlers.context`.
"""
