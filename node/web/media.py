"""The media proxy: remote comments' images, served from this node so readers never load them from elsewhere.

``GET /media/<comment id>/<n>`` answers the ``n``-th attachment of a comment we
show, when it is an image.  Hot-linking would tell every sender's server who reads
which page, and let it swap the picture after the fact; instead the node fetches
the image itself, through the same guard as every other outgoing request
(``node.federation.fetch``: no private addresses unless ``allow_private_network``,
no blocked domains, bounded redirects and time), keeps only raster images
(``IMAGE_TYPES``; SVG can carry script) of at most ``media_max_bytes``, and
serves them with a sandboxing CSP.  Anything else is a 404 with a reason; the
page's ``<img>`` then shows its description inside a link to the original.
Recently served images are kept in memory (``CACHE_BYTES``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace

from aiohttp import web

from node import __version__
from node.app import NODE, Node, fetch_policy
from node.db import discussion as db_discussion
from node.db import queries
from node.errors import FetchError
from node.federation.fetch import Fetcher
from node.web.attachments import attachment_list, parse_attachment

log = logging.getLogger("fednode.web")

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})
CACHE_BYTES = 16 * 1024 * 1024
MAX_ID_DIGITS = 18
FETCH_SECONDS = 15


class MediaProxy:
    """The proxy's own fetcher (images have their own size limit) and its memory of recent images."""

    def __init__(self) -> None:
        self._fetcher: Fetcher | None = None
        self._images: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._size = 0

    def fetcher(self, node: Node) -> Fetcher:
        if self._fetcher is None:
            settings = node.settings
            policy = replace(fetch_policy(settings), max_bytes=settings.media_max_bytes, total_timeout=FETCH_SECONDS)
            self._fetcher = Fetcher(policy, user_agent=f"Fednode/{__version__} (+{settings.base}/)")
        return self._fetcher

    def remembered(self, url: str) -> tuple[str, bytes] | None:
        found = self._images.get(url)
        if found is not None:
            self._images.move_to_end(url)
        return found

    def remember(self, url: str, content_type: str, body: bytes) -> None:
        if len(body) > CACHE_BYTES // 4 or url in self._images:
            return
        self._images[url] = (content_type, body)
        self._size += len(body)
        while self._size > CACHE_BYTES:
            _, (_, dropped) = self._images.popitem(last=False)
            self._size -= len(dropped)

    async def close(self) -> None:
        if self._fetcher is not None:
            await self._fetcher.close()
            self._fetcher = None


MEDIA = web.AppKey("media_proxy", MediaProxy)


def _number(raw: str, what: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_ID_DIGITS:
        raise web.HTTPBadRequest(reason=f"{what} must be a number")
    return int(raw)


def _not_here(reason: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(reason=reason)


async def media(request: web.Request) -> web.Response:
    """``GET /media/{object_id}/{index}``: an image attached to a comment shown here, fetched by the node."""
    node = request.app[NODE]
    object_id = _number(request.match_info["object_id"], "the comment")
    index = _number(request.match_info["index"], "the attachment")
    async with node.sessions() as session:
        comment = await queries.get_object_by_id(session, object_id)
    if (comment is None or comment.is_local or comment.deleted_at is not None
            or not db_discussion.is_shown(comment)):
        raise _not_here("No image here")
    items = attachment_list(comment.raw)
    attachment = parse_attachment(index, items[index]) if index < len(items) else None
    if attachment is None or not attachment.is_image:
        raise _not_here("No image here")
    proxy = request.app[MEDIA]
    found = proxy.remembered(attachment.href)
    if found is None:
        try:
            fetched = await proxy.fetcher(node).get(attachment.href, accept="image/*", signed=False)
        except FetchError as exc:
            log.info("media proxy: %s not served: %s", attachment.href[:200], exc.reason[:200])
            raise _not_here("The image could not be fetched") from None
        content_type = fetched.content_type.split(";", 1)[0].strip().lower()
        if content_type not in IMAGE_TYPES:
            raise _not_here("Not an image")
        found = (content_type, fetched.body)
        proxy.remember(attachment.href, *found)
    content_type, body = found
    return web.Response(body=body, content_type=content_type, headers={
        "Cache-Control": "public, max-age=86400",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": "inline",
    })
