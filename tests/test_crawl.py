"""Backfilling threads: replies that were never delivered to us are read from remote collections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from node.db import crawl as crawl_db
from node.db import queries
from node.db.models import CrawlState
from node.db.types import utcnow
from node.federation import crawl
from node.federation.vocab import AS_NS
from tests.fakes.remote import fake_remote
from tests.support import running_node
from tests.threads_support import comment, create, deliver, note, publish_topic, thread  # noqa: F401 (thread: a fixture)


@pytest.fixture
async def elsewhere():
    """A second fake server (another origin) with the actor dave."""
    async with fake_remote() as other:
        yield other, other.add_actor("dave", key_index=3)


def path_of(remote, url: str) -> str:
    return url.removeprefix(remote.base)


def publish(remote, post: dict) -> dict:
    """Serve a post at its id on its server; return it."""
    remote.serve(path_of(remote, post["id"]), {"@context": AS_NS, **post})
    return post


def serve_replies(remote, parent_id: str, items: list, *, per_page: int = 60) -> str:
    """Serve ``parent_id``'s replies as an OrderedCollection with ``first``/``next`` pages; its URL."""
    collection = f"{parent_id}/replies"
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    for number, chunk in enumerate(pages, 1):
        page = {"@context": AS_NS, "id": f"{collection}/page/{number}", "type": "OrderedCollectionPage",
                "partOf": collection, "orderedItems": chunk}
        if number < len(pages):
            page["next"] = f"{collection}/page/{number + 1}"
        remote.serve(path_of(remote, page["id"]), page)
    remote.serve(path_of(remote, collection), {"@context": AS_NS, "id": collection, "type": "OrderedCollection",
                                               "totalItems": len(items), "first": f"{collection}/page/1"})
    return collection


async def root_id(node) -> int:
    async with node.node.sessions() as session:
        return (await queries.get_article_by_slug(session, "topic")).id


async def state_of(node) -> CrawlState | None:
    async with node.node.sessions() as session:
        return await crawl_db.crawl_state(session, await root_id(node))


async def test_reply_addressed_only_to_a_remote_author_is_backfilled(thread, http):
    """Bob's reply to Alice, never delivered to us, is read from her replies collection and stored under her."""
    node, remote, actors, article = thread
    # Given Alice's comment, delivered to us, whose replies collection lists Bob's reply
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article, "<p>parent</p>")
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    bobs = publish(remote, note(bob, alices["id"], "<p>only to alice</p>"))
    serve_replies(remote, alices["id"], [bobs["id"]])
    await deliver(node, http, alice, create(alice, alices))
    assert await comment(node, bobs["id"]) is None
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then Bob's reply is in the thread, under Alice's comment
    stored = await comment(node, bobs["id"])
    assert stored is not None and stored.parent_id == (await comment(node, alices["id"])).id
    assert report.found == 1


async def test_pages_of_a_replies_collection_are_followed(thread, http):
    """Every page of a remote replies collection (first, then next) is read."""
    node, remote, actors, article = thread
    # Given Alice's comment whose replies collection has three pages of two replies
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    replies = [publish(remote, note(bob, alices["id"], f"<p>reply {i}</p>")) for i in range(6)]
    serve_replies(remote, alices["id"], [r["id"] for r in replies], per_page=2)
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    await node.node.crawler.crawl(await root_id(node))
    # Then the replies of every page are stored, and each page was read
    assert all([await comment(node, r["id"]) for r in replies])
    assert {f"{path_of(remote, alices['id'])}/replies/page/{n}" for n in (1, 2, 3)} <= set(remote.gets)


