"""Helpers for the API's tests: its published JSON Schemas, and GETs that return status, JSON and headers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "node" / "web" / "api_schema"


@cache
def registry() -> Registry:
    """Every published schema by its file name, so ``thread.json#/$defs/comment`` resolves."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        resources.append((path.name, Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for ``node/web/api_schema/<name>.json`` (every schema itself checked first)."""
    schema = registry()[f"{name}.json"].contents
    return Draft202012Validator(schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(name: str, body: Any) -> None:
    """Fail with every error when ``body`` does not match the published schema ``name``."""
    errors = sorted(validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


async def get_json(http, url: str, params=None, headers=None) -> tuple[int, Any, dict[str, str]]:
    """GET ``url``; (status, parsed JSON body, headers)."""
    async with http.get(url, params=params, headers=headers or {}) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)
