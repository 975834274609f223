"""Atom feeds (RFC 4287) as bytes: a feed's head and its entries, built with ElementTree.

Pure: callers hand in plain values.  ElementTree escapes every text and attribute, so a
title like ``<b>&`` stays text; an entry's content is HTML the node already sanitised
(``node.content``), carried as ``type="html"`` (escaped HTML, RFC 4287 section 3.1.1.2),
which every feed reader renders through its own sanitiser as well.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from node.api.thread_json import timestamp

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
GENERATOR = "Fednode"


@dataclass(frozen=True)
class Author:
    name: str
    uri: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str  # the comment's or article's ActivityPub id: permanent, an IRI (RFC 4287 4.2.6)
    title: str
    link: str  # where a person reads it
    published: datetime
    updated: datetime
    author: Author
    content_html: str
    summary: str | None = None


@dataclass(frozen=True)
class Feed:
    id: str  # the feed's own URL
    title: str
    self_url: str
    alternate: str  # the HTML page the feed follows
    updated: datetime  # the newest entry's, or when the subject began when there are none
    subtitle: str | None = None
    entries: list[Entry] = field(default_factory=list)


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def render(feed: Feed) -> bytes:
    """The feed as UTF-8 Atom XML."""
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    if feed.subtitle:
        _text(root, "subtitle", feed.subtitle)
    _text(root, "updated", timestamp(feed.updated))
    ET.SubElement(root, "link", {"rel": "self", "type": MEDIA_TYPE, "href": feed.self_url})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": feed.alternate})
    _text(root, "generator", GENERATOR)
    for item in feed.entries:
        entry = ET.SubElement(root, "entry")
        _text(entry, "id", item.id)
        _text(entry, "title", item.title)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": item.link})
        _text(entry, "published", timestamp(item.published))
        _text(entry, "updated", timestamp(item.updated))
        author = ET.SubElement(entry, "author")
        _text(author, "name", item.author.name)
        if item.author.uri:
            _text(author, "uri", item.author.uri)
        if item.summary:
            _text(entry, "summary", item.summary)
        _text(entry, "content", item.content_html, type="html")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