async def test_item_from_another_origin_is_fetched_from_its_own_origin(thread, http, elsewhere):
    """An item embedded by a collection on another server is fetched from its own server, not believed."""
    node, remote, actors, article = thread
    other, dave = elsewhere
    # Given Alice's collection embedding a forged copy of Dave's reply (Dave lives on another server)
    alice = actors["alice"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    daves = publish(other, note(dave, alices["id"], "<p>what dave wrote</p>"))
    serve_replies(remote, alices["id"], [{**daves, "content": "<p>words put in dave's mouth</p>"}])
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    await node.node.crawler.crawl(await root_id(node))
    # Then Dave's reply was fetched from Dave's server, with Dave's words
    stored = await comment(node, daves["id"])
    assert stored is not None and "what dave wrote" in stored.content
    assert path_of(other, daves["id"]) in other.gets


async def test_item_its_own_origin_does_not_confirm_is_refused(thread, http, elsewhere):
    """An item whose own server does not serve it (404), or serves it under another author's origin, is not stored."""
    node, remote, actors, article = thread
    other, dave = elsewhere
    # Given Alice's collection listing two replies said to be on Dave's server:
    # one his server does not have, one his server attributes to an actor on Alice's server
    alice = actors["alice"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    missing = note(dave, alices["id"], "<p>never written</p>")
    misattributed = publish(other, {**note(dave, alices["id"], "<p>claims alice wrote this</p>"),
                                    "attributedTo": alice.id})
    serve_replies(remote, alices["id"], [missing, misattributed["id"]])
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then neither is stored
    assert await comment(node, missing["id"]) is None
    assert await comment(node, misattributed["id"]) is None
    assert report.found == 0 and report.refused == 2


async def test_a_thousand_item_collection_stores_at_most_the_item_budget(thread, http):
    """A collection of 1000 replies stores MAX_ITEMS of them in one crawl and asks for the next turn soon."""
    node, remote, actors, article = thread
    # Given Alice's comment whose collection embeds 1000 replies (by her own server), 50 a page
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    replies = [note(bob, alices["id"], f"<p>{i}</p>") for i in range(1000)]
    serve_replies(remote, alices["id"], replies, per_page=50)
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then exactly the budget is stored, and the next crawl comes after the shortest wait
    async with node.node.sessions() as session:
        stored = await queries.list_thread(session, await root_id(node))
    assert len(stored) == 1 + crawl.MAX_ITEMS
    assert report.cut_short is not None
    state = await state_of(node)
    assert state.next_crawl_at - state.last_crawled_at == timedelta(seconds=crawl.MIN_INTERVAL)


async def test_requests_to_one_host_are_capped_per_crawl(thread, http, monkeypatch):
    """No host gets more than MAX_REQUESTS_PER_HOST requests in one crawl."""
    node, remote, actors, article = thread
    monkeypatch.setattr(crawl, "MAX_REQUESTS_PER_HOST", 10)
    # Given Alice's collection listing 30 replies by id (each needs a request)
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    replies = [publish(remote, note(bob, alices["id"], f"<p>{i}</p>")) for i in range(30)]
    serve_replies(remote, alices["id"], [r["id"] for r in replies])
    await deliver(node, http, alice, create(alice, alices))
    before = len(remote.gets)
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then the host got 10 requests, and the crawl says its budget ran out
    assert len(remote.gets) - before == 10
    assert report.exhausted_hosts == {crawl.authority(remote.base)}
    assert 0 < report.found < 30


async def test_failing_host_stops_only_its_part_of_the_crawl(thread, http, elsewhere):
    """A host answering 500 is asked once and left alone; the other hosts' replies are still stored."""
    node, remote, actors, article = thread
    other, dave = elsewhere
    # Given Alice's collection listing two replies on a host that answers 500, then one by Bob
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    broken = [note(dave, alices["id"]) for _ in range(2)]
    for post in broken:
        other.serve(path_of(other, post["id"]), {"error": "oops"}, status=500)
    bobs = publish(remote, note(bob, alices["id"], "<p>still here</p>"))
    serve_replies(remote, alices["id"], [broken[0]["id"], broken[1]["id"], bobs["id"]])
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then the failing host was asked once, Bob's reply is stored, and the failure is recorded
    assert len([g for g in other.gets if "/statuses/" in g]) == 1
    assert await comment(node, bobs["id"]) is not None
    assert report.found == 1
    assert crawl.authority(other.base) in (await state_of(node)).last_error


async def test_replies_found_in_a_crawl_are_crawled_in_turn(thread, http):
    """The replies collection of a reply found during the crawl is read in the same crawl."""
    node, remote, actors, article = thread
    # Given Bob's reply to Alice (in her collection) and Carol's reply to Bob (only in his)
    alice, bob, carol = actors["alice"], actors["bob"], actors["carol"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    bobs = note(bob, alices["id"])
    bobs["replies"] = serve_replies(remote, bobs["id"], [])
    publish(remote, bobs)
    carols = publish(remote, note(carol, bobs["id"], "<p>deeper</p>"))
    serve_replies(remote, bobs["id"], [carols["id"]])
    serve_replies(remote, alices["id"], [bobs["id"]])
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled once
    report = await node.node.crawler.crawl(await root_id(node))
    # Then both levels are stored
    assert report.found == 2
    assert (await comment(node, carols["id"])).parent_id == (await comment(node, bobs["id"])).id


async def test_context_collection_backfills_only_replies_in_our_threads(thread, http):
    """A remote context collection (FEP-f228) brings in replies that join our thread, and nothing else."""
    node, remote, actors, article = thread
    # Given Alice's comment naming a context collection that lists Bob's reply to her (as a Create
    # activity) and a post of another conversation
    alice, bob = actors["alice"], actors["bob"]
    context = f"{remote.base}/contexts/1"
    alices = publish(remote, {**note(alice, article), "context": context})
    bobs = note(bob, alices["id"], "<p>in context</p>")
    bobs_create = publish(remote, {**create(bob, bobs), "object": bobs})
    unrelated = publish(remote, note(bob, f"{remote.base}/users/carol/statuses/elsewhere", "<p>off topic</p>"))
    remote.serve("/contexts/1", {"@context": AS_NS, "id": context, "type": "OrderedCollection",
                                 "orderedItems": [alices["id"], bobs_create["id"], unrelated["id"]]})
    await deliver(node, http, alice, create(alice, alices))
    # When the thread is crawled
    await node.node.crawler.crawl(await root_id(node))
    # Then Bob's reply joined the thread; the other conversation's post did not
    assert (await comment(node, bobs["id"])).parent_id == (await comment(node, alices["id"])).id
    assert await comment(node, unrelated["id"]) is None


async def test_our_own_collections_are_never_fetched(thread, http, monkeypatch):
    """Collections and items on our own host are never fetched, whoever names them."""
    node, remote, actors, article = thread
    # Given Alice's comment naming our replies and context collections, and Bob's whose remote
    # collection lists an id on our host
    alice, bob = actors["alice"], actors["bob"]
    alices = {**note(alice, article), "replies": article + "/replies", "context": node.url("/contexts/topic")}
    await deliver(node, http, alice, create(alice, alices))
    bobs = note(bob, article)
    bobs["replies"] = serve_replies(remote, bobs["id"], [node.url("/comments/999")])
    await deliver(node, http, bob, create(bob, bobs))
    fetched = []
    real = node.node.fetcher.get_activitypub

    async def spy(url, **options):
        fetched.append(url)
        return await real(url, **options)

    monkeypatch.setattr(node.node.fetcher, "get_activitypub", spy)
    # When the thread is crawled
    report = await node.node.crawler.crawl(await root_id(node))
    # Then only the remote collection was fetched, nothing from our host
    assert fetched == [bobs["replies"], bobs["replies"] + "/page/1"]
    assert crawl.authority(node.base) not in report.requests


async def test_storing_a_comment_schedules_a_crawl_soon_and_coalesces(thread, http):
    """A new comment schedules its thread about FIRST_DELAY later; a second comment does not push it back."""
    node, remote, actors, article = thread
    # Given a thread without a crawl schedule
    alice, bob = actors["alice"], actors["bob"]
    assert await state_of(node) is None
    # When Alice comments, then Bob
    await deliver(node, http, alice, create(alice, note(alice, article)))
    first = (await state_of(node)).next_crawl_at
    await deliver(node, http, bob, create(bob, note(bob, article)))
    # Then the crawl is due about a minute after the first comment, and stays so
    assert timedelta(0) < first - utcnow() <= crawl.FIRST_DELAY
    assert (await state_of(node)).next_crawl_at == first


async def test_wait_doubles_when_nothing_is_found_and_resets_when_something_is(thread, http):
    """Crawls that find nothing double the wait; one that finds a reply sets it back to MIN_INTERVAL."""
    node, remote, actors, article = thread
    # Given Alice's comment with an empty replies collection
    alice, bob = actors["alice"], actors["bob"]
    alices = note(alice, article)
    alices["replies"] = f"{alices['id']}/replies"
    publish(remote, alices)
    serve_replies(remote, alices["id"], [])
    await deliver(node, http, alice, create(alice, alices))
    root = await root_id(node)
    # When it is crawled twice with nothing new
    waits = []
    for _ in range(2):
        await node.node.crawler.crawl(root)
        state = await state_of(node)
        waits.append((state.next_crawl_at - state.last_crawled_at).total_seconds())
    # Then the wait doubled
    assert waits == [crawl.MIN_INTERVAL, 2 * crawl.MIN_INTERVAL]
    # When Bob's reply appears and the thread is crawled again
    bobs = publish(remote, note(bob, alices["id"]))
    serve_replies(remote, alices["id"], [bobs["id"]])
    await node.node.crawler.crawl(root)
    # Then the wait is back to the shortest, and the crawl says what it found
    state = await state_of(node)
    assert (state.next_crawl_at - state.last_crawled_at).total_seconds() == crawl.MIN_INTERVAL
    assert state.last_found == 1 and state.last_error is None


async def test_thread_quiet_for_too_long_is_no_longer_crawled(thread, http):
    """After GIVE_UP_AFTER without a new comment, a crawl that finds nothing stops the schedule."""
    node, remote, actors, article = thread
    # Given a thread whose last comment arrived longer ago than GIVE_UP_AFTER
    alice = actors["alice"]
    await deliver(node, http, alice, create(alice, note(alice, article)))
    async with node.node.sessions.begin() as session:
        await session.execute(update(CrawlState).values(last_activity_at=utcnow() - crawl.GIVE_UP_AFTER - timedelta(hours=1)))
    # When it is crawled and nothing is found
    await node.node.crawler.crawl(await root_id(node))
    # Then no further crawl is scheduled
    assert (await state_of(node)).next_crawl_at is None


async def test_schedule_survives_a_restart(settings, http):
    """The crawl schedule is in the database: after a restart the due thread is crawled."""
    async with fake_remote() as remote:
        alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
        # Given a node that received Alice's comment (so a crawl is scheduled), then stopped
        async with running_node(settings) as node:
            await publish_topic(node)
            alices = note(alice, node.url("/articles/topic"))
            alices["replies"] = f"{alices['id']}/replies"
            publish(remote, alices)
            await deliver(node, http, alice, create(alice, alices))
            due = (await state_of(node)).next_crawl_at
        bobs = publish(remote, note(bob, alices["id"]))
        serve_replies(remote, alices["id"], [bobs["id"]])
        # When the node starts again and its crawler's turn comes
        async with running_node(settings) as node:
            report = await node.node.crawler.run_once(now=due + timedelta(seconds=1))
            # Then the thread was crawled from the stored schedule
            assert report is not None and report.root_id == await root_id(node)
            assert await comment(node, bobs["id"]) is not None
            assert (await state_of(node)).next_crawl_at > due


async def test_run_once_does_nothing_before_a_thread_is_due(thread, http):
    """The background loop's step crawls nothing while no thread's turn has come."""
    node, remote, actors, article = thread
    # Given a thread scheduled a minute from now
    alice = actors["alice"]
    await deliver(node, http, alice, create(alice, note(alice, article)))
    # When the crawler's step runs now
    report = await node.node.crawler.run_once()
    # Then nothing was crawled
    assert report is None and (await state_of(node)).last_crawled_at is None


@pytest.mark.postgres
async def test_schedule_and_backfill_work_on_postgresql(tmp_path, http):
    """On PostgreSQL too, a comment schedules its thread once (the upsert) and a crawl backfills a reply."""
    from tests.support import make_settings, postgres_database

    async with postgres_database() as url, fake_remote() as remote:
        alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
        async with running_node(make_settings(tmp_path, database_url=url)) as node:
            # Given Alice's comment, delivered twice over (two activities), whose collection lists Bob's reply
            await publish_topic(node)
            alices = note(alice, node.url("/articles/topic"))
            alices["replies"] = f"{alices['id']}/replies"
            publish(remote, alices)
            bobs = publish(remote, note(bob, alices["id"]))
            serve_replies(remote, alices["id"], [bobs["id"]])
            await deliver(node, http, alice, create(alice, alices))
            await deliver(node, http, bob, create(bob, note(bob, node.url("/articles/topic"))))
            # When the thread is crawled
            report = await node.node.crawler.crawl(await root_id(node))
            # Then there is one schedule row, and Bob's reply was stored
            async with node.node.sessions() as session:
                rows = (await session.scalars(select(CrawlState))).all()
            assert len(rows) == 1 and rows[0].last_found == 1
            assert report.found == 1 and await comment(node, bobs["id"]) is not None
