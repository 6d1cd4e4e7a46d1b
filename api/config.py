"""Every setting of the server, declared once as data.

Each setting has a default, one environment variable and a line of help; the README's
settings table is checked against this list by a test, so a setting cannot go undocumented.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def shipped_file(name: str) -> Path:
    """A file at the repo's root, or the copy a non-editable install puts under share/craftkit."""
    repo_copy = Path(__file__).resolve().parent.parent / name
    return repo_copy if repo_copy.exists() else Path(sys.prefix, "share", "craftkit", name)


def _default_spec_path() -> str:
    return str(shipped_file("openapi.yaml"))


# A setting's rule: None for a good value, else what is wrong ("must be at least 1, got 0").
Rule = Callable[[Any], str | None]


def between(low: float, high: float) -> Rule:
    return lambda value: (
        None if low <= value <= high else f"must be between {low} and {high}, got {value}"
    )


def at_least(low: int) -> Rule:
    return lambda value: None if value >= low else f"must be at least {low}, got {value}"


def seconds_up_to(high: float) -> Rule:
    return lambda value: (
        None
        if 0 < value <= high
        else f"must be more than 0 and at most {high} seconds, got {value}"
    )


def one_of(choices: tuple[str, ...]) -> Rule:
    return lambda value: (
        None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"
    )


def origins(value: str) -> str | None:
    """Comma-separated browser origins: each a scheme and host (and port), or `*`."""
    for origin in (part.strip() for part in value.split(",") if part.strip()):
        scheme, _, rest = origin.partition("://")
        if origin != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
            return (
                "must list origins like https://app.example.com (scheme and host, no path), "
                f"got {origin!r}"
            )
    return None


def _setting(
    default: Any, env: str, help: str, shown: str | None = None, rule: Rule | None = None
) -> Any:
    shown = str(default) if shown is None else shown
    metadata = {"env": env, "help": help, "shown": shown, "rule": rule}
    return field(default=default, metadata=metadata)


