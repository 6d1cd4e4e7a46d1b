"""API key format, digest and display prefix."""

from __future__ import annotations

import hashlib

import pytest

from db import keys


@pytest.mark.parametrize("mode", ["live", "test"])
def test_generated_keys_are_well_formed_and_unique(mode):
    made = [keys.generate_key(mode) for _ in range(50)]
    assert len({k.plaintext for k in made}) == 50
    for new in made:
        assert new.plaintext.startswith(f"ck_{mode}_")
        assert len(new.plaintext) - len(f"ck_{mode}_") >= 24
        assert keys.key_mode(new.plaintext) == mode
        assert new.digest == hashlib.sha256(new.plaintext.encode()).hexdigest()
        assert new.display_prefix == new.plaintext[: len(f"ck_{mode}_") + 8]


def test_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="live or test"):
        keys.generate_key("prod")


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("ck_live_" + "a" * 24, "live"),
        ("ck_test_" + "A1_-" * 6, "test"),
        ("ck_test_" + "a" * 23, None),  # too short
        ("ck_prod_" + "a" * 24, None),
        ("ck_live_" + "a" * 23 + "!", None),
        ("ck_live_" + "a" * 24 + " ", None),
        ("ck_live_" + "a" * 24 + "\n", None),  # `$` alone would let a trailing newline in
        ("CK_LIVE_" + "a" * 24, None),
        ("", None),
    ],
)
def test_key_mode_accepts_only_the_documented_format(key, mode):
    assert keys.key_mode(key) == mode
