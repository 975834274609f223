"""Moderation on a real node: signed replies are held, approved, removed and refused; Flags become reports.

Replies are Mastodon-shaped Create(Note)s signed with real keys and POSTed to
the node over HTTP; the Group's follower is a fake server that records what
the node delivers (Announce, Undo, Delete, Reject).
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from node.db import moderation as db
from node.db import queries
from node.db.models import Follow
from node.db.types import utcnow
from node.federation.vocab import AS_NS
from node.moderation import actions
from node.services.publish import publish_article
from tests import payloads
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import received as delivered
from tests.moderation_support import post, set_up_forum
from tests.support import POLICY_DEFAULTS, make_settings, postgres_database, running_node, wait_for
from tests.threads_support import comment as stored, create, note, page, publish_topic

MODERATOR = "mia"


@pytest.fixture
async def forum(tmp_path):
    """A node with the shipped moderation defaults, an article and a fake server with a Group follower."""
    async with running_node(make_settings(tmp_path, **POLICY_DEFAULTS)) as node:
        async with fake_remote() as remote:
            actors, article = await set_up_forum(node, remote)
            yield node, remote, actors, article


@pytest.fixture
async def open_forum(node):
    """The same with every hold rule off (blocks, bans and locks still apply)."""
    async with fake_remote() as remote:
        actors, article = await set_up_forum(node, remote)
        yield node, remote, actors, article


async def replies_total(node, http) -> int:
    async with http.get(node.url("/articles/topic/replies"), headers={"Accept": "application/activity+json"}) as r:
        return (await r.json(content_type=None))["totalItems"]


async def act(node, action, ref: str, **options):
    async with node.node.sessions.begin() as session:
        comment = await actions.find_comment(session, ref)
        outcome = await action(node.node, session, comment, moderator=MODERATOR, **options)
    node.node.wake_delivery()
    return outcome


async def test_first_reply_of_an_unknown_actor_is_held_then_approved_and_announced(forum, http):
    """WordPress's default: the first comment waits; approving shows it, the Group announces it, and
    the author's next comment is shown at once."""
    node, remote, actors, article = forum
    first = create(actors["alice"], note(actors["alice"], article, "<p>Hello there</p>"))
    status, _ = await post(node, http, actors["alice"], first)
    assert status == 202
    held = await stored(node, first["object"]["id"])
    assert held.moderation == "held"
    assert "Hello there" not in await page(node, http)
    assert await replies_total(node, http) == 0
    assert delivered(remote, "Announce") == []

    await act(node, actions.approve, first["object"]["id"])
    announce = (await wait_for(lambda: delivered(remote, "Announce")))[0]
    assert announce["actor"] == node.url("/actors/forum")
    assert announce["object"]["id"] == first["id"]  # the received Create, wrapped (FEP-1b12)
    assert "Hello there" in await page(node, http)
    assert await replies_total(node, http) == 1

    second = create(actors["alice"], note(actors["alice"], article, "<p>Again</p>"))
    await post(node, http, actors["alice"], second)
    assert (await stored(node, second["object"]["id"])).moderation == "published"
    async with node.node.sessions() as session:
        log = await db.list_log(session)
        hits = await db.list_rule_hits(session)
    assert [(e.action, e.moderator) for e in log[:2]] == [("approve", MODERATOR), ("hold", "policy")]
    assert log[1].rule == "first-comments"
    assert hits["first-comments"].hits == 1


async def test_rejecting_a_held_reply_sends_reject_to_its_author(forum, http):
    node, remote, actors, article = forum
    reply = create(actors["bob"], note(actors["bob"], article, "<p>spam</p>"))
    await post(node, http, actors["bob"], reply)
    await act(node, actions.reject, reply["object"]["id"], reason="spam")
    reject = (await wait_for(lambda: delivered(remote, "Reject")))[0]
    assert (reject["actor"], reject["object"], reject["target"]) == (node.url("/actors/forum"), reply["object"]["id"],
                                                                     article)
    assert (await stored(node, reply["object"]["id"])).moderation == "rejected"
    assert delivered(remote, "Announce") == []


