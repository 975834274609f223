"""Content negotiation: one URL answers HTML to browsers and ActivityStreams to servers."""

from __future__ import annotations

from aiohttp import web

from node.federation.vocab import AS_NS


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str], float]]:
    ranges = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        ranges.append((media, params, quality))
    return ranges


def wants_activity_json(request: web.Request) -> bool:
    """True when the client prefers ActivityStreams JSON over HTML.

    ``application/activity+json`` and ``application/ld+json`` (with or without the
    ActivityStreams profile, as Mastodon sends it) count as ActivityStreams.
    """
    best_as = best_html = -1.0
    for media, params, quality in _media_ranges(request.headers.get("Accept", "")):
        if media == "application/activity+json":
            best_as = max(best_as, quality)
        elif media == "application/ld+json":
            profile = params.get("profile", AS_NS)
            if AS_NS in profile.split():
                best_as = max(best_as, quality)
        elif media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, quality)
    return best_as > 0 and best_as >= best_html
