"""Pictures, files and polls in remote comments: shown with their descriptions, images only through the media proxy."""

from __future__ import annotations

import os
import struct
import zlib
from datetime import datetime, timezone

import pytest

from node.content import Draft
from node.db import queries
from node.db.models import Object
from node.services.publish import publish_article
from tests.fakes.remote import fake_remote
from tests.support import make_settings, running_node

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def png(width: int, height: int, *, noise: bool = False) -> bytes:
    """A real PNG image (``noise`` makes it incompressible, so its size follows its dimensions)."""
    row = (lambda: os.urandom(3 * width)) if noise else (lambda: b"\x80\x40\x20" * width)
    raw = b"".join(b"\x00" + row() for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


async def open_node(tmp_path, **overrides):
    return running_node(make_settings(tmp_path, **overrides))


async def store(node, document: dict) -> Object:
    """Store a remote comment under the article "topic" straight in the database (the inbox path is tested elsewhere)."""
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, node.url("/articles/topic"))
        if root is None:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
            root = await queries.get_object(session, node.url("/articles/topic"))
        actor = await queries.get_actor(session, document["attributedTo"]) or await queries.upsert_remote_actor(session, {
            "ap_id": document["attributedTo"], "ap_type": "Person", "username": "alice", "domain": "remote.example"})
        comment = Object(
            ap_id=document["id"], ap_type=document["type"], kind="comment", is_local=False, actor_id=actor.id,
            content=document.get("content", ""), in_reply_to=root.ap_id, parent_id=root.id, root_id=root.id,
            visibility="public", published=T0, raw=document)
        session.add(comment)
        await session.flush()
        return comment


def mastodon_note(base: str, number: int, content: str, attachments: list[dict]) -> dict:
    """A Note as Mastodon 4.3 sends it with media (ActivityPub::NoteSerializer: Document, mediaType, name = alt text)."""
    return {
        "id": f"{base}/users/alice/statuses/{number}", "type": "Note", "attributedTo": f"{base}/users/alice",
        "content": content, "published": "2026-11-24T10:00:00Z", "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "attachment": attachments,
    }


def image(url: str, alt: str | None, *, media_type: str = "image/png") -> dict:
    return {"type": "Document", "mediaType": media_type, "url": url, "name": alt, "blurhash": "UBL_:rOpGG-oBUNG",
            "focalPoint": [0.0, 0.0], "width": 320, "height": 200}


async def get(http, url: str):
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_an_image_is_shown_with_its_alt_text_through_the_proxy(tmp_path, http):
    """A Mastodon reply's picture is an <img> with its description, loaded from /media/, never from the sender."""
    async with fake_remote() as remote, await open_node(tmp_path) as node:
        # Given a reply with a picture and its description
        picture = remote.serve("/files/cat.png", png(4, 3), content_type="image/png")
        comment = await store(node, mastodon_note(remote.base, 1, "<p>Look</p>", [image(picture, "A cat asleep on a keyboard")]))
        # When the page and the image's proxy address are read
        _, _, html = await get(http, node.url("/articles/topic"))
        status, content_type, body = await get(http, node.url(f"/media/{comment.id}/0"))
    # Then the page shows the picture from this node, described, and the proxy passes on the very bytes
    text = html.decode()
    assert f'<img src="/media/{comment.id}/0" alt="A cat asleep on a keyboard"' in text
    assert f'src="{remote.base}' not in text
    assert (status, content_type, body) == (200, "image/png", png(4, 3))
    assert "/files/cat.png" in remote.gets


async def test_an_image_only_reply_is_not_an_empty_comment(tmp_path, http):
    """A Misskey reply with a picture and no text shows the picture (Misskey sends name: null for no description)."""
    async with fake_remote() as remote, await open_node(tmp_path) as node:
        # Given a reply with an undescribed picture and no text
        picture = remote.serve("/files/photo.jpg", png(2, 2), content_type="image/png")
        comment = await store(node, mastodon_note(remote.base, 2, "", [
            {"type": "Document", "mediaType": "image/jpeg", "url": picture, "name": None, "sensitive": False}]))
        # When the page is read
        _, _, html = await get(http, node.url("/articles/topic"))
    # Then the comment holds the picture
    text = html.decode()
    block = text[text.index(f'id="c-{comment.id}"'):]
    assert f'<img src="/media/{comment.id}/0" alt=""' in block.split("</li>")[0]
    assert "(no text)" not in text


