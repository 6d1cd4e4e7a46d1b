"""The client's choice of mock response: RFC 7240 `Prefer` items or Prism's `__…` parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PRISM_PARAMS = {"__code": "code", "__example": "example", "__dynamic": "dynamic", "__seed": "seed"}


@dataclass
class Preferences:
    """The client's choice of response; `problems` are reported as a 400 once routed."""

    code: int | None = None
    example: str | None = None
    dynamic: bool = False
    seed: int | None = None
    problems: list[str] = field(default_factory=list)

    def set(self, name: str, value: str) -> None:
        name = name.strip().lower()
        value = value.strip().strip('"')
        if name == "code":
            if value.isdigit() and 100 <= int(value) <= 599:
                self.code = int(value)
            else:
                self.problems.append(f"code={value!r}: expected an HTTP status such as 404")
        elif name == "example":
            self.example = value
        elif name == "dynamic":
            if value.lower() not in ("true", "false"):
                self.problems.append(f"dynamic={value!r}: expected true or false")
            self.dynamic = value.lower() == "true"
        elif name == "seed":
            if re.fullmatch(r"-?\d+", value):
                self.seed = int(value)
            else:
                self.problems.append(f"seed={value!r}: expected an integer")
        # Other preferences (return=, respond-async, …) are not ours to refuse (RFC 7240 §2).


def parse_prefer(values: list[str], prefs: Preferences | None = None) -> Preferences:
    """Read RFC 7240 `Prefer` header values: `token[=value]` items separated by commas."""
    prefs = prefs or Preferences()
    for value in values:
        for item in value.split(","):
            name, _, raw = item.split(";", 1)[0].partition("=")
            if name.strip():
                prefs.set(name, raw)
    return prefs
