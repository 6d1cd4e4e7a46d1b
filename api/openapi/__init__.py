"""The OpenAPI layer: a document, its validation and the pipeline that runs its operations.

Loading 3.0, 3.1 and 3.2 documents as written (`spec`, with `yaml_events` reading YAML fast and
`servers` the base path of their `servers`), walking what they document (`walk`: operations,
responses, media types, examples), compiled request and response validation with every issue
reported (`validation`, JSON Schema 2020-12 through jsonschema-rs), each operation compiled
into a raw-path router and request/response checks with no framework in between (`operations`,
with `parameters`, `security_schemes` and `media`: the proxy's path), each operation of a
Connexion app run by one callable built from Connexion's own pieces (`pipeline`: the server's
path), and every use of a Connexion internal (`connexion_shim`). The server, the mock, the
proxy, the contract tests and spec diff all import it; it imports nothing else of the project
(no other part of `api/`, no `db/`, `handlers/` or `cli/`), so any of them can use it alone
(tests/test_import_rules.py).
"""
