"""The fields a GraphQL document selects, by path, and the schema slice that checks them.

A *path* says where a field sits: the operation type, then the names (never the aliases) of
the fields above it, e.g. ``query.project.runQueue`` for ``runQueueItems``. A named
fragment counts as if its selections were written where it is spread. A field inside an
inline fragment (``... on Run { … }``) keeps that type condition, so the slice can tell a
field W&B selects on every node from one it selects only on some type of node.

The check knows names only: a field, or an argument of a field, that no query W&B wrote
asks for on that path is refused. Variable types, values and directives are not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

__all__ = [
    "SLICE",
    "FragmentError",
    "SchemaSlice",
    "Selected",
    "fragments_of",
    "selected_fields",
]

SLICE = Path(__file__).resolve().parent / "slice.json"
ALWAYS_VALID = frozenset({"__typename"})  # GraphQL's meta field, valid on every object type

Fragments = Mapping[str, Sequence[FragmentDefinitionNode]]


@dataclass(frozen=True)
class Selected:
    """One field of one operation, where it sits and how it is asked for."""

    operation: str  # the operation's name; "(anonymous)" when it has none
    path: str  # e.g. "query.project.runQueue"
    field: str  # e.g. "runQueueItems"
    arguments: tuple[str, ...]  # the argument names given, e.g. ("first",)
    on: str | None  # the type condition of the inline fragment around it, if any


class FragmentError(ValueError):
    """A spread names a fragment nobody defined."""


def fragments_of(document: DocumentNode) -> dict[str, list[FragmentDefinitionNode]]:
    """The fragments a document defines, by name."""
    found: dict[str, list[FragmentDefinitionNode]] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            found.setdefault(definition.name.value, []).append(definition)
    return found


def operation_name(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name else "(anonymous)"


def selected_fields(
    document: DocumentNode, fragments: Fragments | None = None
) -> Iterator[Selected]:
    """Every field of every operation in ``document``, fragments expanded.

    A spread is resolved against the document's own fragments first, then ``fragments``
    (several definitions under one name are all expanded). Raises ``FragmentError`` for a
    spread neither defines.
    """
    own = fragments_of(document)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk = _Walk(operation_name(definition), own, fragments or {})
            yield from walk.selection_set(definition.selection_set, definition.operation.value)


@dataclass(frozen=True)
class _Walk:
    operation: str
    own: Fragments
    extra: Fragments

    def selection_set(
        self,
        selections: SelectionSetNode,
        path: str,
        on: str | None = None,
        spreading: frozenset[str] = frozenset(),
    ) -> Iterator[Selected]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                arguments = tuple(argument.name.value for argument in selection.arguments or ())
                yield Selected(self.operation, path, name, arguments, on)
                if selection.selection_set is not None:
                    yield from self.selection_set(selection.selection_set, f"{path}.{name}")
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = condition.name.value if condition is not None else on
                yield from self.selection_set(selection.selection_set, path, inner, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spreading:  # a cycle: invalid GraphQL, and nothing more to see
                    continue
                definitions = self.own.get(name) or self.extra.get(name)
                if not definitions:
                    raise FragmentError(f'Unknown fragment "{name}" in {self.operation}.')
                for fragment in definitions:
                    yield from self.selection_set(
                        fragment.selection_set, path, on, spreading | {name}
                    )


class SchemaSlice:
    """The fields and arguments W&B's own queries use on each path (``slice.json``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.paths: Mapping[str, Mapping[str, Any]] = data["paths"]
        self._checked: dict[str, tuple[str, ...]] = {}  # query text → its problems

    @classmethod
    def load(cls, path: Path = SLICE) -> SchemaSlice:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def problems(self, query: str) -> tuple[str, ...]:
        """Why W&B would refuse ``query`` (nothing when the slice allows all of it).

        Answers are kept by query text: clients send the same few queries again and again.
        """
        known = self._checked.get(query)
        if known is None:
            known = self._check(query)
            self._checked[query] = known
        return known

    def _check(self, query: str) -> tuple[str, ...]:
        try:
            document = parse(query, no_location=True)
            selected = list(selected_fields(document))
        except (GraphQLSyntaxError, FragmentError) as exc:
            return (exc.message if isinstance(exc, GraphQLSyntaxError) else str(exc),)
        found: list[str] = []
        refused: list[str] = []  # fields refused: what is under them is not told again
        for field in selected:
            if any(field.path == r or field.path.startswith(f"{r}.") for r in refused):
                continue
            unknown = self.unknown_field(field)
            if unknown is not None:
                refused.append(f"{field.path}.{field.field}")
            problem = unknown or self.unknown_argument(field)
            if problem is not None and problem not in found:
                found.append(problem)
        return tuple(found)

    def _entry(self, field: Selected) -> Mapping[str, Any] | None:
        entry: Mapping[str, Any] | None = self.paths.get(field.path, {}).get(field.field)
        return entry

    def unknown_field(self, field: Selected) -> str | None:
        """Why the slice refuses a selected field, or None when W&B selects it there."""
        if field.field in ALWAYS_VALID:
            return None
        entry = self._entry(field)
        typed = entry is not None and field.on is not None and field.on in entry["on"]
        if entry is not None and (entry["from"] or typed):
            return None
        where = f" inside ... on {field.on}" if field.on else ""
        return (
            f'Cannot query field "{field.field}" on path {field.path}{where}: '
            "no query W&B wrote selects it there"
        )

    def unknown_argument(self, field: Selected) -> str | None:
        """Why the slice refuses an argument of a known field, or None."""
        entry = self._entry(field)
        for argument in field.arguments:
            if entry is not None and argument not in entry["arguments"]:
                return (
                    f'Unknown argument "{argument}" on field "{field.field}" at path '
                    f"{field.path}: no query W&B wrote passes it"
                )
        return None
