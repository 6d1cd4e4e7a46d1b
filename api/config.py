"""Every setting of the server, declared once as data.

Each setting has a default, one environment variable and a line of help; the README's
settings table is checked against this list by a test, so a setting cannot go undocumented.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def shipped_file(name: str) -> Path:
    """A file at the repo's root, or the copy a non-editable install puts under share/craftkit."""
    repo_copy = Path(__file__).resolve().parent.parent / name
    return repo_copy if repo_copy.exists() else Path(sys.prefix, "share", "craftkit", name)


def _default_spec_path() -> str:
    return str(shipped_file("openapi.yaml"))


def _setting(default: Any, env: str, help: str, shown: str | None = None) -> Any:
    shown = str(default) if shown is None else shown
    return field(default=default, metadata={"env": env, "help": help, "shown": shown})


LOG_LEVELS = ("debug", "info", "warning", "error")
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
        20, "CRAFTKIT_RECENT_LIMIT", "How many events `recent` lists, newest first (1-1000)."
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
    )
    db_pool_size: int = _setting(
        8,
        "CRAFTKIT_DB_POOL_SIZE",
        "Database connections each worker keeps open, and threads it runs database work in.",
    )
    key_cache_seconds: float = _setting(
        1.0,
        "CRAFTKIT_KEY_CACHE_SECONDS",
        "How long a worker trusts a valid API key before looking it up again: a revoked key "
        "is refused within this time (0: look every request up).",
    )
    db_timeout: float = _setting(
        5.0,
        "CRAFTKIT_DB_TIMEOUT",
        "Seconds a request may wait for the database (connect, each statement, a locked SQLite "
        "file, a busy worker); past it the answer is 503 with Retry-After.",
    )
    write_timeout: float = _setting(
        60.0,
        "CRAFTKIT_WRITE_TIMEOUT",
        "Seconds a CLI command waits for the database, e.g. for another writer's lock on SQLite.",
    )
    host: str = _setting("127.0.0.1", "CRAFTKIT_HOST", "Address `craftkit serve` binds to.")
    port: int = _setting(8080, "CRAFTKIT_PORT", "Port `craftkit serve` listens on.")
    workers: int = _setting(1, "CRAFTKIT_WORKERS", "Worker processes for `craftkit serve`.")
    log_level: str = _setting(
        "info", "CRAFTKIT_LOG_LEVEL", "Log level: debug, info, warning or error."
    )
    log_format: str = _setting(
        "auto",
        "CRAFTKIT_LOG_FORMAT",
        "Log format: json (one object a line), text, or auto: text on a terminal, else json.",
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
    )
    idle_timeout: float = _setting(
        5.0,
        "CRAFTKIT_IDLE_TIMEOUT",
        "Seconds a connection may stay open with no request in progress (new, or kept alive "
        "between requests); then the server closes it.",
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

    def __post_init__(self) -> None:
        if not 1 <= self.recent_limit <= 1000:
            raise ValueError(
                f"CRAFTKIT_RECENT_LIMIT (recent_limit) must be between 1 and 1000, "
                f"got {self.recent_limit}"
            )
        if self.workers < 1:
            raise ValueError(f"CRAFTKIT_WORKERS (workers) must be at least 1, got {self.workers}")
        for name, env in (
            ("db_timeout", "CRAFTKIT_DB_TIMEOUT"),
            ("write_timeout", "CRAFTKIT_WRITE_TIMEOUT"),
            ("head_timeout", "CRAFTKIT_HEAD_TIMEOUT"),
            ("idle_timeout", "CRAFTKIT_IDLE_TIMEOUT"),
        ):
            if not 0 < getattr(self, name) <= 3600:
                raise ValueError(f"{env} ({name}) must be more than 0 and at most 3600 seconds")
        if self.app not in APP_KINDS:
            raise ValueError(
                f"CRAFTKIT_APP (app) must be one of {', '.join(APP_KINDS)}, got {self.app!r}"
            )
        if self.db_pool_size < 1:
            raise ValueError(
                f"CRAFTKIT_DB_POOL_SIZE (db_pool_size) must be at least 1, got {self.db_pool_size}"
            )
        if not 0 <= self.key_cache_seconds <= 60:
            raise ValueError(
                "CRAFTKIT_KEY_CACHE_SECONDS (key_cache_seconds) must be between 0 and 60, "
                f"got {self.key_cache_seconds}"
            )
        if self.log_level not in LOG_LEVELS:
            raise ValueError(
                f"CRAFTKIT_LOG_LEVEL (log_level) must be one of {', '.join(LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"CRAFTKIT_LOG_FORMAT (log_format) must be one of {', '.join(LOG_FORMATS)}, "
                f"got {self.log_format!r}"
            )


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


def settings_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for each setting, as the README documents them."""
    return [(f.metadata["env"], f.metadata["shown"], f.metadata["help"]) for f in fields(Settings)]
