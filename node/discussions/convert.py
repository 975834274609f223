"""A link thread as ActivityStreams: a ``Page`` about an external page (FEP-8967), pure like node.federation.convert."""

from __future__ import annotations

from html import escape
from typing import Any

from node.db.models import Actor, DiscussionDocument, Object
from node.federation.convert import iso, replies_ref
from node.federation.vocab import CONTEXT, PUBLIC
from node.urls import Urls


def link_thread_html(document: DiscussionDocument) -> str:
    """The thread's ``content``: which page it discusses, and the page's own description (all escaped)."""
    title = escape(document.title or document.canonical_url)
    site = f" ({escape(document.site_name)})" if document.site_name else ""
    html = f'<p>A discussion of <a href="{escape(document.canonical_url)}">{title}</a>{site}</p>'
    if document.description:
        html += f"<p>{escape(document.description)}</p>"
    return html


def link_thread_to_ap(thread: Object, document: DiscussionDocument, opener: Actor, site: Actor, urls: Urls) -> dict[str, Any]:
    """The link thread: ``url`` the page, a ``Link`` attachment to it, ``name``/``summary`` its title and description."""
    page = document.canonical_url
    audience_cc = [site.followers] if opener.ap_id == site.ap_id else [opener.followers, site.followers]
    result: dict[str, Any] = {
        "@context": CONTEXT,
        "id": thread.ap_id,
        "type": "Page",
        "name": document.title or page,
        "content": thread.content,
        "mediaType": "text/html",
        "url": page,
        "attachment": [{"type": "Link", "href": page, "mediaType": "text/html", "name": document.title or page}],
        "attributedTo": opener.ap_id,
        "audience": site.ap_id,
        "to": [PUBLIC],
        "cc": [cc for cc in audience_cc if cc],
        "published": iso(thread.published),
        "updated": iso(thread.updated or thread.published),
        "replies": replies_ref(thread.ap_id, urls, thread.replies_count),
        "context": thread.context,
        "tag": [],
        "sensitive": False,
    }
    if document.description:
        result["summary"] = escape(document.description)
    return result
