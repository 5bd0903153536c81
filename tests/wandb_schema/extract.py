"""Rebuild ``slice.json``: the fields and arguments W&B's own GraphQL queries use, by path.

W&B's GraphQL schema is not public; the queries its client sends are. They are read, never
run, from the installed ``wandb``:

- its Python sources: every string that holds a GraphQL definition. Queries built with an
  f-string, ``str.format``, ``+`` or ``", ".join`` are put together from what the module
  says their parts can be (constants, both arms of an ``if``, a parameter's arguments at
  the module's call sites, ``+=`` and ``.append`` taken all together);
- wandb-core (``wandb/bin/wandb-core``, Go): the operations it embeds as text.

``supplement.json`` adds, by hand, the fields of queries W&B wrote outside the wheel (its
Launch skill). Nothing here comes from this repository's own queries. Regenerate, from the
repository root, after upgrading wandb::

    .venv/bin/python -m tests.wandb_schema.extract

The output is deterministic (sorted), so a diff shows what a wandb release changed.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
    print_ast,
)

from .selections import SLICE, FragmentError, Selected, fragments_of, selected_fields

__all__ = [
    "SUPPLEMENT",
    "Document",
    "Evaluator",
    "Skipped",
    "build_slice",
    "dumps",
    "main",
    "python_documents",
    "site_packages",
]

SUPPLEMENT = Path(__file__).resolve().parent / "supplement.json"
CORE_BINARY = "wandb/bin/wandb-core"
# Where a GraphQL definition starts: an operation with a name, or a fragment.
DEFINITION = (
    r"(?:query|mutation|subscription)\s+[A-Za-z_]\w*\s*[({@]"
    r"|fragment\s+[A-Za-z_]\w*\s+on\s"
)
DEFINITION_TEXT = re.compile(r"(?<![\w$])(?:" + DEFINITION + ")")
DEFINITION_BYTES = re.compile(rb"(?<![\w$])(?:" + DEFINITION.encode() + rb")")
MAX_VARIANTS = 64  # texts one string expression may stand for; past that it is skipped
MAX_DEPTH = 8  # names followed through assignments and call sites
MAX_DEFINITION = 64 * 1024  # bytes of one definition in the binary


# -- sources ---------------------------------------------------------------------------------
@dataclass
class Document:
    """One GraphQL text W&B wrote, and where."""

    source: str  # file path relative to site-packages
    where: str  # "file:line" for a Python string, the file for the binary
    text: str


@dataclass
class Skipped:
    where: str
    reason: str


# -- Python: string expressions, put together from the module ----------------------------
Function = ast.FunctionDef | ast.AsyncFunctionDef


class Module:
    """One Python module of wandb, read as an AST."""

    def __init__(self, root: Path, path: Path, tree: ast.Module) -> None:
        self.root = root
        self.path = path
        self.tree = tree
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node

    @property
    def relative(self) -> str:
        return self.path.relative_to(self.root).as_posix()

    def function_of(self, node: ast.AST) -> Function | None:
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
                return parent
            parent = self.parents.get(parent)
        return None


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function or module body, without those of nested functions."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))


def _in_order(nodes: Iterator[ast.AST]) -> list[ast.AST]:
    return sorted(nodes, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))


@dataclass(frozen=True)
class Scope:
    module: Module
    function: Function | None


class Evaluator:
    """What text a string expression can have, read from the code around it, never run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[Path, Module | None] = {}

    def module(self, path: Path) -> Module | None:
        if path not in self.modules:
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except (OSError, SyntaxError, UnicodeDecodeError):
                self.modules[path] = None
            else:
                self.modules[path] = Module(self.root, path, tree)
        return self.modules[path]

    def values(self, node: ast.expr, scope: Scope, depth: int = 0) -> list[str] | None:
        """Every text ``node`` may stand for, or None when that cannot be told."""
        if depth > MAX_DEPTH:
            return None
        found = self._values(node, scope, depth)
        if found is None or len(found) > MAX_VARIANTS:
            return None
        return list(dict.fromkeys(found))

    def _values(self, node: ast.expr, scope: Scope, depth: int) -> list[str] | None:
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            parts = [self._formatted(part, scope, depth) for part in node.values]
            return _concatenations(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = [self.values(node.left, scope, depth), self.values(node.right, scope, depth)]
            return _concatenations(sides)
        if isinstance(node, ast.IfExp):
            body = self.values(node.body, scope, depth)
            orelse = self.values(node.orelse, scope, depth)
            return None if body is None or orelse is None else body + orelse
        if isinstance(node, ast.Name):
            return self._name(node.id, scope, depth + 1)
        if isinstance(node, ast.Call):
            return self._call(node, scope, depth)
        return None

    def _formatted(self, part: ast.expr, scope: Scope, depth: int) -> list[str] | None:
        if isinstance(part, ast.FormattedValue):
            if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                return None
            return self.values(part.value, scope, depth)
        return self.values(part, scope, depth)

    def _call(self, node: ast.Call, scope: Scope, depth: int) -> list[str] | None:
        func = node.func
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr == "format" and not any(isinstance(a, ast.Starred) for a in node.args):
            return self._format(node, func.value, scope, depth)
        if func.attr == "join" and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
            separators = self.values(func.value, scope, depth)
            items = self._list(node.args[0].id, scope, depth + 1)
            combos = None if items is None else _products(items)
            if separators is None or combos is None:
                return None
            return [sep.join(joined) for sep in separators for joined in combos]
        if func.attr in ("strip", "lstrip", "rstrip") and not node.args:
            texts = self.values(func.value, scope, depth)
            return None if texts is None else [getattr(t, func.attr)() for t in texts]
        return None

    def _format(
        self, node: ast.Call, template: ast.expr, scope: Scope, depth: int
    ) -> list[str] | None:
        templates = self.values(template, scope, depth)
        positional = [self.values(a, scope, depth) for a in node.args]
        named = [self.values(k.value, scope, depth) for k in node.keywords]
        names = [k.arg for k in node.keywords if k.arg is not None]
        combos = _products([*positional, *named])
        if templates is None or combos is None or len(names) < len(named):
            return None  # an unknown part, or ``**mapping``
        found: list[str] = []
        for text in templates:
            for values in combos:
                args = values[: len(positional)]
                kwargs = dict(zip(names, values[len(positional) :], strict=True))
                try:
                    found.append(text.format(*args, **kwargs))
                except (IndexError, KeyError, ValueError):
                    return None
        return found

    # -- names ---------------------------------------------------------------------------
    def _assignments(self, name: str, scope: ast.AST) -> tuple[list[ast.expr], list[ast.AST]]:
        """The plain assignments to ``name`` in a body, and what adds to it (in order)."""
        plain: list[ast.expr] = []
        added: list[ast.AST] = []
        for node in _in_order(_own_nodes(scope)):
            if isinstance(node, ast.Assign | ast.AnnAssign) and name in _targets(node):
                if node.value is not None:
                    plain.append(node.value)
            elif (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Add)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ) or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
            ):
                added.append(node)
        return plain, added

    def _binding(self, name: str, scope: Scope) -> tuple[Scope, list[ast.expr], list[ast.AST]]:
        """Where ``name`` is bound: the function, else the module (its assignments there)."""
        if scope.function is not None:
            plain, added = self._assignments(name, scope.function)
            if plain:
                return scope, plain, added
        plain, added = self._assignments(name, scope.module.tree)
        return Scope(scope.module, None), plain, added

    def _name(self, name: str, scope: Scope, depth: int) -> list[str] | None:
        if scope.function is not None and name in _parameters(scope.function):
            return self._parameter(name, scope, depth)
        bound, plain, added = self._binding(name, scope)
        if not plain:
            return self._imported(name, scope.module, depth)
        found: list[str] = []
        for value in plain:
            bases = self.values(value, bound, depth)
            if bases is None:
                return None
            found.extend(bases)
        if added:  # ``x += "…"`` in some branches: the text with all of them is the widest
            suffixes = [self._added_text(node, bound, depth) for node in added]
            whole = _concatenations([found, *suffixes])
            if whole is None:
                return None
            found.extend(whole)
        return found

    def _added_text(self, node: ast.AST, scope: Scope, depth: int) -> list[str] | None:
        if isinstance(node, ast.AugAssign):
            return self.values(node.value, scope, depth)
        return None  # .append on a string: not text

    def _list(self, name: str, scope: Scope, depth: int) -> list[list[str]] | None:
        """The items of a list of strings, each with its possible texts, all additions in."""
        bound, plain, added = self._binding(name, scope)
        if len(plain) != 1 or not isinstance(plain[0], ast.List):
            return None
        elements: list[ast.expr] = list(plain[0].elts)
        for node in added:
            if isinstance(node, ast.AugAssign) and isinstance(node.value, ast.List):
                elements.extend(node.value.elts)
            elif isinstance(node, ast.Call) and len(node.args) == 1:
                attr = node.func.attr if isinstance(node.func, ast.Attribute) else ""
                arg = node.args[0]
                if attr == "append":
                    elements.append(arg)
                elif attr == "extend" and isinstance(arg, ast.List):
                    elements.extend(arg.elts)
                else:
                    return None
            else:
                return None
        items: list[list[str]] = []
        for element in elements:
            texts = self.values(element, bound, depth)
            if texts is None:
                return None
            items.append(texts)
        return items

    def _parameter(self, name: str, scope: Scope, depth: int) -> list[str] | None:
        """A parameter's texts: what the module's call sites (and its default) pass."""
        function = scope.function
        assert function is not None
        arguments = function.args
        positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
        method = bool(positional) and positional[0] in ("self", "cls")
        found: list[str] = []
        # Defaults belong to the last positional parameters; every keyword-only one has a slot.
        defaults = dict(zip(reversed(positional), reversed(arguments.defaults), strict=False))
        keyword_defaults = zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        defaults.update((a.arg, d) for a, d in keyword_defaults if d is not None)
        if name in defaults:
            found.extend(self.values(defaults[name], Scope(scope.module, None), depth) or [])
        for call in ast.walk(scope.module.tree):
            if not isinstance(call, ast.Call) or _called_name(call) != function.name:
                continue
            passed = _argument(call, name, positional[1:] if method else positional)
            if passed is None:
                continue
            caller = Scope(scope.module, scope.module.function_of(call))
            found.extend(self.values(passed, caller, depth) or [])
        return found or None

    def _imported(self, name: str, module: Module, depth: int) -> list[str] | None:
        """A module-level string another wandb module defines (``from wandb.x import NAME``)."""
        for node in module.tree.body:
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("wandb") or name not in {
                alias.asname or alias.name for alias in node.names
            }:
                continue
            original = next(a.name for a in node.names if (a.asname or a.name) == name)
            base = self.root.joinpath(*node.module.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                other = self.module(candidate) if candidate.exists() else None
                if other is not None:
                    return self._name(original, Scope(other, None), depth + 1)
        return None


def _targets(node: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _parameters(function: Function) -> set[str]:
    arguments = function.args
    return {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, name: str, positional: Sequence[str]) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if name in positional:
        index = list(positional).index(name)
        args = call.args
        if index < len(args) and not any(isinstance(a, ast.Starred) for a in args[: index + 1]):
            return args[index]
    return None


def _products(parts: Sequence[list[str] | None]) -> list[tuple[str, ...]] | None:
    """Every choice of one text per part; None when a part is unknown or there are too many."""
    known = [part for part in parts if part is not None]
    if len(known) < len(parts) or math.prod(len(part) for part in known) > MAX_VARIANTS:
        return None
    return list(itertools.product(*known))


def _concatenations(parts: Sequence[list[str] | None]) -> list[str] | None:
    combos = _products(parts)
    return None if combos is None else ["".join(combo) for combo in combos]


def _is_statement_string(node: ast.AST, module: Module) -> bool:
    """A docstring or any other string standing alone as a statement: text, not a query."""
    return isinstance(module.parents.get(node), ast.Expr)


def _outermost(node: ast.expr, module: Module) -> ast.expr:
    """The whole string expression a literal is a piece of (f-string, ``+``, ``.format``)."""
    while True:
        parent = module.parents.get(node)
        if isinstance(parent, ast.JoinedStr | ast.FormattedValue | ast.IfExp) or (
            isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add)
        ):
            node = parent
            continue
        grandparent = module.parents.get(parent) if parent is not None else None
        if (
            isinstance(parent, ast.Attribute)
            and parent.attr in ("format", "strip", "lstrip", "rstrip")
            and isinstance(grandparent, ast.Call)
            and grandparent.func is parent
        ):
            node = grandparent
            continue
        return node


def python_documents(
    root: Path, evaluator: Evaluator, package: str = "wandb"
) -> Iterator[Document | Skipped]:
    """The GraphQL texts in a package's Python sources, each string expression once."""
    for path in sorted((root / package).rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not DEFINITION_TEXT.search(text):
            continue
        module = evaluator.module(path)
        if module is None:
            continue
        seen: set[ast.expr] = set()
        literals = [
            node
            for node in ast.walk(module.tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DEFINITION_TEXT.search(node.value)
            and not _is_statement_string(node, module)
        ]
        literals.sort(key=lambda n: (n.lineno, n.col_offset))
        for literal in literals:
            expression = _outermost(literal, module)
            if expression in seen:
                continue
            seen.add(expression)
            where = f"{module.relative}:{expression.lineno}"
            scope = Scope(module, module.function_of(expression))
            texts = evaluator.values(expression, scope)
            if texts is None:
                yield Skipped(where, "cannot tell what text this expression makes")
                continue
            for text in texts:
                if DEFINITION_TEXT.search(text):
                    yield Document(module.relative, where, text)


# -- wandb-core: operations embedded as text -------------------------------------------------
def _definition_end(data: bytes, start: int) -> int | None:
    """Where the definition starting at ``start`` ends: its outermost ``}``, or None."""
    depth, opened, index = 0, False, start
    end = min(len(data), start + MAX_DEFINITION)
    while index < end:
        byte = data[index]
        if byte == ord("#"):
            index = data.find(b"\n", index, end)
            if index < 0:
                return None
        elif byte == ord('"'):
            block = data.startswith(b'"""', index)
            after = _string_end(data, index + (3 if block else 1), end, block)
            if after is None:
                return None
            index = after
            continue
        elif byte == ord("{"):
            depth, opened = depth + 1, True
        elif byte == ord("}"):
            depth -= 1
            if opened and depth == 0:
                return index + 1
        elif not (32 <= byte < 127 or byte in (9, 10, 13)):
            return None  # left the text: not a definition
        index += 1
    return None


def _string_end(data: bytes, index: int, end: int, block: bool) -> int | None:
    close = b'"""' if block else b'"'
    while index < end:
        if data[index] == ord("\\"):
            index += 2
        elif data.startswith(close, index):
            return index + len(close)
        elif not block and data[index] == ord("\n"):
            return None
        else:
            index += 1
    return None


def binary_documents(root: Path) -> Iterator[Document]:
    """Each GraphQL definition wandb-core embeds, as its own document."""
    path = root / CORE_BINARY
    if not path.exists():
        return
    data = path.read_bytes()
    for match in DEFINITION_BYTES.finditer(data):
        end = _definition_end(data, match.start())
        if end is not None:
            text = data[match.start() : end].decode("ascii")
            yield Document(CORE_BINARY, CORE_BINARY, text)


# -- the slice -------------------------------------------------------------------------------
@dataclass
class Entry:
    sources: set[str] = field(default_factory=set)  # selected with no type condition
    on: dict[str, set[str]] = field(default_factory=dict)  # type condition → sources
    arguments: dict[str, set[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "arguments": {name: sorted(s) for name, s in sorted(self.arguments.items())},
            "from": sorted(self.sources),
            "on": {name: sorted(s) for name, s in sorted(self.on.items())},
        }


@dataclass
class SliceBuilder:
    paths: dict[str, dict[str, Entry]] = field(default_factory=dict)
    operations: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)

    def add(self, selected: Selected, source: str) -> None:
        label = f"{source}, {selected.operation}"
        self.operations.add(label)
        entry = self.paths.setdefault(selected.path, {}).setdefault(selected.field, Entry())
        if selected.on is None:
            entry.sources.add(label)
        else:
            entry.on.setdefault(selected.on, set()).add(label)
        for argument in selected.arguments:
            entry.arguments.setdefault(argument, set()).add(label)

    def as_json(self, version: str) -> dict[str, Any]:
        fields = sum(len(f) for f in self.paths.values())
        return {
            "about": (
                "Generated by tests/wandb_schema/extract.py from the installed wandb and "
                "supplement.json: do not edit. paths: selection path → field → where W&B's "
                "queries select it ('from': with no type condition; 'on': inside '... on "
                "Type') and the arguments they pass it, each with its sources (file "
                "relative to site-packages, operation)."
            ),
            "counts": {
                "fields": fields,
                "operations": len(self.operations),
                "paths": len(self.paths),
            },
            "operations": sorted(self.operations),
            "paths": {
                path: {name: entry.as_json() for name, entry in sorted(entries.items())}
                for path, entries in sorted(self.paths.items())
            },
            "skipped": sorted(self.skipped),
            "wandb": version,
        }


Parsed = list[tuple[Document, DocumentNode]]


def _parsed(documents: Sequence[Document], builder: SliceBuilder) -> Parsed:
    parsed: Parsed = []
    texts: set[tuple[str, str]] = set()
    for document in documents:
        if (document.source, document.text) in texts:
            continue
        texts.add((document.source, document.text))
        try:
            parsed.append((document, parse(document.text, no_location=True)))
        except GraphQLSyntaxError as exc:
            builder.skipped.add(f"{document.where}: {exc.message}")
    return parsed


def _pool(parsed: Parsed) -> dict[str, list[FragmentDefinitionNode]]:
    """Fragments by name, each distinct definition once (spreads resolve against them)."""
    pool: dict[str, dict[str, FragmentDefinitionNode]] = {}
    for _, node in parsed:
        for name, definitions in fragments_of(node).items():
            for definition in definitions:
                pool.setdefault(name, {})[print_ast(definition)] = definition
    return {name: [d for _, d in sorted(found.items())] for name, found in pool.items()}


def _add_documents(documents: Sequence[Document], builder: SliceBuilder) -> None:
    """Adds every operation; a spread resolves in its document, its file, then anywhere."""
    parsed = _parsed(documents, builder)
    everywhere = _pool(parsed)
    by_file = {
        source: _pool([p for p in parsed if p[0].source == source])
        for source in {d.source for d, _ in parsed}
    }
    for document, node in parsed:
        if not any(isinstance(d, OperationDefinitionNode) for d in node.definitions):
            continue
        fragments = {**everywhere, **by_file[document.source]}
        try:
            selected = list(selected_fields(node, fragments))
        except FragmentError as exc:
            builder.skipped.add(f"{document.where}: {exc}")
            continue
        for one in selected:
            builder.add(one, document.source)


def _add_supplement(path: Path, builder: SliceBuilder) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for operation in data["operations"]:
        for at, fields in operation["fields"].items():
            for name, arguments in fields.items():
                one = Selected(operation["operation"], at, name, tuple(arguments), None)
                builder.add(one, operation["source"])


def site_packages() -> Path:
    """The folder the installed wandb lives in (found without importing it)."""
    spec = importlib.util.find_spec("wandb")
    if spec is None or spec.origin is None:
        raise SystemExit("wandb is not installed")
    return Path(spec.origin).resolve().parent.parent


def build_slice(root: Path | None = None, supplement: Path = SUPPLEMENT) -> dict[str, Any]:
    """The slice for the wandb installed under ``root`` (site-packages), as JSON data."""
    root = root or site_packages()
    builder = SliceBuilder()
    python: list[Document] = []
    for found in python_documents(root, Evaluator(root)):
        if isinstance(found, Skipped):
            builder.skipped.add(f"{found.where}: {found.reason}")
        else:
            python.append(found)
    _add_documents(python, builder)
    _add_documents(list(binary_documents(root)), builder)
    _add_supplement(supplement, builder)
    return builder.as_json(importlib.metadata.version("wandb"))


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SLICE, help="where to write the slice")
    args = parser.parse_args(argv)
    data = build_slice()
    args.out.write_text(dumps(data), encoding="utf-8")
    counts = data["counts"]
    print(
        f"{args.out}: wandb {data['wandb']}, {counts['operations']} operations, "
        f"{counts['paths']} paths, {counts['fields']} fields, {len(data['skipped'])} skipped"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
