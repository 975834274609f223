"""Text in and out: Markdown posts with front matter, and HTML held to allowlists.

Everything we store from remote servers passes through ``sanitize_html``: the
tags, attributes, classes and link schemes that Mastodon keeps (its
``Sanitize::Config::MASTODON_STRICT``), so remote HTML can never carry script,
styles or event handlers into our pages.  The operator's own Markdown passes
through ``sanitize_article_html``, a wider list that keeps headings, pictures,
tables and code blocks (still no raw HTML, script, styles or handlers).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import nh3
import yaml
from markdown_it import MarkdownIt

from node.errors import NodeError

ALLOWED_TAGS = {
    "p", "span", "br", "a", "del", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "class"},
    "span": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
URL_SCHEMES = {
    "http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini",
}
_CLASS_PREFIXES = ("h-", "p-", "u-", "dt-", "e-")
_CLASS_NAMES = {"mention", "hashtag", "ellipsis", "invisible"}
LINK_REL = "nofollow noopener noreferrer"

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HASHTAG_RE = re.compile(r"^[^\W_][\w]{0,99}$")
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


class ContentError(NodeError):
    """A post cannot be published as written; the reason says what to fix."""


def _keep_class(tag: str, attribute: str, value: str) -> str | None:
    # Mastodon keeps only microformats classes and a few of its own (mention, hashtag...).
    if attribute != "class":
        return value
    kept = [c for c in value.split() if c in _CLASS_NAMES or c.startswith(_CLASS_PREFIXES)]
    return " ".join(kept) or None


def sanitize_html(html: str) -> str:
    """Reduce any HTML to Mastodon's allowlist; links get rel="nofollow noopener noreferrer"."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "template", "iframe", "object", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_class,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


# The operator's own articles keep the structure they were written with: headings,
# pictures, tables, rules and highlighted code.  Still an allowlist: no raw HTML, no
# script, no styles, no event handlers.  Remote HTML keeps Mastodon's list above.
ARTICLE_TAGS = ALLOWED_TAGS | {
    "h2", "h3", "h4", "h5", "h6", "img", "hr", "sup", "sub",
    "table", "thead", "tbody", "tr", "th", "td",
}
ARTICLE_ATTRIBUTES = {
    **ALLOWED_ATTRIBUTES,
    "a": {"href", "class", "title"},
    "img": {"src", "alt", "title", "loading"},
    "code": {"class"},
}
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")


