"""Cut the few GitHub REST operations the harness uses out of GitHub's OpenAPI description.

GitHub publishes its REST API as OpenAPI 3.0 (github/rest-api-description); npm
``@octokit/openapi`` ships it as ``generated/api.github.com.json`` (13 MB). The test server
(``tests/servers/github_server.py``) validates its traffic against the operations listed in
``OPERATIONS`` and builds its answers from the examples there, so only those operations and
everything their ``$ref`` chains reach are kept: ``api.github.com.extract.json`` (~200 KB).

Regenerate by hand, after changing ``OPERATIONS`` or the pinned version::

    npm install --no-save --prefix /tmp/octo @octokit/openapi@23.0.2
    python tests/github_openapi/extract.py \\
        /tmp/octo/node_modules/@octokit/openapi/generated/api.github.com.json

The output is deterministic (sorted keys, indent 1), so a diff shows exactly what a new
version of the description changed. This script never touches the network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PACKAGE = "@octokit/openapi"
VERSION = "23.0.2"  # keep in step with the npm command in the docstring
OUTPUT = Path(__file__).resolve().parent / "api.github.com.extract.json"

# (method, path template) exactly as the description spells them.
OPERATIONS: list[tuple[str, str]] = [
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("delete", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/user"),
]

# Path-item keys that are not operations but apply to all of them.
PATH_ITEM_SHARED = ("parameters", "servers", "summary", "description")


def _pointer(document: dict[str, Any], ref: str) -> Any:
    """The node a local JSON pointer (``#/components/schemas/x``) names."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> set[str]:
    """Every ``$ref`` string inside ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _set(document: dict[str, Any], ref: str, value: Any) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def extract(full: dict[str, Any], operations: list[tuple[str, str]]) -> dict[str, Any]:
    """A valid OpenAPI document holding only ``operations`` and what they reference."""
    paths: dict[str, dict[str, Any]] = {}
    for method, template in operations:
        item = full["paths"][template]
        kept = paths.setdefault(template, {k: item[k] for k in PATH_ITEM_SHARED if k in item})
        kept[method] = item[method]

    out: dict[str, Any] = {
        "openapi": full["openapi"],
        "info": {
            **full["info"],
            "x-extracted-from": f"{PACKAGE}@{VERSION} generated/api.github.com.json",
            "x-extracted-operations": [f"{m.upper()} {p}" for m, p in operations],
        },
        "servers": full.get("servers", []),
        "paths": paths,
    }
    if "security" in full:
        out["security"] = full["security"]
    if "securitySchemes" in full.get("components", {}):
        out.setdefault("components", {})["securitySchemes"] = full["components"]["securitySchemes"]

    seen: set[str] = set()
    pending = sorted(_refs(paths))
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        target = _pointer(full, ref)
        _set(out, ref, target)
        pending.extend(sorted(_refs(target) - seen))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extract the harness's GitHub operations.")
    parser.add_argument("source", type=Path, help="generated/api.github.com.json")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    full = json.loads(args.source.read_text(encoding="utf-8"))
    if full.get("info", {}).get("version") != VERSION:
        print(
            f"warning: {args.source} is version {full.get('info', {}).get('version')}, "
            f"expected {VERSION}; update VERSION and the docstring",
            file=sys.stderr,
        )
    text = json.dumps(extract(full, OPERATIONS), indent=1, sort_keys=True, ensure_ascii=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"{args.output}: {len(text.encode()) // 1024} KB, {len(OPERATIONS)} operations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
