"""A document built straight from libyaml's events: the same values as PyYAML's safe loader,
without its node tree.

PyYAML's C loader still composes a node per scalar and constructs the data in Python: 2.5 s of
CPU for a 5 MB spec. Here the events of the same parser (`loader.get_event`) are turned into
dicts, lists and scalars directly, each plain scalar's tag resolved by the loader's own
`resolve` (YAML 1.1's implicit rules, once per distinct value) and built by its own
constructors: 0.5 s for that spec. Only what the common case needs is handled; anything else
(an explicit tag other than the core ones, merge keys, a collection as a key, a recursive or
repeated anchor, several documents, an empty stream) raises `Unusual`, and the caller parses the
text again with PyYAML's loader, which gives its result or its error as before.
"""

from __future__ import annotations

from typing import Any

from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"
# Kept as the string written (timestamps too: see api.openapi.spec.DocumentLoader).
AS_WRITTEN = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"})
CONSTRUCTED = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)
KEY_TYPES = (str, int, float, bool, type(None))
_NONE: Any = object()


class Unusual(Exception):
    """The text needs PyYAML's full loader (a feature not handled here, or an error)."""


def load(text: str, loader_class: Any) -> Any:
    """The document in `text`, as `yaml.load(text, Loader=loader_class)` would return it.

    `loader_class` is a PyYAML loader built on the C parser with the safe constructor.
    Raises `Unusual`, or PyYAML's error for text that is not YAML.
    """
    loader = loader_class(text)
    try:
        return _build(loader)
    finally:
        loader.dispose()


def _build(loader: Any) -> Any:
    get = loader.get_event
    resolve = loader.resolve
    constructors = loader.yaml_constructors

    def scalar(tag: str, value: str) -> Any:
        if tag in AS_WRITTEN:
            return value
        if tag in CONSTRUCTED:
            return constructors[tag](loader, ScalarNode(tag, value))
        raise Unusual(tag)

    if type(get()) is not StreamStartEvent or type(get()) is not DocumentStartEvent:
        raise Unusual("no document")
    resolved: dict[tuple[str, Any], Any] = {}  # (value, implicit) -> the value built
    anchors: dict[str, Any] = {}
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # [container, is a map, key waiting for its value, anchor]
    value: Any = None
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                memo = (event.value, event.implicit)
                value = resolved.get(memo, _NONE)
                if value is _NONE:
                    tag = resolve(ScalarNode, event.value, event.implicit)
                    value = resolved[memo] = scalar(tag, event.value)
            else:
                value = scalar(tag, event.value)
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise Unusual("anchor defined twice")
                anchors[event.anchor] = value
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            is_map = kind is MappingStartEvent
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(MappingNode if is_map else SequenceNode, None, event.implicit)
            if tag != (MAP if is_map else SEQ):
                raise Unusual(tag)
            container: Any = {} if is_map else []
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise Unusual("anchor defined twice")
                anchors[event.anchor] = container
                open_anchors.add(event.anchor)
            stack.append([container, is_map, _NONE, event.anchor])
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value, _is_map, _key, anchor = stack.pop()
            open_anchors.discard(anchor)
        elif kind is AliasEvent:
            if event.anchor not in anchors or event.anchor in open_anchors:
                raise Unusual("alias to an unknown or enclosing anchor")
            value = anchors[event.anchor]
        else:
            raise Unusual(kind.__name__)
        if not stack:
            break
        top = stack[-1]
        if not top[1]:
            top[0].append(value)
        elif top[2] is _NONE:
            if type(value) not in KEY_TYPES:
                raise Unusual("a collection as a key")
            top[2] = value
        else:
            top[0][top[2]] = value
            top[2] = _NONE
    if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
        raise Unusual("more than one document")
    return value
