"""Tenants stay apart: 2 projects x live/test keys x own/other/missing renders, revoked keys too.

Every read a key may not make answers byte for byte what a missing render answers, so a key
cannot learn which ids exist elsewhere; a revoked key reads nothing.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from db import keys as key_format
from db import queries
from db.connection import connection

MODES = ("live", "test")


def _answer(client: Any, key: str, render: str) -> tuple[int, bytes, tuple]:
    response = client.get(
        f"/v1/renders/{render}/engagement", headers={"Authorization": f"Bearer {key}"}
    )
    headers = tuple(
        sorted(
            (k, v) for k, v in response.headers.items() if k.lower() not in ("date", "x-request-id")
        )
    )
    return response.status_code, response.content, headers


def test_the_isolation_matrix(
    client: Any, make_project: Any, make_key: Any, make_render: Any, record_events: Any
) -> None:
    projects = [make_project("alpha"), make_project("beta")]
    keys = {(p.name, m): make_key(p, m) for p in projects for m in MODES}
    renders = {(p.name, m): make_render(p, m) for p in projects for m in MODES}
    record_events(
        [
            {
                "renderId": r,
                "eventType": "viewed",
                "actorKind": "recipient",
                "createdAt": "2026-06-21T10:10:00Z",
            }
            for r in renders.values()
        ]
    )
    missing = str(uuid.uuid4())

    checked = 0
    for (owner, key), (place, render) in itertools.product(keys.items(), renders.items()):
        status, body, headers = _answer(client, key, render)
        if owner == place:
            assert status == 200, (owner, place, body)
            assert b'"total"' in body
        else:
            assert (status, body, headers) == _answer(client, key, missing), (owner, place)
            assert status == 404
        checked += 1
    assert checked == 16

    revoked_key = key_format.generate_key("test")
    with connection():
        queries.store_api_key(projects[0], "test", revoked_key.digest, revoked_key.display_prefix)
        queries.revoke_key(digest=revoked_key.digest)
    answers = {_answer(client, revoked_key.plaintext, r) for r in [*renders.values(), missing]}
    assert len(answers) == 1
    status, body, _ = answers.pop()
    assert status == 401 and b"revoked" in body
