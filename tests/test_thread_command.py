"""``fednode thread``: a discussion as a numbered tree in the terminal, with what is still being fetched."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pytest

from node import commands
from node.app import open_node
from node.content import Draft
from node.db import queries
from node.db.models import CrawlState, Object, PendingReply
from node.services.publish import publish_article
from tests.support import make_settings
from tests.cli_support import fednode

BASE = "https://forum.example.org"
REMOTE = "https://remote.example"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
LONG = "word " * 40


@pytest.fixture
def settings(tmp_path):
    """Settings of a production-like node in a temporary folder (nothing listens)."""
    return make_settings(tmp_path, base_url=BASE, allow_http=False, allow_private_network=False)


def flags(settings) -> list[str]:
    return ["--base-url", settings.base_url, "--database-url", settings.database_url, "--keys-dir", settings.keys_dir]


async def remote_actor(session, name: str):
    return await queries.upsert_remote_actor(session, {
        "ap_id": f"{REMOTE}/users/{name}", "ap_type": "Person", "username": name, "domain": "remote.example",
    })


def reply(actor, parent: Object, root: Object, minutes: int, html: str | None, **extra) -> Object:
    """A remote comment row under ``parent``."""
    return Object(
        ap_id=f"{REMOTE}/users/{actor.username}/statuses/{minutes}", ap_type="Note", kind="comment",
        is_local=False, actor_id=actor.id, content=html, in_reply_to=parent.ap_id, parent_id=parent.id,
        root_id=root.id, context=root.context, visibility=extra.pop("visibility", "public"),
        published=T0 + timedelta(minutes=minutes), raw={}, **extra,
    )


@pytest.fixture
async def prepared(settings):
    """A database holding the article "topic" with a small remote discussion, a parked reply and a crawl schedule."""
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            editor = await queries.get_local_actor(session, "editor")
            root = (await publish_article(session, settings, Draft("Topic", "topic", "Let us talk."), editor)).article
            alice, bob, carol, dave = [await remote_actor(session, n) for n in ("alice", "bob", "carol", "dave")]
            first = reply(alice, root, root, 1, "<p>First! <b>bold</b> &amp; more</p>")
            session.add(first)
            await session.flush()
            second = reply(bob, first, root, 2, "<p>a reply</p>", updated=T0 + timedelta(minutes=30))
            session.add(second)
            await session.flush()
            session.add(reply(carol, second, root, 3, None, deleted_at=T0 + timedelta(minutes=40)))
            session.add(reply(dave, root, root, 4, "<p>for friends</p>", visibility="followers"))
            session.add(reply(alice, root, root, 5, f"<p>{LONG}</p>"))
            session.add(PendingReply(ap_id=f"{REMOTE}/users/bob/statuses/99", in_reply_to=f"{REMOTE}/users/erin/statuses/7",
                                     actor_ap_id=bob.ap_id, raw={"context": root.context}))
            session.add(PendingReply(ap_id=f"{REMOTE}/users/bob/statuses/98", in_reply_to=f"{REMOTE}/elsewhere",
                                     actor_ap_id=bob.ap_id, raw={"context": f"{REMOTE}/contexts/other"}))
            session.add(CrawlState(root_id=root.id, next_crawl_at=T0 + timedelta(hours=2), interval_seconds=600,
                                   last_crawled_at=T0 + timedelta(hours=1), last_found=2,
                                   last_error="other.example: answered 500", last_activity_at=T0, created_at=T0))
    finally:
        await node.close()
    return settings


async def test_thread_prints_the_numbered_tree_with_markers(prepared, tmp_path):
    """`python -m node thread topic` prints the title, then each comment numbered, indented and marked."""
    # Given a database with a discussion under "topic"
    # When the command runs in a subprocess
    result = fednode(tmp_path, "thread", "topic", *flags(prepared))
    # Then the tree is printed as flatten numbers it, with authors, times, text and markers
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Topic"
    assert "  1  @alice@remote.example  2026-11-24 10:01 UTC  First! bold & more" in lines
    assert "    1.1  @bob@remote.example  2026-11-24 10:02 UTC  a reply  [edited]" in lines
    assert "      1.1.1  @carol@remote.example  2026-11-24 10:03 UTC  [deleted]" in lines
    assert "  2  @dave@remote.example  2026-11-24 10:04 UTC  for friends  [followers-only]" in lines


async def test_thread_cuts_long_text_to_sixty_characters(prepared, tmp_path):
    """A long comment is shown by its first 60 characters, ending with an ellipsis."""
    # Given a comment of 200 characters
    # When the thread is printed
    result = fednode(tmp_path, "thread", "topic", *flags(prepared))
    # Then its line ends with 60 characters of its text
    line = next(line for line in result.stdout.splitlines() if line.startswith("  3  "))
    text = line.split("UTC  ", 1)[1]
    assert len(text) <= 60 and text.endswith("…") and text.startswith("word word")


async def test_thread_lists_what_is_still_being_fetched(prepared, capsys):
    """After the tree: the parked replies of this thread (not others'), then the crawl schedule."""
    # Given a parked reply naming the thread's context, one of another conversation, and a crawl schedule
    # When the command runs in this process
    status = await commands.thread(argparse.Namespace(article="topic"), prepared)
    out = capsys.readouterr().out
    # Then they follow "still being fetched:"
    assert status == 0
    tail = out.split("still being fetched:\n", 1)[1].splitlines()
    assert tail == [
        f"  {REMOTE}/users/bob/statuses/99 by {REMOTE}/users/bob waits for its parent {REMOTE}/users/erin/statuses/7",
        "  crawl: next at 2026-11-24 12:00 UTC",
        "  last crawl: 2026-11-24 11:00 UTC, found 2",
        "  last error: other.example: answered 500",
    ]


async def test_thread_of_a_remote_article_is_found_by_its_url(settings, capsys):
    """A remote article has no slug: its URL names it."""
    # Given a remote article with one comment
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            author = await remote_actor(session, "site")
            article = Object(ap_id=f"{REMOTE}/articles/42", ap_type="Article", kind="article", is_local=False,
                             actor_id=author.id, name="Remote topic", content="<p>x</p>", url=f"{REMOTE}/a/42",
                             published=T0, raw={})
            session.add(article)
            await session.flush()
            session.add(reply(author, article, article, 1, "<p>hello</p>"))
    finally:
        await node.close()
    # When the command is given the article's URL
    await commands.thread(argparse.Namespace(article=f"{REMOTE}/a/42"), settings)
    out = capsys.readouterr().out.splitlines()
    # Then it prints that thread, saying it is remote and not crawled yet
    assert out[0] == "Remote topic"
    assert out[1].startswith(f"{REMOTE}/a/42 (remote)  by @site@remote.example")
    assert "  1  @site@remote.example  2026-11-24 10:01 UTC  hello" in out
    assert "  crawl: not scheduled (no remote comment yet)" in out


async def test_thread_of_an_unknown_article_fails_with_a_reason(settings, tmp_path):
    """An unknown slug exits 2 and says what it expected."""
    # Given a node without such an article
    # When the command asks for it
    result = fednode(tmp_path, "thread", "nope", *flags(settings))
    # Then it refuses, naming the slug
    assert result.returncode == 2
    assert "no article 'nope'" in result.stderr


async def test_thread_folds_leading_mentions_as_the_page_does(settings, tmp_path):
    """A Mastodon reply starting "@forum thanks" reads "thanks" (as on the page); a mention inside stays "@bob"."""
    # Given replies in Mastodon's mention markup
    mention = ('<span class="h-card" translate="no"><a href="{url}" class="u-url mention">@<span>{name}</span></a>'
               '</span>')
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            editor = await queries.get_local_actor(session, "editor")
            root = (await publish_article(session, settings, Draft("Topic", "topic", "Let us talk."), editor)).article
            alice = await remote_actor(session, "alice")
            session.add(reply(alice, root, root, 1,
                              f"<p>{mention.format(url=BASE + '/actors/forum', name='forum')} thanks for this</p>"))
            session.add(reply(alice, root, root, 2,
                              f"<p>I agree with {mention.format(url=REMOTE + '/users/bob', name='bob')}</p>"))
    finally:
        await node.close()
    # When the thread is printed
    result = fednode(tmp_path, "thread", "topic", *flags(settings))
    # Then the leading mention is folded and the inner one reads as written
    assert result.returncode == 0, result.stderr
    assert "  1  @alice@remote.example  2026-11-24 10:01 UTC  thanks for this" in result.stdout.splitlines()
    assert "  2  @alice@remote.example  2026-11-24 10:02 UTC  I agree with @bob" in result.stdout.splitlines()
    assert "@ " not in result.stdout
