"""The JSON Schemas of docs/schemas/, for tests that validate real outputs against them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .helpers import REPO_ROOT

SCHEMAS = REPO_ROOT / "docs" / "schemas"

__all__ = ["SCHEMAS", "assert_valid", "problems", "validator"]


@cache
def _registry() -> Registry:
    """Every schema by its file name: one may refer to another (``comparison.schema.json``)."""
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in sorted(SCHEMAS.glob("*.schema.json"))
    ]
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def problems(name: str, data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(data)
    ]


def assert_valid(name: str, data: Any) -> None:
    found = problems(name, data)
    assert found == [], f"{name}.schema.json: {found[:5]}"
