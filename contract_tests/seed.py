"""A database worth fuzzing: renders of every shape, for two projects and both modes.

Generated cases are steered to these ids (`contract_tests.engine.steer`), so a good share of
requests reach a stored render and answer 200 with real data; the others are missing or belong to
another tenant and must answer 404.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cli.event_lines import parse_lines
from db import keys, queries
from db.connection import connection

START = datetime(2026, 6, 21, 9, 0, tzinfo=UTC)
METADATA_KINDS: list[object] = [
    {"page": 2, "nested": {"a": [1, None]}},
    [1, "two", 3.5],
    "text",
    42,
    3.25,
    True,
    False,
    None,
    {},
    [],
]


@dataclass
class Seeded:
    """Keys and render ids of the seeded database, grouped by who may read them."""

    key: str
    foreign_key: str
    revoked_key: str
    owned: list[str] = field(default_factory=list)  # the owner's test renders: 200
    foreign: list[str] = field(default_factory=list)  # another project's renders: 404
    other_mode: list[str] = field(default_factory=list)  # the owner's live renders: 404
    missing: list[str] = field(default_factory=list)  # never stored: 404

    @property
    def pool(self) -> list[str]:
        # Owned renders weigh most, so that most steered cases answer 200.
        return [*self.owned, *self.owned, *self.foreign, *self.other_mode, *self.missing]


def _event(render: str, n: int, **fields: object) -> dict[str, object]:
    at = START + timedelta(minutes=7 * n, milliseconds=n)
    return {
        "renderId": render,
        "eventType": queries.EVENT_TYPES[n % len(queries.EVENT_TYPES)],
        "actorKind": queries.ACTOR_KINDS[n % len(queries.ACTOR_KINDS)],
        "createdAt": at.isoformat().replace("+00:00", "Z"),
        **fields,
    }


def seed() -> Seeded:
    """Fill the open database; call with a freshly initialised schema."""
    with connection():
        owner = queries.create_project("contract-owner")
        other = queries.create_project("contract-foreign")
        key = _key(owner, "test")
        foreign_key = _key(other, "test")
        revoked_key = _key(owner, "test")
        queries.revoke_key(digest=keys.digest(revoked_key))

        busy, shared, kinds, empty = (str(queries.create_render(owner, "test").id) for _ in "1234")
        foreign = str(queries.create_render(other, "test").id)
        live = str(queries.create_render(owner, "live").id)
        share = str(uuid.uuid4())
        events = [
            # more events than `recent` lists, every type and actor, nulls and values
            *(
                _event(busy, n, sourceIp=f"203.0.113.{n}" if n % 2 else None, userAgent=None)
                for n in range(45)
            ),
            # views through a share link (linkOpens), every field set; share lifecycle events
            *(
                _event(
                    shared,
                    n,
                    eventType="viewed",
                    actorKind="recipient",
                    shareId=share,
                    sourceIp="203.0.113.4",
                    userAgent="Mozilla/5.0",
                )
                for n in range(5)
            ),
            _event(shared, 6, eventType="share_created", actorKind="system", shareId=share),
            _event(shared, 7, eventType="share_revoked", actorKind="partner", shareId=share),
            # metadata of every JSON kind
            *(
                _event(kinds, n, metadata=meta, userAgent="Mozilla/5.0", sourceIp="2001:db8::1")
                for n, meta in enumerate(METADATA_KINDS)
            ),
            *(_event(foreign, n) for n in range(3)),
            *(_event(live, n) for n in range(3)),
        ]
        queries.record_events(parse_lines(json.dumps(e) for e in events))
    return Seeded(
        key=key,
        foreign_key=foreign_key,
        revoked_key=revoked_key,
        owned=[busy, shared, kinds, empty],
        foreign=[foreign],
        other_mode=[live],
        missing=[str(uuid.UUID(int=0)), str(uuid.uuid5(uuid.NAMESPACE_URL, "never-stored"))],
    )


def _key(project: object, mode: str) -> str:
    new = keys.generate_key(mode)
    queries.store_api_key(project, mode, new.digest, new.display_prefix)  # type: ignore[arg-type]
    return new.plaintext
