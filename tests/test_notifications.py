"""Members hear about replies, mentions, followed threads and moderators' decisions (node.db.notifications).

Remote comments arrive as real signed activities through the inbox and both store
paths (the bulk path for plain replies, the one-at-a-time path for the rest); the
notifications are written in the transaction that stores or decides the comment.
"""

from __future__ import annotations

import pytest

from node.db import notifications, queries
from node.db.models import Object
from node.federation.vocab import AS_NS
from node.moderation import actions
from node.services.setup import ensure_local_actor
from tests.fakes.remote import fake_remote
from tests.support import make_settings, running_node
from tests.threads_support import create, deliver, note, publish_topic


async def local_person(node, username: str):
    """A local person (a member's actor) on ``node``."""
    async with node.node.sessions.begin() as session:
        actor, _ = await ensure_local_actor(session, node.settings, username, "Person", username.title())
        return actor


async def local_comment(node, author, parent_ap_id: str, text: str = "Hello") -> Object:
    """A comment written on this node by ``author`` under ``parent_ap_id``, as the posting service stores it."""
    async with node.node.sessions.begin() as session:
        parent = await queries.get_object(session, parent_ap_id)
        comment = Object(ap_id=node.url(f"/comments/local-{text.lower().replace(' ', '-')}"), ap_type="Note",
                         kind="comment", is_local=True, actor_id=author.id, content=f"<p>{text}</p>", source=text,
                         in_reply_to=parent.ap_id, parent_id=parent.id,
                         root_id=parent.id if parent.kind == "article" else parent.root_id, visibility="public")
        session.add(comment)
        await session.flush()
        await notifications.notify_new_comments(session, [notifications.comment_columns(comment)],
                                                host=node.settings.host)
        return comment


async def inbox_of(node, actor) -> list[tuple[str, str]]:
    """(kind, comment ap_id) of each notification of ``actor``, newest first."""
    async with node.node.sessions() as session:
        return [(n.kind, o.ap_id) for n, o, _, _ in await notifications.list_notifications(session, actor.id)]


async def publish(node) -> str:
    await publish_topic(node)
    return node.url("/articles/topic")


@pytest.fixture
async def forum(node):
    """A node with an article, a member alice who commented on it, and a fake server with bob and carol."""
    article = await publish(node)
    alice = await local_person(node, "alice")
    mine = await local_comment(node, alice, article, "My take")
    async with fake_remote() as remote:
        people = {name: remote.add_actor(name, key_index=i) for i, name in enumerate(("bob", "carol"))}
        yield node, remote, people, article, alice, mine


async def test_a_remote_reply_to_a_members_comment_notifies_her(forum, http):
    """Bob (on Mastodon) answers alice's comment: alice has a "reply" notification for bob's comment."""
    node, remote, people, article, alice, mine = forum
    reply = note(people["bob"], mine.ap_id, "<p>I disagree</p>")
    await deliver(node, http, people["bob"], create(people["bob"], reply))
    assert await inbox_of(node, alice) == [("reply", reply["id"])]


async def test_a_reply_fetched_as_an_ancestor_notifies_too(forum, http):
    """Carol answers bob's reply to alice, which never reached us: bob's reply is fetched, stored, and notifies alice."""
    node, remote, people, article, alice, mine = forum
    bobs = note(people["bob"], mine.ap_id, "<p>never delivered</p>")
    remote.serve(bobs["id"].removeprefix(remote.base), {"@context": AS_NS, **bobs})
    carols = note(people["carol"], bobs["id"], "<p>late to it</p>")
    await deliver(node, http, people["carol"], create(people["carol"], carols))
    assert await inbox_of(node, alice) == [("reply", bobs["id"])]


async def test_a_reply_that_also_mentions_her_is_one_notification(forum, http):
    """A Mastodon reply carries a Mention of the person it answers: still one notification, a reply."""
    node, remote, people, article, alice, mine = forum
    reply = note(people["bob"], mine.ap_id, "<p>@alice no</p>",
                 tag=[{"type": "Mention", "href": alice.ap_id, "name": f"@alice@{node.settings.host}"}])
    await deliver(node, http, people["bob"], create(people["bob"], reply))
    assert await inbox_of(node, alice) == [("reply", reply["id"])]


async def test_a_mention_elsewhere_in_the_thread_notifies_the_member_named(forum, http):
    """Carol answers the article and names alice in a Mention tag: alice gets a "mention"."""
    node, remote, people, article, alice, mine = forum
    reply = note(people["carol"], article, "<p>as @alice said</p>",
                 tag=[{"type": "Mention", "href": alice.ap_id, "name": f"@alice@{node.settings.host}"}])
    await deliver(node, http, people["carol"], create(people["carol"], reply))
    assert await inbox_of(node, alice) == [("mention", reply["id"])]


