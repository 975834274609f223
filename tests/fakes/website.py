"""A fake news website on 127.0.0.1 for discussion tests: pages with canonical links and OpenGraph, redirects, traps.

Each route is scripted by the test (``page``, ``redirect``, ``slow``, ``raw``); every request is
recorded (path, query and headers) so a test can prove what was, or was not, fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from html import escape
from typing import AsyncIterator

from aiohttp import web

from tests.support import free_port, serving


def article_html(title: str, *, description: str | None = None, canonical: str | None = None,
                 og_url: str | None = None, site_name: str | None = None, alternate: str | None = None,
                 author: str | None = None, creator: str | None = None, published: str | None = None,
                 charset_meta: str | None = "utf-8", body: str = "<p>The article's text.</p>") -> str:
    """An article page shaped like a news site's: ``<head>`` metadata as WordPress/Yoast and Mastodon's previews read it."""
    head = [f'<meta charset="{charset_meta}">' if charset_meta else "", f"<title>{escape(title)} | News</title>"]
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    if alternate:
        head.append(f'<link rel="alternate" type="application/activity+json" href="{escape(alternate)}">')
    for prop, value in (("og:title", title), ("og:description", description), ("og:url", og_url),
                        ("og:site_name", site_name), ("article:published_time", published)):
        if value:
            head.append(f'<meta property="{prop}" content="{escape(value)}">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    if creator:
        head.append(f'<meta name="fediverse:creator" content="{escape(creator)}">')
    head.append('<meta property="og:image" content="https://cdn.news.example/lead.jpg">')
    return (f"<!doctype html><html><head>{''.join(head)}</head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None
    delay: float = 0.0
    trickle: bool = False  # send the body slowly, a chunk at a time
    headers: dict[str, str] = field(default_factory=dict)  # more response headers (a blog's CSP)


@dataclass
class FakeWebsite:
    """The scripted site; ``base`` is ``http://<host>:<port>`` (127.0.0.1 unless another loopback address is asked for)."""

    port: int
    host: str = "127.0.0.1"
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (path, query, headers)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, html: str, *, content_type: str = "text/html; charset=utf-8",
             encoding: str = "utf-8", headers: dict[str, str] | None = None) -> str:
        self.routes[path] = Route(body=html.encode(encoding), content_type=content_type, headers=headers or {})
        return self.url(path)

    def raw(self, path: str, body: bytes, *, content_type: str, status: int = 200) -> str:
        self.routes[path] = Route(status=status, body=body, content_type=content_type)
        return self.url(path)

    def redirect(self, path: str, to: str, *, status: int = 301) -> str:
        self.routes[path] = Route(status=status, location=to)
        return self.url(path)

    def slow(self, path: str, html: str, *, delay: float) -> str:
        self.routes[path] = Route(body=html.encode(), delay=delay, trickle=True)
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, request.query_string, dict(request.headers)))
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.location is not None:
            return web.Response(status=route.status, headers={"Location": route.location})
        if route.trickle:
            response = web.StreamResponse(status=route.status, headers={"Content-Type": route.content_type})
            await response.prepare(request)
            for start in range(0, len(route.body), 64):
                await asyncio.sleep(route.delay)
                await response.write(route.body[start:start + 64])
            await response.write_eof()
            return response
        return web.Response(status=route.status, body=route.body,
                            headers={"Content-Type": route.content_type, **route.headers})


@contextlib.asynccontextmanager
async def fake_website(host: str = "127.0.0.1") -> AsyncIterator[FakeWebsite]:
    """A FakeWebsite serving on a free port of ``host`` (a loopback address) until the block ends.

    Another loopback address than the node's (127.0.0.2) is another site to a browser: an
    embed test's blog frames the node cross-site, as a real blog does.
    """
    site = FakeWebsite(port=free_port(), host=host)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", site.handle)
    async with serving(app, site.port, host):
        yield site