async def test_removed_comment_leaves_a_placeholder_and_the_group_withdraws_its_announce(open_forum, http):
    """Removal keeps the replies in place; the Group's followers get Undo(Announce) and Delete with the reason."""
    node, remote, actors, article = open_forum
    parent = create(actors["alice"], note(actors["alice"], article, "<p>rude words</p>"))
    await post(node, http, actors["alice"], parent)
    child = create(actors["bob"], note(actors["bob"], parent["object"]["id"], "<p>a calm answer</p>"))
    await post(node, http, actors["bob"], child)
    announce = (await wait_for(lambda: delivered(remote, "Announce")))[0]

    await act(node, actions.remove, parent["object"]["id"], reason="insults")
    html = await page(node, http)
    assert "rude words" not in html and "[removed by moderators]" in html and "a calm answer" in html
    assert "1 comment removed by moderators" in html
    undo = (await wait_for(lambda: delivered(remote, "Undo")))[0]
    assert undo["object"]["id"] == announce["id"]
    delete = (await wait_for(lambda: delivered(remote, "Delete")))[0]
    assert (delete["actor"], delete["object"], delete["summary"]) == (node.url("/actors/forum"),
                                                                      parent["object"]["id"], "insults")

    await act(node, actions.restore, parent["object"]["id"])
    assert "rude words" in await page(node, http)


async def test_domain_suspension_hides_existing_comments_and_refuses_the_next_reply(open_forum, http):
    """Mastodon's suspend, retroactive: shown comments disappear, follows are severed, the inbox answers 403;
    lifting it shows the comments again."""
    node, remote, actors, article = open_forum
    reply = create(actors["alice"], note(actors["alice"], article, "<p>before the block</p>"))
    await post(node, http, actors["alice"], reply)
    assert "before the block" in await page(node, http)

    async with node.node.sessions.begin() as session:
        outcome = await actions.block_domain(session, "127.0.0.1", "suspend", moderator=MODERATOR, reason="spam")
    node.node.gate.invalidate()
    assert "1 comment(s) hidden" in outcome.summary and "1 follow(s) severed" in outcome.summary
    assert "before the block" not in await page(node, http)
    async with node.node.sessions() as session:
        assert (await session.scalars(select(Follow))).all() == []

    status, body = await signed_post(http, node.url("/inbox"),
                                     create(actors["bob"], note(actors["bob"], article)), actors["bob"])
    assert status == 403 and "suspended" in json.dumps(body)

    async with node.node.sessions.begin() as session:
        await actions.unblock_domain(session, "127.0.0.1", moderator=MODERATOR)
    node.node.gate.invalidate()
    assert "before the block" in await page(node, http)


async def test_silenced_domain_holds_its_replies(open_forum, http):
    node, remote, actors, article = open_forum
    async with node.node.sessions.begin() as session:
        await actions.block_domain(session, "127.0.0.1", "silence", moderator=MODERATOR)
    node.node.gate.invalidate()  # this process changed the blocks: read them again now
    reply = create(actors["alice"], note(actors["alice"], article))
    status, _ = await post(node, http, actors["alice"], reply)
    assert status == 202
    assert (await stored(node, reply["object"]["id"])).moderation == "held"


async def test_banned_actor_is_refused_until_the_ban_expires(open_forum, http):
    node, remote, actors, article = open_forum
    async with node.node.sessions.begin() as session:
        await actions.ban(node.node, session, actors["bob"].id, moderator=MODERATOR, reason="spam",
                          expires_at=utcnow() + timedelta(days=1))
    node.node.gate.invalidate()
    status, body = await signed_post(http, node.url("/inbox"),
                                     create(actors["bob"], note(actors["bob"], article)), actors["bob"])
    assert status == 403 and "banned" in json.dumps(body)
    status, _ = await post(node, http, actors["alice"], create(actors["alice"], note(actors["alice"], article)))
    assert status == 202

    async with node.node.sessions.begin() as session:
        await actions.ban(node.node, session, actors["bob"].id, moderator=MODERATOR,
                          expires_at=utcnow() - timedelta(seconds=1))
    node.node.gate.invalidate()
    late = create(actors["bob"], note(actors["bob"], article, "<p>after the ban</p>"))
    status, _ = await post(node, http, actors["bob"], late)
    assert status == 202
    assert (await stored(node, late["object"]["id"])).moderation == "published"