def _keep_article_class(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class" and tag == "code":
        return " ".join(c for c in value.split() if _LANGUAGE_CLASS.match(c)) or None
    return _keep_class(tag, attribute, value)


def sanitize_article_html(html: str) -> str:
    """Reduce the HTML of an operator's article to ``ARTICLE_TAGS``.

    The site's own links carry no ``nofollow``: the operator vouches for what they link to.
    """
    return nh3.clean(
        html,
        tags=ARTICLE_TAGS,
        clean_content_tags={"script", "style", "template", "iframe", "object", "svg", "math"},
        attributes=ARTICLE_ATTRIBUTES,
        attribute_filter=_keep_article_class,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    rules = md.renderer.rules
    # The page's title is its only <h1>: a "# heading" in the text becomes an <h2>.
    def heading(tokens, idx, options, env):
        token = tokens[idx]
        level = max(2, int(token.tag[1]))
        return f"<h{level}>" if token.nesting == 1 else f"</h{level}>\n"
    rules["heading_open"] = heading
    rules["heading_close"] = heading
    def image(tokens, idx, options, env):
        token = tokens[idx]
        alt = md.renderer.renderInlineAsText(token.children or [], options, env)
        title = token.attrGet("title")
        titled = f' title="{_escape_attr(title)}"' if title else ""
        return f'<img src="{_escape_attr(token.attrGet("src") or "")}" alt="{_escape_attr(alt)}"{titled} loading="lazy">'
    rules["image"] = image
    rules["s_open"] = lambda tokens, idx, options, env: "<del>"  # Mastodon's tag for struck text
    rules["s_close"] = lambda tokens, idx, options, env: "</del>"
    return md


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;")


_MD = _markdown()


def _fediverse_markdown() -> MarkdownIt:
    """The renderer for what other servers receive: only what Mastodon keeps, so nothing is lost there."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    rules = md.renderer.rules
    # Mastodon drops headings' structure; bold paragraphs keep the emphasis instead of losing it.
    rules["heading_open"] = lambda tokens, idx, options, env: "<p><strong>"
    rules["heading_close"] = lambda tokens, idx, options, env: "</strong></p>\n"
    # Images are outside Mastodon's allowlist: a link to the picture, named by its alt text.
    def image(tokens, idx, options, env):
        token = tokens[idx]
        alt = md.renderer.renderInlineAsText(token.children or [], options, env) or "image"
        return f'<a href="{_escape_attr(token.attrGet("src") or "")}">{_escape_text(alt)}</a>'
    rules["image"] = image
    rules["hr"] = lambda tokens, idx, options, env: "<p>—</p>\n"
    return md


_FEDIVERSE_MD = _fediverse_markdown()


def render_markdown_for_fediverse(source: str) -> str:
    """The operator's Markdown as other servers get it: inside Mastodon's allowlist (``sanitize_html``)."""
    return sanitize_html(_FEDIVERSE_MD.render(source))


def render_markdown(source: str) -> str:
    """The operator's Markdown (CommonMark with tables and ~~strikethrough~~, raw HTML disabled) as sanitised HTML."""
    return sanitize_article_html(_MD.render(source))


def slugify(title: str) -> str:
    """A URL slug from a title: ASCII lowercase words joined by '-'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].strip("-")


# Who may reply to an article (node.moderation enforces it; convert advertises it).
REPLY_POLICIES = ("open", "followers", "approval", "closed")

FRONT_MATTER_FIELDS = ("title", "slug", "tags", "language", "replies", "replies_close_after_days",
                       "date", "description", "draft")
DESCRIPTION_MAX = 500


@dataclass(frozen=True)
class Draft:
    """An article as written: front matter fields plus the Markdown body."""

    title: str
    slug: str
    body: str
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    replies: str | None = None  # who may reply: open | followers | approval | closed (None: unchanged)
    replies_close_after_days: int | None = None  # closed this many days after publication (None: unchanged)
    # False when the slug was made from the title: then an existing article with that slug
    # belongs to another post, and is edited only when the author says so (--update).
    slug_given: bool = True
    date: datetime | None = None  # front matter `date`: when it was first published (backdating)
    description: str | None = None  # front matter `description`: a plain-text summary
    draft: bool = False  # front matter `draft: true`: not to be published yet


def parse_post(text: str, *, origin: str = "post") -> Draft:
    """Parse a Markdown file with YAML front matter between '---' lines into a Draft.

    Raises ContentError naming the field to fix (``origin`` is the file name).
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ContentError(f"{origin}: must start with front matter: a line '---', 'title: ...', then '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise ContentError(f"{origin}: front matter is not closed by a line '---'") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        # The usual cause is an unquoted title with ': ' in it, so say where and how to fix it.
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 2}" if mark is not None else ""  # +1 for 0-based, +1 for the '---'
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ContentError(
            f"{origin}: front matter is not valid YAML{where}: {problem} "
            "(put a value that contains ': ' or ' #' in quotes)"
        ) from None
    if not isinstance(meta, dict):
        raise ContentError(f"{origin}: front matter must be 'key: value' lines")
    unknown = sorted(set(meta) - set(FRONT_MATTER_FIELDS))
    if unknown:
        raise ContentError(f"{origin}: unknown front matter field(s): {', '.join(map(str, unknown))}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ContentError(f"{origin}: front matter needs a 'title'")
    slug = meta.get("slug")
    slug_given = slug is not None
    if slug is None:
        slug = slugify(title)
        if not slug:
            # Titles in non-Latin scripts have no ASCII letters to make a slug from.
            raise ContentError(f"{origin}: the title gives no URL slug; add a line such as 'slug: my-first-post'")
    if isinstance(slug, int) and not isinstance(slug, bool):
        slug = str(slug)  # YAML reads `slug: 2024` as a number
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 80:
        raise ContentError(f"{origin}: slug {slug!r} must be lowercase letters, digits and single '-' (at most 80)")
    tags = _parse_tags(meta.get("tags"), origin)
    language = meta.get("language")
    if language is not None and (not isinstance(language, str) or not LANGUAGE_RE.match(language)):
        raise ContentError(f"{origin}: language {language!r} must be a language tag such as 'en' or 'pt-BR'")
    replies = meta.get("replies")
    if replies is not None and replies not in REPLY_POLICIES:
        raise ContentError(f"{origin}: replies {replies!r} must be one of {', '.join(REPLY_POLICIES)}")
    close_after = meta.get("replies_close_after_days")
    if close_after is not None and (isinstance(close_after, bool) or not isinstance(close_after, int) or close_after < 0):
        raise ContentError(f"{origin}: replies_close_after_days {close_after!r} must be a number of days")
    body = "\n".join(lines[end + 1:]).strip("\n")
    if not body.strip():
        raise ContentError(f"{origin}: the article has no text after the front matter")
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        raise ContentError(f"{origin}: draft {draft!r} must be true or false")
    description = meta.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise ContentError(f"{origin}: description must be text (put it in quotes)")
        description = " ".join(description.split()) or None
        if description and len(description) > DESCRIPTION_MAX:
            raise ContentError(f"{origin}: description is {len(description)} characters; keep it under {DESCRIPTION_MAX}")
    return Draft(title=title.strip(), slug=slug, body=body, tags=tags, language=language, slug_given=slug_given,
                 replies=replies, replies_close_after_days=close_after,
                 date=_parse_date(meta.get("date"), origin), description=description, draft=draft)


def _parse_date(raw, origin: str) -> datetime | None:
    """Front matter ``date`` (YAML date or timestamp, or ISO 8601 text) as an aware UTC datetime.

    A date without a time is midnight UTC; a time without a zone is UTC. A date in the future
    is refused: publishing now with a later date would show a post "from the future".
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ContentError(f"{origin}: date {raw!r} must be a date such as 2024-05-01 or 2024-05-01T09:30:00Z") from None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        raw = datetime(raw.year, raw.month, raw.day)
    if not isinstance(raw, datetime):
        raise ContentError(f"{origin}: date {raw!r} must be a date such as 2024-05-01 or 2024-05-01T09:30:00Z")
    moment = raw.replace(tzinfo=timezone.utc) if raw.tzinfo is None else raw.astimezone(timezone.utc)
    if moment > datetime.now(timezone.utc):
        raise ContentError(f"{origin}: date {moment:%Y-%m-%d %H:%M} UTC is in the future; "
                           "publish it then, or keep it back with 'draft: true'")
    return moment


def _parse_tags(raw, origin: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[,\s]+", raw) if part]
    if not isinstance(raw, list):
        raise ContentError(f"{origin}: tags must be a list such as [fediverse, forums]")
    tags: list[str] = []
    for item in raw:
        tag = str(item).lstrip("#")
        if not HASHTAG_RE.match(tag):
            raise ContentError(f"{origin}: tag {item!r} must be letters, digits and _ (no spaces)")
        if tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return tags