LOG_LEVELS = ("debug", "info", "warning", "error")
PIPELINES = ("compiled", "connexion")
APP_KINDS = ("async", "flask")
LOG_FORMATS = ("auto", "json", "text")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """The server's configuration; build it with `Settings.from_env()` or directly in tests."""

    database_url: str = _setting(
        "sqlite:///craftkit.db",
        "DATABASE_URL",
        "Peewee database URL: sqlite:///path.db (default, in the working directory) or "
        "postgresql://user@host:5432/db; the server pools connections (CRAFTKIT_DB_POOL_SIZE).",
    )
    spec_path: str = _setting(
        _default_spec_path(),
        "CRAFTKIT_SPEC",
        "The OpenAPI 3.1 document to serve.",
        shown="openapi.yaml of this repo",
    )
    recent_limit: int = _setting(
        20,
        "CRAFTKIT_RECENT_LIMIT",
        "How many events `recent` lists, newest first (1-1000).",
        rule=between(1, 1000),
    )
    validate_responses: bool = _setting(
        True,
        "CRAFTKIT_VALIDATE_RESPONSES",
        "Validate every response body against the contract; a non-conforming one becomes a 500.",
    )
    app: str = _setting(
        "async",
        "CRAFTKIT_APP",
        "Connexion app that serves the API: async (AsyncApp) or flask (FlaskApp, to embed the "
        "API in a Flask application).",
        rule=one_of(APP_KINDS),
    )
    pipeline: str = _setting(
        "compiled",
        "CRAFTKIT_PIPELINE",
        "How the AsyncApp runs a contract operation: compiled (one callable per operation, "
        "built at start-up) or connexion (Connexion's own middleware stack, layer by layer).",
        rule=one_of(PIPELINES),
    )
    db_pool_size: int = _setting(
        8,
        "CRAFTKIT_DB_POOL_SIZE",
        "Database connections each worker keeps open, and threads it runs database work in "
        "(on PostgreSQL, up to this many for the API's reads on the loop, besides a pool of "
        "the same size that /readyz and the FlaskApp use).",
        rule=at_least(1),
    )
    db_on_loop: bool = _setting(
        True,
        "CRAFTKIT_DB_ON_LOOP",
        "Run the API's reads through the event loop's own connection (AsyncApp): on SQLite one "
        "sqlite3 connection per loop, no pool; on PostgreSQL psycopg 3, a request's statements "
        "in one round trip. 0 reads through Peewee's pool: on SQLite still on the loop, on "
        "PostgreSQL through psycopg2 in threads.",
    )
    db_prepare: bool = _setting(
        True,
        "CRAFTKIT_DB_PREPARE",
        "With CRAFTKIT_DB_ON_LOOP, let psycopg 3 prepare the API's statements on each "
        "connection (protocol level); 0 behind a PgBouncer in transaction mode older than 1.21 "
        "or with max_prepared_statements = 0.",
    )
    key_cache_seconds: float = _setting(
        1.0,
        "CRAFTKIT_KEY_CACHE_SECONDS",
        "How long a worker trusts a valid API key before looking it up again: a revoked key "
        "is refused within this time (0: look every request up).",
        rule=between(0, 60),
    )
    db_timeout: float = _setting(
        5.0,
        "CRAFTKIT_DB_TIMEOUT",
        "Seconds a request may wait for the database (connect, each statement, a locked SQLite "
        "file, a busy worker); past it the answer is 503 with Retry-After.",
        rule=seconds_up_to(3600),
    )
    write_timeout: float = _setting(
        60.0,
        "CRAFTKIT_WRITE_TIMEOUT",
        "Seconds a CLI command waits for the database, e.g. for another writer's lock on SQLite.",
        rule=seconds_up_to(3600),
    )
    host: str = _setting("127.0.0.1", "CRAFTKIT_HOST", "Address `craftkit serve` binds to.")
    port: int = _setting(
        8080, "CRAFTKIT_PORT", "Port `craftkit serve` listens on.", rule=between(1, 65535)
    )
    workers: int = _setting(
        1, "CRAFTKIT_WORKERS", "Worker processes for `craftkit serve`.", rule=at_least(1)
    )
    log_level: str = _setting(
        "info",
        "CRAFTKIT_LOG_LEVEL",
        "Log level: debug, info, warning or error.",
        rule=one_of(LOG_LEVELS),
    )
    log_format: str = _setting(
        "auto",
        "CRAFTKIT_LOG_FORMAT",
        "Log format: json (one object a line), text, or auto: text on a terminal, else json.",
        rule=one_of(LOG_FORMATS),
    )
    cors_origins: str = _setting(
        "",
        "CRAFTKIT_CORS_ORIGINS",
        "Browser origins allowed to call the API, comma-separated (https://app.example.com); "
        "preflights allow only the contract's methods and headers. None by default.",
        shown="(none)",
        rule=origins,
    )
    strict_query: bool = _setting(
        False,
        "CRAFTKIT_STRICT_QUERY",
        "Refuse query parameters the operation does not declare (400); by default they are "
        "ignored, as OpenAPI allows (a cache-buster such as ?_=1 must not fail a request).",
    )
    head_timeout: float = _setting(
        10.0,
        "CRAFTKIT_HEAD_TIMEOUT",
        "Seconds a client has to send a whole request head once it has begun; past it the "
        "answer is 408 and the connection closes (a slow-drip client holds nothing longer).",
        rule=seconds_up_to(3600),
    )
    idle_timeout: float = _setting(
        5.0,
        "CRAFTKIT_IDLE_TIMEOUT",
        "Seconds a connection may stay open with no request in progress (new, or kept alive "
        "between requests); then the server closes it.",
        rule=seconds_up_to(3600),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from the environment, then apply explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.metadata["env"], type(f.default), raw)
        settings = cls(**values)
        return replace(settings, **overrides) if overrides else settings

    @property
    def cors_origin_list(self) -> list[str]:
        return [part.strip() for part in self.cors_origins.split(",") if part.strip()]

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = check(f.name, getattr(self, f.name))
            if problem is not None:
                raise ValueError(f"{f.metadata['env']} ({f.name}) {problem}")


def check(name: str, value: Any) -> str | None:
    """What is wrong with `value` for the setting `name` (None if nothing): the one rule that
    the environment, `Settings(...)` and the CLI's flags all go through."""
    rule = SETTINGS[name].metadata["rule"]
    return None if rule is None else rule(value)


def _convert(name: str, env: str, kind: type, raw: str) -> Any:
    """The variable's text as the setting's type; a bad value is named in plain words."""
    if kind is bool:
        try:
            return _parse_bool(raw)
        except ValueError:
            raise ValueError(
                f"{env} must be true or false (or 1/0, yes/no, on/off), got {raw!r}"
            ) from None
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"{env} must be a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw.strip())
        except ValueError:
            raise ValueError(f"{env} must be a number, got {raw!r}") from None
    return raw


SETTINGS = {f.name: f for f in fields(Settings)}


def settings_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for each setting, as the README documents them."""
    return [(f.metadata["env"], f.metadata["shown"], f.metadata["help"]) for f in fields(Settings)]
