"""Data layer: models, connection, queries and schema migrations. Knows nothing of HTTP."""
