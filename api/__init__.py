"""App assembly: the Connexion app, OpenAPI 3.1 support, security, errors, settings and CLI."""