async def test_ban_with_removal_removes_the_actors_comments(open_forum, http):
    node, remote, actors, article = open_forum
    reply = create(actors["bob"], note(actors["bob"], article, "<p>bad</p>"))
    await post(node, http, actors["bob"], reply)
    async with node.node.sessions.begin() as session:
        outcome = await actions.ban(node.node, session, actors["bob"].id, moderator=MODERATOR, reason="spam",
                                    remove_comments=True)
    assert "removed 1 comment(s)" in outcome.summary
    assert (await stored(node, reply["object"]["id"])).moderation == "removed"


async def test_reply_to_a_locked_thread_is_rejected_with_a_reject_to_its_server(open_forum, http):
    """GoToSocial answers a reply its interaction policy refuses with Reject{object: reply, target: post}."""
    node, remote, actors, article = open_forum
    async with node.node.sessions.begin() as session:
        await actions.lock(session, await actions.find_thread(session, "topic"), True, moderator=MODERATOR)
    reply = create(actors["alice"], note(actors["alice"], article))
    status, _ = await post(node, http, actors["alice"], reply)
    assert status == 202  # stored as an activity; the comment itself is refused
    assert await stored(node, reply["object"]["id"]) is None
    reject = (await wait_for(lambda: delivered(remote, "Reject")))[0]
    assert (reject["object"], reject["target"]) == (reply["object"]["id"], article)
    async with node.node.sessions() as session:
        entry = (await db.list_log(session, limit=1))[0]
    assert (entry.action, entry.rule) == ("reject", "locked")


async def test_mastodon_flag_becomes_a_report(open_forum, http):
    """Mastodon's Flag: the instance actor reports an account and some of its statuses, with a comment."""
    node, remote, actors, article = open_forum
    reply = create(actors["bob"], note(actors["bob"], article, "<p>spam</p>"))
    await post(node, http, actors["bob"], reply)
    instance = remote.add_actor("actor", kind="Application", key_index=3)
    flag = {"@context": AS_NS, "id": f"{remote.base}/0f7c1b3e-3a2e-4a55-9a57-7f4c0c3d1e2a", "type": "Flag",
            "actor": instance.id, "content": "Spam with links", "object": [actors["bob"].id, reply["object"]["id"]]}
    status, _ = await post(node, http, instance, flag)
    assert status == 202
    async with node.node.sessions() as session:
        (report,) = await db.list_reports(session)
    assert (report.reporter_ap_id, report.target_actor_ap_id, report.content) == (
        instance.id, actors["bob"].id, "Spam with links")
    assert report.object_ap_ids == [reply["object"]["id"]]


async def test_lemmy_flag_becomes_a_report(open_forum, http):
    """Lemmy's Report: a person flags one comment, the reason in ``summary``, addressed to the community."""
    node, remote, actors, article = open_forum
    reply = create(actors["bob"], note(actors["bob"], article, "<p>spam</p>"))
    await post(node, http, actors["bob"], reply)
    flag = {"@context": AS_NS, "id": f"{remote.base}/activities/flag/5d2b4a0e-8a4b-4c9a-a1f6-0b7e6d8b9c10",
            "type": "Flag", "actor": actors["alice"].id, "to": [node.url("/actors/forum")],
            "object": reply["object"]["id"], "summary": "This is spam", "audience": node.url("/actors/forum")}
    status, _ = await post(node, http, actors["alice"], flag)
    assert status == 202
    async with node.node.sessions() as session:
        (report,) = await db.list_reports(session)
    assert (report.target_actor_ap_id, report.content) == (actors["bob"].id, "This is spam")
    async with node.node.sessions.begin() as session:
        outcome = await actions.resolve_report(session, report.id, moderator=MODERATOR, resolution="spam",
                                               node=node.node, remove_posts=True, ban_actor=True)
    assert "removed comment" in outcome.summary and "banned" in outcome.summary
    assert (await stored(node, reply["object"]["id"])).moderation == "removed"
    async with node.node.sessions() as session:
        assert await db.list_reports(session) == []
        assert await db.is_banned(session, actors["bob"].id)