async def test_a_member_naming_another_in_her_text_mentions_him(forum, http):
    """A comment written here that says "@dave" notifies the member dave; "@dave@elsewhere" does not."""
    node, remote, people, article, alice, mine = forum
    dave = await local_person(node, "dave")
    await local_comment(node, alice, article, "Thanks @dave and @dave@elsewhere.example")
    kinds = [kind for kind, _ in await inbox_of(node, dave)]
    assert kinds == ["mention"]


async def test_nobody_is_notified_of_their_own_comment(forum, http):
    """Alice answering her own comment writes no notification."""
    node, remote, people, article, alice, mine = forum
    await local_comment(node, alice, mine.ap_id, "And another thing")
    assert await inbox_of(node, alice) == []


async def test_following_a_thread_notifies_every_new_comment_in_it(forum, http):
    """Dave follows the thread: bob's reply to the article and carol's reply to bob each notify him."""
    node, remote, people, article, alice, mine = forum
    dave = await local_person(node, "dave")
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, article)
        assert await notifications.follow_thread(session, dave.id, root.id)
    first = note(people["bob"], article, "<p>one</p>")
    await deliver(node, http, people["bob"], create(people["bob"], first))
    second = note(people["carol"], first["id"], "<p>two</p>")
    await deliver(node, http, people["carol"], create(people["carol"], second))
    assert await inbox_of(node, dave) == [("thread", second["id"]), ("thread", first["id"])]


async def test_unfollowing_a_thread_stops_its_notifications(forum, http):
    """After dave unfollows, a new comment in the thread does not notify him."""
    node, remote, people, article, alice, mine = forum
    dave = await local_person(node, "dave")
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, article)
        await notifications.follow_thread(session, dave.id, root.id)
        assert await notifications.unfollow_thread(session, dave.id, root.id)
    reply = note(people["bob"], article, "<p>quiet</p>")
    await deliver(node, http, people["bob"], create(people["bob"], reply))
    assert await inbox_of(node, dave) == []


async def test_marking_read_empties_the_unread_count(forum, http):
    """Two replies make two unread notifications; marking them read leaves none unread."""
    node, remote, people, article, alice, mine = forum
    for name in ("bob", "carol"):
        reply = note(people[name], mine.ap_id, f"<p>{name} here</p>")
        await deliver(node, http, people[name], create(people[name], reply))
    async with node.node.sessions.begin() as session:
        assert await notifications.count_unread(session, alice.id) == 2
        assert await notifications.mark_read(session, alice.id) == 2
        assert await notifications.count_unread(session, alice.id) == 0


@pytest.fixture
async def strict_forum(tmp_path):
    """A node whose policy holds comments matching "hold me", with alice's comment on an article."""
    async with running_node(make_settings(tmp_path, moderation_patterns=["hold me"])) as node:
        article = await publish(node)
        alice = await local_person(node, "alice")
        mine = await local_comment(node, alice, article, "My take")
        async with fake_remote() as remote:
            yield node, remote, remote.add_actor("bob"), alice, mine


async def test_a_held_reply_notifies_only_once_approved(strict_forum, http):
    """Bob's held reply to alice notifies nobody; the moderator's approval then gives alice her reply notification."""
    node, remote, bob, alice, mine = strict_forum
    reply = note(bob, mine.ap_id, "<p>hold me please</p>")
    await deliver(node, http, bob, create(bob, reply))
    assert await inbox_of(node, alice) == []
    async with node.node.sessions.begin() as session:
        comment = await actions.find_comment(session, reply["id"])
        assert comment.moderation == "held"
        await actions.approve(node.node, session, comment, moderator="mia")
    assert await inbox_of(node, alice) == [("reply", reply["id"])]


async def test_a_moderators_decision_about_her_comment_reaches_the_member(strict_forum, http):
    """Removing alice's comment with a reason notifies alice of the removal and the reason."""
    node, remote, bob, alice, mine = strict_forum
    async with node.node.sessions.begin() as session:
        comment = await actions.find_comment(session, mine.ap_id)
        await actions.remove(node.node, session, comment, moderator="mia", reason="off topic")
    async with node.node.sessions() as session:
        [(notification, obj, by, _)] = await notifications.list_notifications(session, alice.id)
    assert (notification.kind, notification.reason, obj.ap_id, by) == ("remove", "off topic", mine.ap_id, None)