async def test_an_image_over_the_size_limit_is_refused_and_stays_a_link(tmp_path, http):
    """With media_max_bytes = 2048, a 30 KB picture is not served; the page still links to it with its description."""
    async with fake_remote() as remote, await open_node(tmp_path, media_max_bytes=2048) as node:
        # Given a reply with a big picture
        big = png(100, 100, noise=True)
        assert len(big) > 20_000
        picture = remote.serve("/files/big.png", big, content_type="image/png")
        comment = await store(node, mastodon_note(remote.base, 3, "<p>big</p>", [image(picture, "A large map")]))
        # When the proxy is asked for it, and the page is read
        status, _, _ = await get(http, node.url(f"/media/{comment.id}/0"))
        _, _, html = await get(http, node.url("/articles/topic"))
    # Then it is refused with a 4xx, and the page links the original, described
    assert status == 404
    assert f'<a href="{picture}" rel="nofollow noopener noreferrer"><img src="/media/{comment.id}/0" alt="A large map"' in html.decode()


async def test_the_proxy_never_fetches_from_a_private_address(tmp_path, http):
    """Without allow_private_network, an image on 127.0.0.1 is not fetched at all."""
    async with fake_remote() as remote, await open_node(tmp_path, allow_private_network=False) as node:
        # Given a reply whose picture lives on a loopback address
        picture = remote.serve("/files/inside.png", png(2, 2), content_type="image/png")
        comment = await store(node, mastodon_note(remote.base, 4, "<p>x</p>", [image(picture, "inside")]))
        # When the proxy is asked for it
        status, _, _ = await get(http, node.url(f"/media/{comment.id}/0"))
    # Then it refuses, and the address was never contacted
    assert status == 404
    assert "/files/inside.png" not in remote.gets


async def test_something_that_is_not_an_image_is_not_passed_on(tmp_path, http):
    """An "image" URL that answers with HTML is refused: the proxy passes on images only."""
    async with fake_remote() as remote, await open_node(tmp_path) as node:
        # Given a picture whose address serves a web page
        fake = remote.serve("/files/fake.png", "<script>alert(1)</script>", content_type="text/html")
        comment = await store(node, mastodon_note(remote.base, 5, "<p>x</p>", [image(fake, "fake")]))
        # When the proxy is asked for it
        status, content_type, body = await get(http, node.url(f"/media/{comment.id}/0"))
    # Then it is refused
    assert status == 404 and b"alert" not in body


async def test_files_and_svg_are_links_not_images(tmp_path, http):
    """A video and an SVG are links named by their description; the proxy serves neither."""
    async with fake_remote() as remote, await open_node(tmp_path) as node:
        # Given a reply with a video and an SVG (PeerTube-like Link url for the video)
        comment = await store(node, mastodon_note(remote.base, 6, "<p>files</p>", [
            {"type": "Document", "mediaType": "video/mp4", "name": "Our talk",
             "url": [{"type": "Link", "mediaType": "video/mp4", "href": f"{remote.base}/files/talk.mp4"}]},
            image(f"{remote.base}/files/logo.svg", "Logo", media_type="image/svg+xml"),
        ]))
        # When the page and the proxy are read
        _, _, html = await get(http, node.url("/articles/topic"))
        statuses = [(await get(http, node.url(f"/media/{comment.id}/{n}")))[0] for n in (0, 1)]
    # Then both are links, and neither is proxied
    text = html.decode()
    assert f'<a href="{remote.base}/files/talk.mp4" rel="nofollow noopener noreferrer">Our talk</a>' in text
    assert f'<a href="{remote.base}/files/logo.svg" rel="nofollow noopener noreferrer">Logo</a>' in text
    assert "<img" not in text and statuses == [404, 404]


async def test_a_poll_shows_its_options_with_their_votes(tmp_path, http):
    """A Mastodon poll (Question with oneOf) shows each option with its votes and share, and the voters."""
    async with await open_node(tmp_path) as node:
        # Given a poll reply as Mastodon sends it
        base = "https://remote.example"
        question = {
            "id": f"{base}/users/alice/statuses/7", "type": "Question", "attributedTo": f"{base}/users/alice",
            "content": "<p>Tabs or spaces?</p>", "endTime": "2026-12-04T10:00:00Z", "votersCount": 7,
            "oneOf": [
                {"type": "Note", "name": "Tabs", "replies": {"type": "Collection", "totalItems": 4}},
                {"type": "Note", "name": "Spaces", "replies": {"type": "Collection", "totalItems": 3}},
            ],
        }
        await store(node, question)
        # When the page is read
        _, _, html = await get(http, node.url("/articles/topic"))
    # Then both options are there with their votes, and who voted
    text = html.decode()
    assert '<span class="option">Tabs</span> <span class="votes">4 votes · 57 %</span>' in text
    assert '<span class="option">Spaces</span> <span class="votes">3 votes · 43 %</span>' in text
    assert "7 people voted" in text


@pytest.mark.parametrize("path", ["/media/1/99", "/media/999999/0", "/media/1/0"])
async def test_the_proxy_answers_404_for_anything_not_an_attached_image(node, http, path):
    """No such comment, no such attachment, or an article: 404, never a fetch or a 5xx."""
    # Given a node with its site actors and nothing else (object 1 does not exist or is no comment)
    # When the proxy is asked
    status, _, _ = await get(http, node.url(path))
    # Then
    assert status == 404