ARTICLE_WITH_CONTROLS = """---
title: Members only
slug: members
replies: followers
replies_close_after_days: 30
---
Only followers may answer.
"""


async def test_front_matter_reply_controls_are_advertised_and_enforced(open_forum, http):
    """`replies: followers` is advertised as GoToSocial's interactionPolicy.canReply (and PeerTube/Lemmy's
    commentsEnabled), and a reply from a non-follower is refused with Reject; a follower's is taken."""
    from node.content import parse_post

    node, remote, actors, _ = open_forum
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        await publish_article(session, node.settings, parse_post(ARTICLE_WITH_CONTROLS), author)
    article = node.url("/articles/members")
    async with http.get(article, headers={"Accept": "application/activity+json"}) as response:
        document = await response.json(content_type=None)
    can_reply = document["interactionPolicy"]["canReply"]
    assert node.url("/actors/forum/followers") in can_reply["automaticApproval"]
    assert "https://www.w3.org/ns/activitystreams#Public" not in can_reply["automaticApproval"]
    assert document["commentsEnabled"] is True
    assert "https://gotosocial.org/ns" in document["@context"]

    stranger = create(actors["alice"], note(actors["alice"], article))
    await post(node, http, actors["alice"], stranger)
    assert await stored(node, stranger["object"]["id"]) is None
    reject = (await wait_for(lambda: delivered(remote, "Reject")))[0]
    assert reject["object"] == stranger["object"]["id"]
    follower = create(actors["fan"], note(actors["fan"], article, "<p>I follow the forum</p>"))
    await post(node, http, actors["fan"], follower)
    assert (await stored(node, follower["object"]["id"])).moderation == "published"

    async with node.node.sessions.begin() as session:
        await actions.set_reply_policy(session, await actions.find_thread(session, "members"), "closed",
                                       moderator=MODERATOR)
    async with http.get(article, headers={"Accept": "application/activity+json"}) as response:
        assert (await response.json(content_type=None))["commentsEnabled"] is False


async def test_flag_out_reaches_the_comments_server_signed_by_the_instance_actor(open_forum, http):
    """`fednode mod report` sends Mastodon's Flag shape; a strict server verifies the instance actor's signature."""
    node, remote, actors, article = open_forum
    remote.verify_posts = True
    reply = create(actors["bob"], note(actors["bob"], article, "<p>spam</p>"))
    await post(node, http, actors["bob"], reply)
    await act(node, actions.report_remote, reply["object"]["id"], reason="spam links")
    flag = (await wait_for(lambda: delivered(remote, "Flag")))[0]
    assert flag["actor"] == node.url("/actor")  # the instance actor, as Mastodon reports
    assert flag["object"] == [actors["bob"].id, reply["object"]["id"]]
    assert flag["content"] == "spam links"
    assert any(signer.startswith(flag["actor"]) for signer in remote.verified_signers)
    async with node.node.sessions() as session:
        (sent,) = await db.list_reports(session, state=None)
    assert (sent.direction, sent.target_actor_ap_id) == ("out", actors["bob"].id)


def update_of(actor, document: dict, content: str) -> dict:
    """Mastodon's Update of an edited status: the whole new version, ``updated`` newer than before."""
    edited = {**document, "content": content, "updated": "2026-11-25T12:00:00Z"}
    return {"@context": AS_NS, "id": f"{document['id']}#updates/1", "type": "Update", "actor": actor.id,
            "to": document["to"], "cc": document["cc"], "object": edited}


def delete_of(actor, document: dict) -> dict:
    """Mastodon's Delete of a status: a Tombstone with the status id."""
    return {"@context": AS_NS, "id": f"{document['id']}#delete", "type": "Delete", "actor": actor.id,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"id": document["id"], "type": "Tombstone", "atomUri": document["id"]}}


