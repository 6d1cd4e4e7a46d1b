"""Project API keys: `ck_live_…` / `ck_test_…` followed by at least 24 URL-safe characters.

The CLI makes them and api/security.py checks them; `fullmatch`, so a trailing newline is no key.

Only the SHA-256 digest and a short display prefix are ever stored; the key itself is shown
once, when it is made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"ck_(live|test)_[A-Za-z0-9_-]{24,200}")
DISPLAY_CHARS = 8  # of the random part, after the ck_mode_ prefix


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    mode: str
    digest: str
    display_prefix: str


def generate_key(mode: str) -> NewKey:
    if mode not in ("live", "test"):
        raise ValueError(f"mode must be live or test, not {mode!r}")
    plaintext = f"ck_{mode}_{secrets.token_urlsafe(24)}"  # 32 random characters
    return NewKey(plaintext, mode, digest(plaintext), display_prefix(plaintext))


def key_mode(key: str) -> str | None:
    """The key's mode if it is well formed, else None (malformed keys never reach the DB)."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    mode_prefix_len = len("ck_live_")
    return key[: mode_prefix_len + DISPLAY_CHARS]
