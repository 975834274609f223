"""Discovery documents: WebFinger (RFC 7033), host-meta (XRD) and NodeInfo 2.0/2.1."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from node import __version__
from node.db.models import Actor
from node.federation.vocab import ACTIVITY_JSON
from node.urls import Urls

NODEINFO_VERSIONS = ("2.0", "2.1")


def parse_acct(resource: str, local_host: str) -> str | None:
    """The username in ``acct:user@host`` (or ``user@host``) when host is ours, else None.

    Raises ValueError when the resource is malformed.
    """
    text = resource.strip()
    if text.startswith("acct:"):
        text = text[5:]
    text = text.lstrip("@")
    user, sep, host = text.rpartition("@")
    if not sep or not user or not host or "@" in user or "/" in host:
        raise ValueError("resource must look like acct:user@host")
    return user.lower() if host.lower() == local_host.lower() else None


def webfinger_jrd(actor: Actor, urls: Urls, host: str) -> dict[str, Any]:
    """The JRD for a local actor; ``subject`` is acct:<preferredUsername>@<host> (Mastodon's reverse check)."""
    links: list[dict[str, str]] = [
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor.ap_id},
    ]
    if actor.ap_type != "Application":
        links.insert(0, {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": actor.url})
        links.append({"rel": "http://ostatus.org/schema/1.0/subscribe", "template": urls.authorize_interaction})
    aliases = [actor.ap_id] if actor.url in (None, actor.ap_id) else [actor.url, actor.ap_id]
    return {"subject": f"acct:{actor.username}@{host}", "aliases": aliases, "links": links}


def host_meta_xrd(urls: Urls) -> str:
    """host-meta pointing at our WebFinger endpoint (legacy, still asked by some servers)."""
    template = escape(f"{urls.base}/.well-known/webfinger?resource={{uri}}", {'"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/jrd+json" template="{template}"/>\n'
        "</XRD>\n"
    )


def nodeinfo_links(urls: Urls) -> dict[str, Any]:
    """``/.well-known/nodeinfo``: where each schema version lives."""
    return {
        "links": [
            {"rel": f"http://nodeinfo.diaspora.software/ns/schema/{v}", "href": f"{urls.base}/nodeinfo/{v}"}
            for v in NODEINFO_VERSIONS
        ]
    }


def nodeinfo_document(
    version: str, *, users_total: int, active_month: int, active_halfyear: int, local_posts: int,
    open_registrations: bool, node_name: str,
) -> dict[str, Any]:
    """A NodeInfo 2.0 or 2.1 document with real usage counts."""
    # 2.1 adds optional repository/homepage; we publish none rather than a guess.
    software: dict[str, str] = {"name": "fednode", "version": __version__}
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {"total": users_total, "activeMonth": active_month, "activeHalfyear": active_halfyear},
            "localPosts": local_posts,
        },
        "metadata": {"nodeName": node_name},
    }
