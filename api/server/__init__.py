"""The engagement server: its app (app.py), where its statements run (dbwork.py) and how an
operationId finds its handler (resolver.py). The only part of `api/` that imports `db/` and
`handlers/`; nothing imports it but the CLI, the bench and tests."""
