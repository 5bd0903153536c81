"""Outside data parsed within bounds: YAML without alias bombs, JSON without deep nesting,
and values shown in errors without being expanded.

A harness.yaml comes from any pushed branch, so it is read as hostile: under 500 bytes of
nested aliases (``a: &a [x, x]``, ``b: &b [*a, *a]``, ...) stand for billions of nodes,
which PyYAML builds as shared references but anything that walks or prints them expands.
``parse_yaml`` counts the document's nodes as if every alias were a copy (one pass over
the composed graph, remembering each node's size) and refuses past ``MAX_YAML_NODES``, or
past ``MAX_YAML_DEPTH`` levels, or a recursive alias, before any Python value is built.
``shown`` is the ``repr`` every error message uses for a value from outside: bounded in
size and depth, whatever the value holds. Core: no I/O.
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

import yaml

__all__ = [
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "DataError",
    "parse_json",
    "parse_yaml",
    "shown",
]

MAX_YAML_NODES = 50_000  # a long harness.yaml has a few hundred
MAX_YAML_DEPTH = 64
MAX_SHOWN = 120

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = MAX_SHOWN, MAX_SHOWN, 40


class DataError(ValueError):
    """Outside data that cannot be parsed within bounds; its message is one short line."""


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, never walking more than a few levels
    and items (a value from outside may be huge, deep or full of shared references)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails: its type says enough
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that checks each composed document's size before constructing it."""

    def compose_document(self) -> yaml.Node | None:
        node: yaml.Node | None = super().compose_document()
        if node is not None:
            _check_size(node)
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_size(root: yaml.Node) -> None:
    """Expanded node count and depth of ``root``, in one pass over the composed graph
    (each node once, however many aliases point at it)."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (nodes, depth), aliases expanded
    going: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            going.discard(key)
            parts = [sizes[id(child)] for child in _children(node)]
            nodes = 1 + sum(n for n, _ in parts)
            depth = 1 + max((d for _, d in parts), default=0)
            if nodes > MAX_YAML_NODES:
                raise DataError(f"more than {MAX_YAML_NODES} values once its aliases are expanded")
            if depth > MAX_YAML_DEPTH:
                raise DataError(f"nested deeper than {MAX_YAML_DEPTH} levels")
            sizes[key] = (nodes, depth)
            continue
        if key in sizes:
            continue
        if key in going:
            raise DataError("an alias refers to a value that contains it")
        going.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in going:
                raise DataError("an alias refers to a value that contains it")
            if id(child) not in sizes:
                stack.append((child, False))


def parse_yaml(text: str) -> Any:
    """The YAML document in ``text``; DataError (one line) when it is too big or too deep,
    yaml.YAMLError when it is not YAML."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader
    except RecursionError as exc:  # the composer recurses per level
        raise DataError(f"nested deeper than {MAX_YAML_DEPTH} levels") from exc
    except (DataError, yaml.YAMLError):
        raise
    except (ValueError, OverflowError) as exc:  # a constructor's: 2001-02-30, 5,000 digits
        raise DataError(f"a value cannot be read: {shown(str(exc), 80)}") from exc


def parse_json(text: str) -> Any:
    """JSON from outside; DataError (one line) when it is not JSON or nests too deeply."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise DataError("not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise DataError(f"not valid JSON: {shown(str(exc), 80)}") from exc
