"""Rendering HTML pages with Jinja2 (autoescaping everything)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment: autoescape on, undefined variables are errors."""
    from jinja2 import StrictUndefined

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["datetime"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else ""
    env.filters["isodate"] = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ") if d else ""
    # Only for HTML that went through content.sanitize_html before it was stored.
    env.filters["sanitized"] = lambda html: Markup(html or "")
    return env


def render(template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    """A text/html response from ``template`` with ``context``."""
    html = environment().get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)
