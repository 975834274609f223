"""What a comment carries besides its text: attachments (images with their descriptions, files) and poll options.

Read from the stored ActivityStreams document (``Object.raw``) as Mastodon, Misskey,
Pleroma, Lemmy and PeerTube send them:

- ``attachment``: a ``Document``/``Image``/``Link`` or a list of them, each with a
  ``url`` (a string, a ``Link`` with ``href``, or a list of those), a ``mediaType``
  and a ``name`` (the description: Mastodon's alt text);
- a ``Question``'s ``oneOf``/``anyOf``: ``Note``s whose ``name`` is the option and
  ``replies.totalItems`` its votes (Mastodon, Misskey, Pleroma).

Images are shown through the media proxy (``/media/<comment id>/<n>``,
``node.web.media``): a reader's browser never loads anything from the sender's server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.web.render import safe_href

MAX_ATTACHMENTS = 8
MAX_OPTIONS = 20
MAX_TEXT = 1500  # characters of a description or an option shown


@dataclass(frozen=True)
class Attachment:
    """One attachment: an image shown through the proxy, or a link to a file."""

    index: int  # its position in the document's ``attachment`` list (the proxy's key)
    href: str  # where it lives (http(s))
    media_type: str
    description: str  # the sender's alt text, or "" when there is none
    is_image: bool
    width: int | None = None
    height: int | None = None

    @property
    def label(self) -> str:
        """What a link to it says: its description, else the file's name."""
        if self.description:
            return self.description
        name = self.href.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        return name[:80] or "attachment"


@dataclass(frozen=True)
class PollOption:
    """One answer of a poll and how many voted for it."""

    name: str
    votes: int


@dataclass(frozen=True)
class Poll:
    """A poll's options with their votes, whether one or several could be chosen, and whether it is closed."""

    options: tuple[PollOption, ...]
    multiple: bool
    voters: int | None
    closed: bool

    @property
    def total(self) -> int:
        return sum(option.votes for option in self.options)


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _first_url(value: Any) -> tuple[str | None, str]:
    """(the first http(s) URL, its mediaType if the Link says) of a ``url`` value."""
    items = value if isinstance(value, list) else [value]
    for item in items[:MAX_ATTACHMENTS]:
        if isinstance(item, str) and safe_href(item):
            return item, ""
        if isinstance(item, dict) and safe_href(item.get("href")):
            media_type = item.get("mediaType") if isinstance(item.get("mediaType"), str) else ""
            return item["href"], media_type
    return None, ""


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000 else None


def attachment_list(raw: Any) -> list[Any]:
    """The document's ``attachment`` entries as a list (the proxy's indexes count in it)."""
    if not isinstance(raw, dict):
        return []
    value = raw.get("attachment")
    items = value if isinstance(value, list) else [value] if value is not None else []
    return items[:MAX_ATTACHMENTS]


def parse_attachment(index: int, item: Any) -> Attachment | None:
    """One entry of ``attachment``; None for anything without an http(s) URL (or a PropertyValue)."""
    if not isinstance(item, dict) or item.get("type") == "PropertyValue":
        return None
    href, link_type = _first_url(item.get("url"))
    if href is None:
        href, link_type = _first_url(item.get("href"))
    if href is None:
        return None
    media_type = item.get("mediaType") if isinstance(item.get("mediaType"), str) else link_type
    is_image = media_type.startswith("image/") or (not media_type and item.get("type") == "Image")
    if media_type == "image/svg+xml":
        is_image = False  # a script carrier; linked, never inlined
    return Attachment(index, href, media_type or "", _text(item.get("name")), is_image,
                      _dimension(item.get("width")), _dimension(item.get("height")))


def attachments_of(comment: Any) -> tuple[Attachment, ...]:
    """The attachments of a stored comment worth showing, images and links, in the sender's order."""
    if getattr(comment, "is_local", False):
        return ()
    found = (parse_attachment(i, item) for i, item in enumerate(attachment_list(comment.raw)))
    return tuple(a for a in found if a is not None)


def poll_of(comment: Any) -> Poll | None:
    """The poll of a ``Question``, or None."""
    raw = comment.raw if isinstance(comment.raw, dict) else {}
    if raw.get("type") != "Question":
        return None
    multiple = "anyOf" in raw and "oneOf" not in raw
    choices = raw.get("anyOf") if multiple else raw.get("oneOf")
    if not isinstance(choices, list):
        return None
    options = []
    for choice in choices[:MAX_OPTIONS]:
        if not isinstance(choice, dict) or not _text(choice.get("name")):
            continue
        replies = choice.get("replies") if isinstance(choice.get("replies"), dict) else {}
        votes = replies.get("totalItems")
        options.append(PollOption(_text(choice.get("name")), votes if isinstance(votes, int) and votes >= 0 else 0))
    if not options:
        return None
    voters = raw.get("votersCount")
    return Poll(tuple(options), multiple, voters if isinstance(voters, int) and voters >= 0 else None,
                closed=bool(raw.get("closed")))
