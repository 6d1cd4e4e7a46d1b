"""Settings: read from the environment, refused with the variable's name, documented in README."""

from __future__ import annotations

import re

import pytest

from api.config import Settings, settings_table
from tests.support import ROOT


def readme_settings() -> list[tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+?) \| (.+?) \|$", text, flags=re.MULTILINE)
    return [(env, default.strip("`"), meaning) for env, default, meaning in rows]


def test_readme_documents_every_setting_as_declared():
    assert readme_settings() == settings_table()


def test_defaults_are_the_embedded_sqlite_setup():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///craftkit.db"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8080, 1)
    assert settings.recent_limit == 20 and settings.validate_responses is True
    assert (settings.app, settings.db_pool_size) == ("async", 8)
    assert settings.pipeline == "compiled"
    assert settings.spec_path == str(ROOT / "openapi.yaml")


def test_every_setting_is_read_from_its_variable():
    env = {
        "DATABASE_URL": "postgresql://u@db:5432/x",
        "CRAFTKIT_SPEC": "/tmp/other.yaml",
        "CRAFTKIT_RECENT_LIMIT": "7",
        "CRAFTKIT_VALIDATE_RESPONSES": "off",
        "CRAFTKIT_APP": "flask",
        "CRAFTKIT_PIPELINE": "connexion",
        "CRAFTKIT_DB_POOL_SIZE": "3",
        "CRAFTKIT_DB_ON_LOOP": "off",
        "CRAFTKIT_DB_PREPARE": "no",
        "CRAFTKIT_KEY_CACHE_SECONDS": "0.5",
        "CRAFTKIT_HOST": "0.0.0.0",
        "CRAFTKIT_PORT": "9000",
        "CRAFTKIT_WORKERS": "4",
        "CRAFTKIT_LOG_LEVEL": "debug",
        "CRAFTKIT_LOG_FORMAT": "text",
        "CRAFTKIT_DB_TIMEOUT": "2.5",
        "CRAFTKIT_WRITE_TIMEOUT": "30",
        "CRAFTKIT_CORS_ORIGINS": "http://localhost:5173, https://app.example.com",
        "CRAFTKIT_STRICT_QUERY": "yes",
        "CRAFTKIT_HEAD_TIMEOUT": "3",
        "CRAFTKIT_IDLE_TIMEOUT": "2",
    }
    assert {env for env, _, _ in settings_table()} == set(env)
    settings = Settings.from_env(env)
    assert settings == Settings(
        database_url="postgresql://u@db:5432/x",
        spec_path="/tmp/other.yaml",
        recent_limit=7,
        validate_responses=False,
        app="flask",
        pipeline="connexion",
        db_pool_size=3,
        db_on_loop=False,
        db_prepare=False,
        key_cache_seconds=0.5,
        host="0.0.0.0",
        port=9000,
        workers=4,
        log_level="debug",
        log_format="text",
        db_timeout=2.5,
        write_timeout=30.0,
        cors_origins="http://localhost:5173, https://app.example.com",
        strict_query=True,
        head_timeout=3.0,
        idle_timeout=2.0,
    )
    assert settings.cors_origin_list == ["http://localhost:5173", "https://app.example.com"]


def test_empty_variables_mean_the_default_and_overrides_win():
    settings = Settings.from_env({"CRAFTKIT_PORT": "", "CRAFTKIT_HOST": "::"}, host="localhost")
    assert (settings.port, settings.host) == (8080, "localhost")


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("CRAFTKIT_PORT", "abc", "CRAFTKIT_PORT must be a whole number, got 'abc'"),
        ("CRAFTKIT_WORKERS", "2.5", "CRAFTKIT_WORKERS must be a whole number, got '2.5'"),
        (
            "CRAFTKIT_VALIDATE_RESPONSES",
            "maybe",
            "CRAFTKIT_VALIDATE_RESPONSES must be true or false (or 1/0, yes/no, on/off), "
            "got 'maybe'",
        ),
        ("CRAFTKIT_LOG_FORMAT", "xml", "(log_format) must be one of auto, json, text, got 'xml'"),
        (
            "CRAFTKIT_RECENT_LIMIT",
            "0",
            "(recent_limit) must be between 1 and 1000, got 0",
        ),
        (
            "CRAFTKIT_RECENT_LIMIT",
            "1001",
            "(recent_limit) must be between 1 and 1000",
        ),
        ("CRAFTKIT_WORKERS", "0", "(workers) must be at least 1"),
        ("CRAFTKIT_PORT", "70000", "(port) must be between 1 and 65535, got 70000"),
        ("CRAFTKIT_PORT", "0", "(port) must be between 1 and 65535, got 0"),
        (
            "CRAFTKIT_CORS_ORIGINS",
            "http://ok.example, app.example.com",
            "(cors_origins) must list origins like https://app.example.com (scheme and host, "
            "no path), got 'app.example.com'",
        ),
        ("CRAFTKIT_CORS_ORIGINS", "https://a.example/", "got 'https://a.example/'"),
        ("CRAFTKIT_APP", "django", "(app) must be one of async, flask, got 'django'"),
        ("CRAFTKIT_DB_POOL_SIZE", "0", "(db_pool_size) must be at least 1, got 0"),
        ("CRAFTKIT_KEY_CACHE_SECONDS", "-1", "(key_cache_seconds) must be between 0 and 60"),
        (
            "CRAFTKIT_KEY_CACHE_SECONDS",
            "soon",
            "CRAFTKIT_KEY_CACHE_SECONDS must be a number, got 'soon'",
        ),
        (
            "CRAFTKIT_LOG_LEVEL",
            "loud",
            "(log_level) must be one of debug, info, warning, error",
        ),
    ],
)
def test_bad_values_are_refused_by_name(env, value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        Settings.from_env({env: value})
    assert str(raised.value).startswith(env)  # the variable a user sets, named first