async def test_group_relays_edits_and_deletes_of_comments_it_announced(open_forum, http):
    """FEP-1b12: followers of the Group get Announce{Update} and Announce{Delete}, so their copies follow."""
    node, remote, actors, article = open_forum
    reply = create(actors["alice"], note(actors["alice"], article, "<p>first version</p>"))
    await post(node, http, actors["alice"], reply)
    await wait_for(lambda: delivered(remote, "Announce"))
    await post(node, http, actors["alice"], update_of(actors["alice"], reply["object"], "<p>second version</p>"))
    relayed = await wait_for(lambda: [a for a in delivered(remote, "Announce")
                                      if isinstance(a["object"], dict) and a["object"]["type"] == "Update"])
    assert relayed[0]["object"]["object"]["content"] == "<p>second version</p>"
    await post(node, http, actors["alice"], delete_of(actors["alice"], reply["object"]))
    await wait_for(lambda: [a for a in delivered(remote, "Announce")
                            if isinstance(a["object"], dict) and a["object"]["type"] == "Delete"])


async def test_edits_of_a_held_comment_are_never_relayed(forum, http):
    node, remote, actors, article = forum
    reply = create(actors["bob"], note(actors["bob"], article, "<p>held</p>"))
    await post(node, http, actors["bob"], reply)
    await post(node, http, actors["bob"], update_of(actors["bob"], reply["object"], "<p>held, edited</p>"))
    await post(node, http, actors["bob"], delete_of(actors["bob"], reply["object"]))
    node.node.wake_delivery()
    async with node.node.sessions() as session:
        pending = await queries.list_deliveries(session)
    assert [json.loads(row.body)["type"] for row in pending] == ["Accept"]
    assert delivered(remote, "Announce") == []


# --- each hold rule, with the payload shapes other servers send -------------------------------------

ONLY = {"moderation_first_comments": "off", "moderation_hold_new_instances": False}


@pytest.fixture
async def forum_with(tmp_path):
    """Factory: a node whose policy has the holds off but for the settings given, an article, a fake server."""
    async with contextlib.AsyncExitStack() as stack:
        async def start(**settings):
            node = await stack.enter_async_context(running_node(make_settings(tmp_path, **settings)))
            remote = await stack.enter_async_context(fake_remote())
            await publish_topic(node)
            return node, remote, node.url("/articles/topic")
        yield start


async def held_by(node, ap_id: str) -> str | None:
    """The rule that held a comment, or None when it was published."""
    comment = await stored(node, ap_id)
    assert comment is not None
    if comment.moderation == "published":
        return None
    async with node.node.sessions() as session:
        reasons = await db.hold_reasons(session, [ap_id])
        assert ap_id in reasons, (comment.moderation, [(e.action, e.target, e.rule) for e in await db.list_log(session)])
        return reasons[ap_id].rule


async def test_misskey_reply_with_many_mentions_is_held(forum_with, http):
    """Pleroma's Hellthread idea: Misskey's Mention tags are counted."""
    node, remote, article = await forum_with(**ONLY, moderation_max_mentions=5)
    mika = payloads.serve_actor(remote, "/users/9gq1x0abcd", "mika", key_index=1)
    tags = [payloads.mention(f"https://misskey.example/users/{n}", f"@u{n}@misskey.example") for n in range(5)]
    html = " ".join(f'<a href="https://misskey.example/@u{n}" class="u-url mention">@u{n}</a>' for n in range(5))
    crowded = payloads.misskey_reply(mika, article, f"<p>{html} look</p>", "@u0 @u1 @u2 @u3 @u4 look", tags=tags)
    await post(node, http, mika, crowded)
    assert await held_by(node, crowded["object"]["id"]) == "mentions"
    calm = payloads.misskey_reply(mika, article, "<p>just me</p>", "just me", tags=tags[:1])
    await post(node, http, mika, calm)
    assert await held_by(node, calm["object"]["id"]) is None


