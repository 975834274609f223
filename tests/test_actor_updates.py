"""A renamed site reaches the fediverse: at start-up, a changed actor document is sent as an Update.

A node is followed by an account on a fake server (Mastodon-shaped, checking our
signatures), stopped, and started again with another ``site_name``/``site_summary``:
the follower receives, signed, an ``Update`` of the Group with the new document.
An unchanged configuration sends nothing, however often the node restarts.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from node.app import opened_node
from node.db.models import Activity, Actor
from node.federation.vocab import ACTIVITY_JSON, PUBLIC
from tests.fakes.remote import fake_remote
from tests.members_fed_support import follow_group, received
from tests.support import free_port, make_settings, running_node, wait_for


async def updates_queued(node) -> int:
    """The Updates this node has queued so far (each is stored as a local activity)."""
    async with node.node.sessions() as session:
        return await session.scalar(select(func.count(Activity.id)).where(
            Activity.is_local.is_(True), Activity.ap_type == "Update"))


async def test_renamed_site_sends_an_update_of_its_group_to_followers_at_start(tmp_path, http):
    """After a restart with a new ``site_name`` and ``site_summary``, followers get the Group's new document."""
    port = free_port()
    async with fake_remote() as remote:
        remote.verify_posts = True  # the Update must verify with our key, as a strict server checks it
        alice = remote.add_actor("alice")
        # Given a node whose Group is followed by alice
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
        # When the operator renames the site and starts the node again
        renamed = make_settings(tmp_path, port, site_name="Riverside Forum", site_summary="Talk about the river.")
        async with running_node(renamed) as node:
            # Then alice's server receives an Update of the Group carrying the new name and summary
            [update] = await wait_for(lambda: received(remote, "Update"))
            assert (update["actor"], update["object"]["id"]) == (node.url("/actors/forum"), node.url("/actors/forum"))
            assert (update["object"]["name"], update["object"]["summary"]) == (
                "Riverside Forum", "<p>Talk about the river.</p>")
            assert PUBLIC in update["to"] and node.url("/actors/forum/followers") in update["cc"]
            # And the Group's own document says the same
            async with http.get(node.url("/actors/forum"), headers={"Accept": ACTIVITY_JSON}) as response:
                assert (await response.json(content_type=None))["name"] == "Riverside Forum"


async def test_unchanged_configuration_sends_no_update_on_restart(tmp_path, http):
    """Starting the node again with the same settings queues no Update, with or without followers."""
    port = free_port()
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
            assert await updates_queued(node) == 0
        for _ in range(2):
            async with running_node(make_settings(tmp_path, port)) as node:
                assert await updates_queued(node) == 0
        assert received(remote, "Update") == []


async def test_rename_is_sent_once_not_at_every_start(tmp_path, http):
    """The Update of a rename is sent at the first start with the new name only."""
    port = free_port()
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
        for _ in range(2):
            async with running_node(make_settings(tmp_path, port, site_name="Riverside Forum")) as node:
                await wait_for(lambda: received(remote, "Update"))
                assert await updates_queued(node) == 1


async def test_only_one_of_two_processes_starting_together_claims_the_update(tmp_path):
    """Two processes that read the same old hash: the second one's claim fails, so one Update is sent."""
    from node.app import opened_node
    from node.db import actor_documents, queries

    async with opened_node(make_settings(tmp_path)) as node:
        async with node.sessions.begin() as session:
            group = await queries.get_local_actor(session, node.settings.site_username)
            seen = group.sent_document_hash
            first = await actor_documents.claim_document_hash(session, group.id, seen, "a" * 64)
            second = await actor_documents.claim_document_hash(session, group.id, seen, "a" * 64)
        assert (first, second) == (True, False)


async def set_group_hash(settings, value: str | None) -> None:
    """Give the site Group a recorded hash (``unknown`` is what migration 0008 gives older actors)."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            await session.execute(update(Actor).where(Actor.username == settings.site_username)
                                  .values(sent_document_hash=value))


async def test_actor_created_before_hashes_were_kept_sends_one_update(tmp_path, http):
    """An upgraded database (hash ``unknown``) sends its followers the Group once: their copy may be stale."""
    port = free_port()
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
        await set_group_hash(make_settings(tmp_path, port), "unknown")
        async with running_node(make_settings(tmp_path, port)) as node:
            [update_activity] = await wait_for(lambda: received(remote, "Update"))
            assert update_activity["object"]["id"] == node.url("/actors/forum")


async def test_first_start_of_a_new_actor_records_its_document_without_sending(tmp_path, http):
    """An actor with no hash yet (made since hashes are kept) has followers only of this document."""
    port = free_port()
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
        await set_group_hash(make_settings(tmp_path, port), None)
        async with running_node(make_settings(tmp_path, port)) as node:
            assert await updates_queued(node) == 0
            async with node.node.sessions() as session:
                recorded = await session.scalar(select(Actor.sent_document_hash).where(Actor.username == "forum"))
            assert recorded is not None and recorded != "unknown"
