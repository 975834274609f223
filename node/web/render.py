"""Rendering HTML pages with Jinja2 (autoescaping everything), and display-only HTML helpers."""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import datetime, timezone
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from node.web.request_keys import MEMBER

TEMPLATES = Path(__file__).parent / "templates"
MAX_HREF = 2048
MENTION_SCAN = 20_000  # characters of a comment searched for leading mentions
_NEWLINE = re.compile("\n")
# The request being answered, set by node.web.session's middleware (and cleared by the first
# middleware of every request): ``render`` takes the signed-in member and the CSRF token from it.
REQUEST: ContextVar[web.Request | None] = ContextVar("fednode_request", default=None)


def safe_href(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL fit for an ``href``; None otherwise.

    Autoescaping stops markup, not ``javascript:`` links: every URL that came
    from another server goes through this before it becomes a link.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_HREF:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return None
    return url


def interact_href(uri: str) -> str:
    """The local URL of the "reply from your own server" form for the object ``uri``."""
    return "/interact?" + urlencode({"uri": uri})


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, as forums say it: "just now", "5 minutes ago", "3 days ago", "2 years ago".

    Pages put the exact time beside it (``<time datetime>`` and its ``title``).  A time
    in the future (a sender's clock ahead of ours) reads "just now".
    """
    if moment is None:
        return ""
    seconds = ((now or datetime.now(timezone.utc)) - moment).total_seconds()
    for unit, size in _AGO_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


_AGO_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


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
    env.filters["safe_href"] = safe_href
    env.filters["interact_href"] = interact_href
    env.globals["csrf_token"] = _csrf_token
    env.filters["ago"] = ago
    return env


def _csrf_token() -> str:
    """``csrf_token()`` in templates: the hidden field's value for the request being answered."""
    from node.web.csrf import csrf_token

    request = REQUEST.get()
    if request is None:  # a fragment rendered outside a request (a cache fill) has no forms of its own
        raise RuntimeError("csrf_token() used outside a request: never put forms into cached fragments")
    return csrf_token(request)


def render(template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    """A text/html response from ``template`` with ``context``.

    Every page also gets ``current_member`` (``CurrentMember`` or None) and, through the
    ``csrf_token()`` global, the request's CSRF token.
    """
    request = REQUEST.get()
    context.setdefault("current_member", request.get(MEMBER) if request is not None else None)
    html = environment().get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)


# --- folding the mentions Mastodon puts at the start of every reply ---------------------------


class _Stop(Exception):
    """Ends the scan: the leading run of mentions is over."""


def _classes(attrs: list[tuple[str, str | None]]) -> set[str]:
    return {c for name, value in attrs if name == "class" and value for c in value.split()}


class _LeadingMentions(HTMLParser):
    """Scans sanitised HTML once, from the start, for a leading run of mention links.

    Records character offsets only; the caller cuts the string.  Parsing stops
    at the first thing that is neither a mention, whitespace, a ``<br>`` nor
    the opening ``<p>``, so the work is proportional to the prefix scanned.
    """

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        self.line_starts = [0, *(match.end() for match in _NEWLINE.finditer(html))]
        self.paragraph_start: int | None = None  # offset of the leading <p>
        self.first_mention: int | None = None
        self.mentions_end: int | None = None  # after the last mention and the blanks that follow it
        self.paragraph_end: int | None = None  # set when the leading <p> holds nothing but mentions
        self.stopped_on_content = False
        self._depth = 0  # tags open inside the current mention
        self._start = 0
        self._text: list[str] = []
        self._has_link = False

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _end_of_tag(self, start: int) -> int:
        close = self.html.find(">", start)
        return len(self.html) if close < 0 else close + 1

    def _content(self) -> None:
        self.stopped_on_content = True
        raise _Stop

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        if self._depth:
            self._depth += 1
            if tag == "a" and "mention" in _classes(attrs):
                self._has_link = True
            return
        classes = _classes(attrs)
        if tag == "p" and self.paragraph_start is None and self.first_mention is None:
            self.paragraph_start = start
        elif tag == "span" and "h-card" in classes or tag == "a" and "mention" in classes and "hashtag" not in classes:
            self._depth, self._start, self._text = 1, start, []
            self._has_link = tag == "a"
            if self.first_mention is None:
                self.first_mention = start
        elif tag == "br" and self.first_mention is not None:
            self.mentions_end = start + len(self.get_starttag_text() or "")
        else:
            self._content()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth or tag == "br":
            self.handle_starttag(tag, attrs)
            if self._depth:
                self._depth -= 1
            return
        self._content()

    def handle_endtag(self, tag: str) -> None:
        start = self._offset()
        if self._depth:
            self._depth -= 1
            if self._depth == 0:
                if not (self._has_link and "".join(self._text).lstrip().startswith("@")):
                    raise _Stop  # a hashtag or an h-card that is not a mention: leave it
                self.mentions_end = self._end_of_tag(start)
            return
        if tag == "p" and self.first_mention is not None and self.paragraph_start is not None:
            self.paragraph_end = self._end_of_tag(start)
        raise _Stop

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._text.append(data)
        elif data.strip():
            if self.mentions_end is not None:  # "@alice thanks": the blank after the mention goes too
                self.mentions_end = self._offset() + len(data) - len(data.lstrip())
            self._content()
        elif self.first_mention is not None:
            self.mentions_end = self._offset() + len(data)

    def handle_entityref(self, name: str) -> None:
        if self._depth:
            self._text.append(f"&{name};")
        else:
            self._content()

    def handle_charref(self, name: str) -> None:
        self.handle_entityref(f"#{name}")

    def handle_comment(self, data: str) -> None:
        raise _Stop

    def handle_decl(self, decl: str) -> None:
        raise _Stop

    def handle_pi(self, data: str) -> None:
        raise _Stop

    def unknown_decl(self, data: str) -> None:
        raise _Stop


def fold_leading_mentions(html: str | None) -> str:
    """``html`` without the @-mentions it starts with (Mastodon's "@alice @bob " reply prefix).

    Only a leading run is folded, and only when something else follows it: a
    reply that is nothing but mentions, and mentions inside the text, stay as
    they are.  The input must be sanitised HTML (``content.sanitize_html``).
    """
    if not html or "mention" not in html:
        return html or ""
    prefix = html[:MENTION_SCAN]  # a prefix cut mid-mention is simply not folded
    scan = _LeadingMentions(prefix)
    try:
        scan.feed(prefix)
        if len(prefix) == len(html):
            scan.close()  # only a whole text is flushed: a cut tag must not read as text
    except _Stop:
        pass
    if scan.first_mention is None or scan.mentions_end is None:
        return html
    if scan.stopped_on_content:
        return html[:scan.first_mention] + html[scan.mentions_end:]
    if scan.paragraph_end is not None and html[scan.paragraph_end:].strip():
        return html[:scan.paragraph_start] + html[scan.paragraph_end:]
    return html