async def test_lemmy_comment_with_a_link_from_a_never_approved_author_is_held(forum_with, http):
    """Pleroma's AntiLinkSpam idea; a Lemmy mention (a bare link named by a Mention tag) is not a link."""
    node, remote, article = await forum_with(**ONLY, moderation_hold_links=True)
    carol = payloads.serve_actor(remote, "/u/carol", "carol", key_index=2, followers=None)
    community = remote.base + "/c/forum"
    mentioning = payloads.lemmy_comment(carol, article, f'<p><a href="{remote.base}/u/dave">@dave</a> agreed</p>',
                                        "@dave agreed", community=community, mentioned=(f"{remote.base}/u/dave", "@dave"))
    await post(node, http, carol, mentioning)
    assert await held_by(node, mentioning["object"]["id"]) is None
    linking = payloads.lemmy_comment(carol, article, '<p>see <a href="https://spam.example/deal">this</a></p>',
                                     "see [this](https://spam.example/deal)", community=community)
    await post(node, http, carol, linking)
    # carol has one approved comment now (the first was shown): her links pass
    assert await held_by(node, linking["object"]["id"]) is None
    dave = payloads.serve_actor(remote, "/u/dave", "dave", key_index=3, followers=None)
    first = payloads.lemmy_comment(dave, article, '<p>see <a href="https://spam.example/deal">this</a></p>',
                                   "see [this](https://spam.example/deal)", community=community)
    await post(node, http, dave, first)
    assert await held_by(node, first["object"]["id"]) == "links"


async def test_gotosocial_reply_matching_a_pattern_is_held(forum_with, http):
    node, remote, article = await forum_with(**ONLY, moderation_patterns=[r"cheap\s+watch(es)?"])
    gts = payloads.serve_actor(remote, "/users/gts_user", "gts_user", key_index=3)
    reply = payloads.gotosocial_reply(gts, article, "<p>CHEAP   Watches here</p>")
    await post(node, http, gts, reply)
    assert await held_by(node, reply["object"]["id"]) == "patterns"
    async with node.node.sessions() as session:
        assert (await db.list_rule_hits(session))["patterns"].hits == 1


