"""Pure: what a web page's ``<head>`` says about itself (canonical URL, OpenGraph, author, ActivityPub alternate).

Parsed with the standard library's tolerant ``html.parser``; only the ``<head>`` is read (parsing
stops at ``<body>``), every value comes back as plain text cut to a bounded length, and every URL
is made absolute against the page's own address.  Nothing here is trusted: ``resolve`` decides which
claims to believe (a canonical URL only within the page's own site).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

MAX_TITLE = 300
MAX_DESCRIPTION = 1000
MAX_NAME = 200
_SPACE = re.compile(r"\s+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
AP_TYPES = ("application/activity+json", "application/ld+json")


@dataclass(frozen=True)
class PageMeta:
    """The claims a page makes about itself; every field may be None."""

    title: str | None = None
    description: str | None = None
    site_name: str | None = None
    canonical: str | None = None  # <link rel="canonical">
    og_url: str | None = None
    author: str | None = None
    creator: str | None = None  # <meta name="fediverse:creator" content="@user@host"> (Mastodon)
    published: str | None = None  # as written (article:published_time...); parsed by the caller
    activitypub: str | None = None  # <link rel="alternate" type="application/activity+json">


def text(value: str | None, limit: int) -> str | None:
    """Plain text with whitespace collapsed, cut to ``limit`` characters; None when empty."""
    if not value:
        return None
    cleaned = _SPACE.sub(" ", value).strip()
    cleaned = "".join(ch for ch in cleaned if ch.isprintable())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned or None


def absolute_http(base: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base``, when it is an http(s) URL; else None."""
    if not href:
        return None
    try:
        joined = urljoin(base, href.strip())
        scheme = urlsplit(joined).scheme
    except ValueError:
        return None
    return joined if scheme in ("http", "https") else None


def declared_charset(head: bytes) -> str | None:
    """The charset a ``<meta charset>`` or ``http-equiv`` declares in the first bytes, if any."""
    match = _CHARSET.search(head[:4096])
    return match.group(1).decode("ascii", "replace").lower() if match else None


class _Head(HTMLParser):
    """Collects ``<title>``, ``<meta>`` and ``<link>`` of the head; stops at ``<body>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.title: list[str] = []
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "body":
            self.done = True
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop") or "").strip().lower()
            if key and "content" in values and key not in self.meta:
                self.meta[key] = values["content"]
        elif tag == "link":
            self.links.append(values)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done and sum(map(len, self.title)) < 4 * MAX_TITLE:
            self.title.append(data)


def read_meta(html: str, page_url: str) -> PageMeta:
    """The claims in ``html`` (the page at ``page_url``) about itself."""
    parser = _Head()
    # Feed in slices so a page without <body> or </head> is not parsed past what it needs.
    for start in range(0, len(html), 16_384):
        parser.feed(html[start:start + 16_384])
        if parser.done:
            break
    meta = parser.meta
    canonical = alternate = None
    for link in parser.links:
        rels = link.get("rel", "").lower().split()
        kind = link.get("type", "").split(";")[0].strip().lower()
        if "canonical" in rels and canonical is None:
            canonical = absolute_http(page_url, link.get("href"))
        elif "alternate" in rels and kind in AP_TYPES and alternate is None:
            if kind == "application/activity+json" or "activitystreams" in link.get("type", ""):
                alternate = absolute_http(page_url, link.get("href"))
    return PageMeta(
        title=text(meta.get("og:title") or meta.get("twitter:title") or "".join(parser.title), MAX_TITLE),
        description=text(meta.get("og:description") or meta.get("description") or meta.get("twitter:description"),
                         MAX_DESCRIPTION),
        site_name=text(meta.get("og:site_name") or meta.get("application-name"), MAX_NAME),
        canonical=canonical,
        og_url=absolute_http(page_url, meta.get("og:url")),
        author=text(meta.get("author") or meta.get("article:author") or meta.get("byl"), MAX_NAME),
        creator=text(meta.get("fediverse:creator"), MAX_NAME),
        published=text(meta.get("article:published_time") or meta.get("datepublished") or meta.get("date")
                       or meta.get("dc.date.issued"), 64),
        activitypub=alternate,
    )
