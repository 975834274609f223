"""Helpers for tests of the embed: a remote reply to a discussed page, delivered and applied.

Shared by the HTTP tests of the embed (tests/test_embed.py) and its browser tests
(tests/test_embed_browser.py), which both need comments under a post before they frame it.
"""

from __future__ import annotations

from tests.factories import reply_to
from tests.fakes.remote import signed_post


async def reply(http, node, remote_actor, in_reply_to: str, text: str) -> str:
    """A Mastodon reply to ``in_reply_to``, delivered and applied; its id."""
    create = reply_to(in_reply_to, remote_actor)
    create["object"]["content"] = f"<p>{text}</p>"
    status, _ = await signed_post(http, node.url("/inbox"), create, remote_actor)
    assert status == 202
    await node.node.processor.drain()
    return create["object"]["id"]