async def test_new_account_without_followers_is_held(forum_with, http):
    """Mastodon publishes an account's creation time as the actor's ``published``."""
    node, remote, article = await forum_with(**ONLY, moderation_new_account_days=7)
    fresh = remote.add_actor("fresh", published=(utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT00:00:00Z"))
    reply = create(fresh, note(fresh, article))
    await post(node, http, fresh, reply)
    assert await held_by(node, reply["object"]["id"]) == "new-account"
    old = remote.add_actor("old", key_index=1, published="2019-03-01T00:00:00Z")
    reply = create(old, note(old, article))
    await post(node, http, old, reply)
    assert await held_by(node, reply["object"]["id"]) is None


async def test_replies_past_the_actor_rate_are_held(forum_with, http):
    node, remote, article = await forum_with(**ONLY, moderation_actor_rate=2)
    alice = remote.add_actor("alice")
    rules = []
    for n in range(3):
        reply = create(alice, note(alice, article, f"<p>number {n}</p>"))
        await post(node, http, alice, reply)
        rules.append(await held_by(node, reply["object"]["id"]))
    assert rules == [None, None, "actor-rate"]


@pytest.fixture
async def rate_forum(request, tmp_path):
    """A node on the database the test is parametrized with, an actor rate of 2 and an instance rate of 3."""
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(postgres_database())
        remote = await stack.enter_async_context(fake_remote())
        settings = make_settings(tmp_path, **({"database_url": url} if url else {}), **ONLY,
                                 moderation_actor_rate=2, moderation_instance_rate=3)
        node = await stack.enter_async_context(running_node(settings))
        await publish_topic(node)
        yield node, remote, node.url("/articles/topic")


@pytest.mark.parametrize("rate_forum", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_replies_past_the_instance_rate_are_held_and_counts_stop_at_each_limit(rate_forum, http):
    """alice's third reply is held, then bob's first (the instance sent 3); the counts of the last hour are
    read only up to each limit, by correlated ``LIMIT`` subqueries that run on PostgreSQL too."""
    node, remote, article = rate_forum
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
    rules = []
    for actor, text in ((alice, "one"), (alice, "two"), (alice, "three"), (bob, "four")):
        reply = create(actor, note(actor, article, f"<p>{text}</p>"))
        await post(node, http, actor, reply)
        rules.append(await held_by(node, reply["object"]["id"]))
    assert rules == [None, None, "actor-rate", "instance-rate"]
    async with node.node.sessions() as session:
        ids = await node_actor_ids(session, [alice.id, bob.id])
        log = {entry.rule: entry.reason for entry in await db.list_log(session)}
        counts = await db.recent_counts(session, ids.values(), [ids[bob.id]], db.hours_ago(1), 2, 3)
        seen = await db.seen_domains(session, [node_domain(alice.id), "unseen.example"])
        trust = await db.approved_counts(session, ids.values())
    assert seen == {node_domain(alice.id)} and trust == {ids[alice.id]: 2, ids[bob.id]: 0}
    assert log["actor-rate"] == "its author sent at least 2 comments in the last hour (limit 2)"
    assert log["instance-rate"].endswith("sent at least 3 comments in the last hour (limit 3)")
    domain = node_domain(alice.id)
    assert counts == ({ids[alice.id]: 2, ids[bob.id]: 1}, {domain: 3})  # alice's 3 counted up to 2, the instance's 4 up to 3


def node_domain(actor_id: str) -> str:
    """The instance (host:port) the node keys a remote actor's rate on."""
    return actor_id.split("/")[2]


async def node_actor_ids(session, ap_ids: list[str]) -> dict[str, int]:
    return {ap_id: (await queries.get_actor(session, ap_id)).id for ap_id in ap_ids}


async def test_first_reply_from_an_unseen_instance_is_held_then_the_instance_is_known(forum_with, http):
    node, remote, article = await forum_with(moderation_first_comments="off", moderation_hold_new_instances=True)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
    first = create(alice, note(alice, article))
    await post(node, http, alice, first)
    assert await held_by(node, first["object"]["id"]) == "new-instance"
    await act(node, actions.approve, first["object"]["id"])
    second = create(bob, note(bob, article))
    await post(node, http, bob, second)
    assert await held_by(node, second["object"]["id"]) is None


async def test_a_rule_in_dry_run_counts_but_does_not_hold(forum_with, http):
    node, remote, article = await forum_with(moderation_first_comments="first", moderation_hold_new_instances=False,
                                             moderation_dry_run=["first-comments"])
    alice = remote.add_actor("alice")
    reply = create(alice, note(alice, article))
    await post(node, http, alice, reply)
    assert await held_by(node, reply["object"]["id"]) is None
    async with node.node.sessions() as session:
        hit = (await db.list_rule_hits(session))["first-comments"]
    assert (hit.hits, hit.dry_hits) == (0, 1)


@pytest.mark.postgres
async def test_hold_approve_and_suspend_work_on_postgresql(tmp_path, http):
    """The decide step's queries (JSON paths, the rule-hit upsert) and the actions run on PostgreSQL too."""
    async with postgres_database() as url, fake_remote() as remote:
        async with running_node(make_settings(tmp_path, database_url=url, **POLICY_DEFAULTS)) as node:
            actors, article = await set_up_forum(node, remote)
            for _ in range(2):  # the second hit adds to the counter (the upsert's update branch)
                reply = create(actors["alice"], note(actors["alice"], article, "<p>on postgres</p>"))
                await post(node, http, actors["alice"], reply)
                assert (await stored(node, reply["object"]["id"])).moderation == "held"
            async with node.node.sessions() as session:
                assert (await db.list_rule_hits(session))["first-comments"].hits == 2
            await act(node, actions.approve, reply["object"]["id"])
            await wait_for(lambda: delivered(remote, "Announce"))
            async with node.node.sessions.begin() as session:
                outcome = await actions.block_domain(session, "127.0.0.1", "suspend", moderator=MODERATOR)
            # The approved one is hidden; the one still held stays in the queue (hidden already), so
            # lifting the suspension can never publish it unreviewed.
            assert "1 comment(s) hidden" in outcome.summary
            assert "on postgres" not in await page(node, http)
            async with node.node.sessions() as session:
                states = sorted(c.moderation for c in await db.list_comments_in_state(session, "held"))
            assert states == ["held"]
