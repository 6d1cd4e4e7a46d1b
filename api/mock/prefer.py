"""The client's choice of mock response: RFC 7240 `Prefer` items or Prism's `__…` parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PRISM_PARAMS = {"__code": "code", "__example": "example", "__dynamic": "dynamic", "__seed": "seed"}
PREFER_HEADER = ("header", "Prefer")  # (in, name) of an issue, as in the error envelope
# RFC 7240: preferences are separated by commas, a preference's parameters by semicolons;
# either may sit inside a quoted value.
ITEM = re.compile(r'(?:[^,"]|"[^"]*")+')
PART = re.compile(r'(?:[^;"]|"[^"]*")+')


@dataclass
class Preferences:
    """The client's choice of response; `problems` are reported as a 400 once routed.

    `sources` says where each preference came from (the `Prefer` header or a query
    parameter), so that a 400 names what the client actually sent.
    """

    code: int | None = None
    example: str | None = None
    dynamic: bool = False
    seed: int | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)

    def source(self, name: str) -> tuple[str, str]:
        return self.sources.get(name, PREFER_HEADER)

    def set(self, name: str, value: str, source: tuple[str, str] = PREFER_HEADER) -> None:
        name = name.strip().lower()
        value = value.strip().strip('"')
        problem = None
        if name == "code":
            if value.isdigit() and 100 <= int(value) <= 599:
                self.code = int(value)
            else:
                problem = f"code={value!r}: expected an HTTP status such as 404"
        elif name == "example":
            self.example = value
        elif name == "dynamic":
            if value.lower() not in ("true", "false"):
                problem = f"dynamic={value!r}: expected true or false"
            self.dynamic = value.lower() == "true"
        elif name == "seed":
            # At most 18 digits: any seed fits, and int() of thousands of digits raises.
            if re.fullmatch(r"-?\d{1,18}", value):
                self.seed = int(value)
            else:
                shown = value if len(value) <= 40 else f"{value[:20]}… ({len(value)} characters)"
                problem = f"seed={shown!r}: expected an integer of at most 18 digits"
        else:
            return  # return=, respond-async, …: not ours to refuse (RFC 7240 §2)
        self.sources[name] = source
        if problem:
            self.problems.append({"in": source[0], "name": source[1], "message": problem})


def parse_prefer(values: list[str], prefs: Preferences | None = None) -> Preferences:
    """Read RFC 7240 `Prefer` values: `token[=value] *( ";" param )`, comma separated.

    A preference's parameters are read as preferences too: `dynamic=true; seed=7` is what
    users write for `dynamic=true, seed=7`.
    """
    prefs = prefs or Preferences()
    for value in values:
        for item in ITEM.findall(value):
            for part in PART.findall(item):
                name, _, raw = part.partition("=")
                if name.strip():
                    prefs.set(name, raw)
    return prefs
