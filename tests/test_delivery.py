"""Deliveries over real HTTP on 127.0.0.1: retries, give-ups, circuit breaker, unavailable hosts, leases.

The node runs with ``run_worker=False`` and each test drives a ``DeliveryWorker``
itself with ``run_once()``, so every round is visible.  Waiting real minutes for
a backoff is not an option: to make a row due again a test moves its
``next_attempt_at`` into the past, which is exactly what the clock would do.
The fake remote is scripted per inbox path (500, 429 + Retry-After, 410, slow
answers) and records every POST it gets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from node.content import Draft
from node.db import queries
from node.db.models import Delivery, Host
from node.db.types import utcnow
from node.federation import outbox
from node.federation.delivery import BREAKER_COOL_OFF, BREAKER_THRESHOLD, DeliveryWorker, _Ledger
from node.federation.retry import MAX_ATTEMPTS
from node.services.publish import publish_article
from tests.delivery_support import add_followers, own_inbox_actor
from tests.factories import follow_of
from tests.fakes.remote import Answer, fake_remote, signed_post
from tests.support import free_port, make_settings, running_node


class FakeClock:
    """A monotonic clock for the circuit breaker that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def quiet(tmp_path):
    """A node serving HTTP on 127.0.0.1 without a delivery worker of its own."""
    async with running_node(make_settings(tmp_path, run_worker=False)) as running:
        yield running


@pytest.fixture
async def pooled(tmp_path):
    """Like ``quiet``, but signing in two signing processes, as in production (tests default to none)."""
    async with running_node(make_settings(tmp_path, run_worker=False, signing_processes=2)) as running:
        yield running


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        yield server


async def publish(node, slug: str = "hello"):
    """Publish an article by the default author (queues Create(Article) for the followers)."""
    async with node.sessions.begin() as session:
        author = await queries.get_local_actor(session, node.settings.default_author)
        return await publish_article(session, node.settings, Draft(slug.title(), slug, "Some text."), author)


async def deliveries(node) -> list[Delivery]:
    async with node.sessions() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def one_delivery(node) -> Delivery:
    rows = await deliveries(node)
    assert len(rows) == 1, rows
    return rows[0]


async def make_due(node) -> None:
    """Move every pending row's next attempt into the past (standing in for the backoff's wait)."""
    async with node.sessions.begin() as session:
        await session.execute(
            update(Delivery).where(Delivery.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def get_host(node, domain: str) -> Host | None:
    async with node.sessions() as session:
        return await session.get(Host, domain)


def worker_for(node, **options) -> DeliveryWorker:
    options.setdefault("rng", random.Random(7))
    options.setdefault("clock", FakeClock())
    return DeliveryWorker(node, **options)


async def test_a_successful_post_marks_the_delivery_delivered(quiet, remote):
    """A 202 from the inbox marks the row delivered after one attempt, and the Create arrived."""
    # Given one follower and a published article
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    published = await publish(quiet.node)
    # When the worker runs one round
    handled = await worker_for(quiet.node).run_once()
    # Then the row is delivered, and the follower's inbox got the Create
    row = await one_delivery(quiet.node)
    assert handled == 1
    assert (row.status, row.attempts, row.last_status, row.lease_until) == ("delivered", 1, 202, None)
    assert row.finished_at is not None
    assert remote.activity_ids("/users/alice/inbox") == [published.activity.ap_id]


async def test_followers_on_one_server_share_one_delivery_row(quiet, remote):
    """Three followers with one shared inbox plus one with its own inbox make two rows, not four."""
    # Given three followers on a server with a shared inbox, and one without
    sharing = [remote.add_actor(name) for name in ("alice", "bob", "carol")]
    dave = own_inbox_actor(remote, "dave")
    await add_followers(quiet.node, *sharing, dave)
    # When an article is published and delivered
    published = await publish(quiet.node)
    await worker_for(quiet.node).run_once()
    # Then one request went to the shared inbox and one to dave's inbox
    assert published.deliveries == 2
    assert sorted(r["path"] for r in remote.received) == ["/inbox", "/users/dave/inbox"]


async def test_a_500_is_retried_after_the_backoff_then_delivered(quiet, remote):
    """500 then 202: the first round schedules a retry 15-25 s later, the second delivers (attempts=2)."""
    # Given a follower whose inbox fails once
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.script("/users/alice/inbox", 500, 202)
    await publish(quiet.node)
    worker = worker_for(quiet.node)
    # When the worker runs a round
    before = utcnow()
    await worker.run_once()
    after = utcnow()
    # Then the row waits for the first backoff step
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
    assert before + timedelta(seconds=15) <= row.next_attempt_at <= after + timedelta(seconds=25)
    # When it is not yet due, a round does not touch it
    assert await worker.run_once() == 0
    # When the wait is over and the worker runs again
    await make_due(quiet.node)
    await worker.run_once()
    # Then it is delivered on the second attempt, the same activity both times
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status, row.last_error) == ("delivered", 2, 202, None)
    ids = remote.activity_ids("/users/alice/inbox")
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_429_with_retry_after_waits_at_least_that_long(quiet, remote):
    """A 429 with Retry-After: 3600 puts the next attempt an hour away, far beyond the 15-25 s backoff."""
    # Given an inbox that answers 429 asking for an hour
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.script("/users/alice/inbox", Answer(429, headers={"Retry-After": "3600"}))
    await publish(quiet.node)
    # When the worker runs a round
    before = utcnow()
    await worker_for(quiet.node).run_once()
    # Then the retry is at least an hour away
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 429)
    assert row.next_attempt_at >= before + timedelta(seconds=3600)
    assert row.next_attempt_at <= utcnow() + timedelta(seconds=3601)


async def test_a_410_is_given_up_at_once(quiet, remote):
    """A 410 Gone fails the delivery on its first attempt; it is never tried again."""
    # Given an inbox that is gone
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.script("/users/alice/inbox", 410)
    await publish(quiet.node)
    worker = worker_for(quiet.node)
    # When the worker runs, and runs again with everything made due
    await worker.run_once()
    await make_due(quiet.node)
    again = await worker.run_once()
    # Then the row failed after one attempt and nothing more was sent
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("failed", 1, 410)
    assert row.last_error.startswith("HTTP 410")
    assert again == 0
    assert len(remote.received) == 1


async def test_a_delivery_to_a_blocked_domain_is_given_up_without_a_request(tmp_path, remote):
    """A follower on a domain the operator blocked later gets nothing: the row fails at once, unsent."""
    # Given a follower reached at "localhost" (the same fake), and localhost then blocked
    alice = own_inbox_actor(remote, "alice", host="localhost")
    settings = make_settings(tmp_path, run_worker=False, blocked_domains=["localhost"])
    async with running_node(settings) as running:
        await add_followers(running.node, alice)
        await publish(running.node)
        # When the worker runs
        await worker_for(running.node).run_once()
        # Then the row failed on its first attempt, and the server saw no request
        row = await one_delivery(running.node)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "localhost is blocked" in row.last_error
    assert remote.received == []


async def test_sixteen_failed_retries_give_up(quiet, remote):
    """An inbox that always answers 500 is tried once and retried 16 times, then the row is failed."""
    # Given an inbox that always fails, and a breaker clock moved past each cool-off
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.inbox_status = 500
    await publish(quiet.node)
    clock = FakeClock()
    worker = worker_for(quiet.node, clock=clock)
    # When the worker runs round after round, the row made due each time
    for _ in range(MAX_ATTEMPTS + 2):
        await worker.run_once()
        await make_due(quiet.node)
        clock.advance(BREAKER_COOL_OFF + 1)  # the breaker would otherwise pause the host after 10
    # Then there were exactly 17 attempts and the row is failed
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("failed", MAX_ATTEMPTS, 500)
    assert len(remote.received) == MAX_ATTEMPTS


async def test_connection_refused_is_retried(quiet, remote):
    """An inbox on a port nobody listens on is a network error: retried later, with the error kept."""
    # Given a follower whose inbox is on a closed port
    alice = own_inbox_actor(remote, "alice")
    alice.document["inbox"] = f"http://127.0.0.1:{free_port()}/users/alice/inbox"
    await add_followers(quiet.node, alice)
    await publish(quiet.node)
    # When the worker runs a round
    await worker_for(quiet.node).run_once()
    # Then the row waits for a retry, with no status and the reason recorded
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, None)
    assert "could not post" in row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=10)


async def test_an_answer_slower_than_the_timeout_is_retried(quiet, remote):
    """An inbox that answers after the deadline counts as a network error and is retried."""
    # Given an inbox slower than a tiny deadline
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.script("/users/alice/inbox", Answer(202, delay=1.0))
    quiet.node.fetcher.policy = dataclasses.replace(quiet.node.fetcher.policy, total_timeout=0.2)
    await publish(quiet.node)
    # When the worker runs a round
    await worker_for(quiet.node).run_once()
    # Then the attempt timed out and the row is pending again
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, None)
    assert "timed out" in row.last_error


async def test_the_circuit_breaker_stops_a_round_after_ten_failures(quiet, remote):
    """After 10 consecutive failures to one host, its other due rows wait for the cool-off, unattempted."""
    # Given 20 followers on one failing host, sent one at a time to that host
    actors = [own_inbox_actor(remote, f"user{n}") for n in range(20)]
    await add_followers(quiet.node, *actors)
    remote.inbox_status = 500
    await publish(quiet.node)
    # When the worker runs one round
    before = utcnow()
    await worker_for(quiet.node, per_host=1).run_once()
    # Then ten were attempted and failed; the other ten were released without an attempt
    rows = await deliveries(quiet.node)
    attempted = [r for r in rows if r.attempts == 1]
    paused = [r for r in rows if r.attempts == 0]
    assert len(remote.received) == BREAKER_THRESHOLD
    assert (len(attempted), len(paused)) == (BREAKER_THRESHOLD, 20 - BREAKER_THRESHOLD)
    assert all(r.status == "pending" and r.last_status is None and r.lease_until is None for r in paused)
    assert all(r.next_attempt_at >= before + timedelta(seconds=BREAKER_COOL_OFF) for r in paused)


async def test_an_open_breaker_leaves_other_hosts_alone(quiet, remote):
    """The breaker of a failing host does not hold back deliveries to another host."""
    # Given a failing host with many followers and a healthy host ("localhost") with two
    failing = [own_inbox_actor(remote, f"user{n}") for n in range(12)]
    healthy = [own_inbox_actor(remote, f"ok{n}", host="localhost") for n in range(2)]
    await add_followers(quiet.node, *failing, *healthy)
    for actor in failing:
        remote.script(f"/users/{actor.id.rsplit('/', 1)[1]}/inbox", 500)
    await publish(quiet.node)
    # When the worker runs one round
    await worker_for(quiet.node, per_host=1).run_once()
    # Then both healthy rows were delivered although the other host's breaker opened
    rows = await deliveries(quiet.node)
    assert sorted(r.status for r in rows if r.host == "localhost") == ["delivered", "delivered"]
    assert sum(1 for r in rows if r.host == "127.0.0.1" and r.attempts == 0) == 12 - BREAKER_THRESHOLD


async def test_the_breaker_closes_after_the_cool_off(quiet, remote):
    """Once the cool-off has passed, rows of a paused host are attempted again."""
    # Given a round that opened the breaker for a failing host
    actors = [own_inbox_actor(remote, f"user{n}") for n in range(12)]
    await add_followers(quiet.node, *actors)
    remote.inbox_status = 500
    await publish(quiet.node)
    clock = FakeClock()
    worker = worker_for(quiet.node, per_host=1, clock=clock)
    await worker.run_once()
    remote.inbox_status = 202
    # When the cool-off has passed and the rows are due
    clock.advance(BREAKER_COOL_OFF + 1)
    await make_due(quiet.node)
    await worker.run_once()
    # Then every row was attempted again and delivered
    rows = await deliveries(quiet.node)
    assert [r.status for r in rows] == ["delivered"] * 12


async def test_give_ups_do_not_open_the_breaker(quiet, remote):
    """Answers that are given up (410) are not failures of the host: every row is attempted."""
    # Given 12 followers whose inboxes are gone
    actors = [own_inbox_actor(remote, f"user{n}") for n in range(12)]
    await add_followers(quiet.node, *actors)
    remote.inbox_status = 410
    await publish(quiet.node)
    # When the worker runs one round
    await worker_for(quiet.node, per_host=1).run_once()
    # Then all 12 were attempted and failed for good
    rows = await deliveries(quiet.node)
    assert len(remote.received) == 12
    assert [r.status for r in rows] == ["failed"] * 12


async def mark_six_earlier_failure_days(node, domain: str) -> list[str]:
    """Record failures on six earlier distinct days (nobody waits six real days in a test)."""
    days = [(utcnow() - timedelta(days=d)).strftime("%Y%m%d") for d in range(6, 0, -1)]
    async with node.sessions.begin() as session:
        session.add(Host(domain=domain, failure_days=days))
    return days


async def test_a_seventh_failure_day_marks_the_host_unavailable(quiet, remote):
    """A host with failures on six earlier days that fails again today is marked unavailable."""
    # Given a host that failed on six earlier days and fails today
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    earlier = await mark_six_earlier_failure_days(quiet.node, "127.0.0.1")
    remote.inbox_status = 503
    await publish(quiet.node)
    # When the worker runs a round
    await worker_for(quiet.node).run_once()
    # Then today is the seventh distinct day and the host is unavailable
    host = await get_host(quiet.node, "127.0.0.1")
    assert host.failure_days == sorted(earlier + [utcnow().strftime("%Y%m%d")])
    assert host.unavailable_since is not None


async def test_six_failure_days_do_not_make_a_host_unavailable(quiet, remote):
    """Failures on fewer than seven distinct days keep the host available (the twin of the test above)."""
    # Given a host that failed on five earlier days and fails today
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    earlier = await mark_six_earlier_failure_days(quiet.node, "127.0.0.1")
    async with quiet.node.sessions.begin() as session:
        (await session.get(Host, "127.0.0.1")).failure_days = earlier[1:]
    remote.inbox_status = 503
    await publish(quiet.node)
    # When the worker runs a round
    await worker_for(quiet.node).run_once()
    # Then six days are recorded and the host is still available
    host = await get_host(quiet.node, "127.0.0.1")
    assert len(host.failure_days) == 6
    assert host.unavailable_since is None


async def test_due_rows_of_an_unavailable_host_fail_without_a_request(quiet, remote):
    """A row still queued for a host that became unavailable is failed with the reason; nothing is sent."""
    # Given a queued row for a host that then became unavailable
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    await publish(quiet.node)
    async with quiet.node.sessions.begin() as session:
        session.add(Host(domain="127.0.0.1", failure_days=[], unavailable_since=utcnow()))
    # When the worker runs a round
    await worker_for(quiet.node).run_once()
    # Then the row failed, saying why, and the host got no request
    row = await one_delivery(quiet.node)
    assert row.status == "failed"
    assert row.last_error == "127.0.0.1 is marked unavailable"
    assert remote.received == []


async def test_new_activities_skip_an_unavailable_host(quiet, remote):
    """Publishing queues nothing for a host marked unavailable, but still queues for the others."""
    # Given followers on an unavailable host and on an available one
    alice = own_inbox_actor(remote, "alice")
    bob = own_inbox_actor(remote, "bob", host="localhost")
    await add_followers(quiet.node, alice, bob)
    async with quiet.node.sessions.begin() as session:
        session.add(Host(domain="127.0.0.1", failure_days=[], unavailable_since=utcnow()))
    # When an article is published
    published = await publish(quiet.node)
    # Then only the available host has a row
    assert published.deliveries == 1
    assert [r.host for r in await deliveries(quiet.node)] == ["localhost"]


async def test_a_signed_request_from_an_unavailable_host_makes_it_available(quiet, remote, http):
    """When an unavailable host sends us a signed activity, its mark and failure days are cleared."""
    # Given an unavailable host with a follower on it
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    await mark_six_earlier_failure_days(quiet.node, "127.0.0.1")
    async with quiet.node.sessions.begin() as session:
        (await session.get(Host, "127.0.0.1")).unavailable_since = utcnow()
    # When that host sends a signed request to our inbox
    bob = remote.add_actor("bob", key_index=1)
    status, _ = await signed_post(http, quiet.url("/inbox"), follow_of(bob, quiet.url("/actors/forum")), bob)
    # Then it is available again, and a new article is queued for it
    assert status == 202
    host = await get_host(quiet.node, "127.0.0.1")
    assert (host.unavailable_since, host.failure_days) == (None, [])
    await publish(quiet.node)
    assert alice.inbox in [r.inbox for r in await deliveries(quiet.node)]


async def test_a_success_clears_the_failure_days(quiet, remote):
    """Any delivered request wipes the host's failure record."""
    # Given a host with six failure days
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    await mark_six_earlier_failure_days(quiet.node, "127.0.0.1")
    await publish(quiet.node)
    # When a delivery to it succeeds
    await worker_for(quiet.node).run_once()
    # Then its failure days are gone and the success is recorded
    host = await get_host(quiet.node, "127.0.0.1")
    assert host.failure_days == []
    assert host.last_success_at is not None


async def test_retry_deliveries_makes_failed_rows_due_with_a_fresh_schedule(quiet, remote):
    """`fednode deliveries retry` turns a failed row into a due one with zero attempts; it is then delivered."""
    # Given a row given up after a 410
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    remote.script("/users/alice/inbox", 410)
    await publish(quiet.node)
    worker = worker_for(quiet.node)
    await worker.run_once()
    assert (await one_delivery(quiet.node)).status == "failed"
    # When the operator retries the deliveries
    async with quiet.node.sessions.begin() as session:
        count = await queries.retry_deliveries(session)
    row = await one_delivery(quiet.node)
    # Then the row is due now with a fresh schedule, and the next round delivers it
    assert count == 1
    assert (row.status, row.attempts, row.lease_until) == ("pending", 0, None)
    assert row.next_attempt_at <= utcnow()
    await worker.run_once()
    row = await one_delivery(quiet.node)
    assert (row.status, row.attempts) == ("delivered", 1)


async def test_retry_deliveries_clears_the_unavailable_mark(quiet, remote):
    """Retrying deliveries also lets their hosts be tried again."""
    # Given a failed row to a host marked unavailable
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    await publish(quiet.node)
    async with quiet.node.sessions.begin() as session:
        session.add(Host(domain="127.0.0.1", failure_days=["20260101"], unavailable_since=utcnow()))
    worker = worker_for(quiet.node)
    await worker.run_once()
    # When the operator retries
    async with quiet.node.sessions.begin() as session:
        await queries.retry_deliveries(session)
    await worker.run_once()
    # Then the host is available and the row delivered
    host = await get_host(quiet.node, "127.0.0.1")
    assert host.unavailable_since is None
    assert (await one_delivery(quiet.node)).status == "delivered"


async def test_leased_rows_are_not_claimed_by_another_worker_until_the_lease_ends(quiet, remote):
    """Rows claimed by one worker are invisible to another; once the lease runs out the other takes them."""
    # Given three queued rows, claimed by a worker with a one-second lease
    actors = [own_inbox_actor(remote, name) for name in ("alice", "bob", "carol")]
    await add_followers(quiet.node, *actors)
    await publish(quiet.node)
    first, second = worker_for(quiet.node, lease_seconds=1), worker_for(quiet.node, lease_seconds=60)
    claimed = await first.claim(10)
    # When a second worker claims at once
    # Then it gets nothing
    assert len(claimed) == 3
    assert await second.claim(10) == []
    # When the first worker's lease runs out (it "crashed": it never records anything)
    await asyncio.sleep(1.2)
    taken = await second.claim(10)
    # Then the second worker holds every row
    assert sorted(r.id for r in taken) == sorted(r.id for r in claimed)
    assert {r.lease_owner for r in await deliveries(quiet.node)} == {second.token}


async def test_a_row_whose_lease_ran_out_while_waiting_is_left_to_its_new_owner(quiet, remote):
    """A worker does not post a row it waited on past its lease: another worker may have claimed it."""
    # Given three rows for one slow host (0.7 s a request), claimed by a worker with a
    # one-second lease sending one request at a time: the third row's turn comes after 1.4 s
    actors = [own_inbox_actor(remote, name) for name in ("alice", "bob", "carol")]
    await add_followers(quiet.node, *actors)
    remote.inbox_delay = 0.7
    await publish(quiet.node)
    slow = worker_for(quiet.node, lease_seconds=1, per_host=1)
    other = worker_for(quiet.node, lease_seconds=60)
    # When the lease runs out while the third row still waits, and another worker claims it
    round_ = asyncio.create_task(slow.run_once())
    await asyncio.sleep(1.5)
    taken = await other.claim(10)
    await round_
    # Then the other worker holds the third row, which the first worker never posted
    paths = [r["path"] for r in remote.received]
    assert actors[2].inbox in [row.inbox for row in taken]
    assert "/users/alice/inbox" in paths and "/users/carol/inbox" not in paths
    rows = {row.inbox: row for row in await deliveries(quiet.node)}
    assert (rows[actors[2].inbox].attempts, rows[actors[2].inbox].lease_owner) == (0, other.token)


async def test_every_delivery_verifies_and_is_signed_like_mastodon(pooled, remote):
    """The receiver verifies each request with our own verifier; draft-cavage covers the five headers."""
    # Given two followers with their own inboxes on a server that verifies signatures
    remote.verify_posts = True
    actors = [own_inbox_actor(remote, name) for name in ("alice", "bob")]
    await add_followers(pooled.node, *actors)
    await publish(pooled.node)
    # When the worker delivers, signing in the signing processes
    await worker_for(pooled.node).run_once()
    # Then both requests verified, signed by the author, over the headers Mastodon signs
    assert [r.status for r in await deliveries(pooled.node)] == ["delivered", "delivered"]
    assert remote.verified_signers == [pooled.url("/actors/editor#main-key")] * 2
    assert pooled.node.fetcher.sign_pool.signed == 2
    for request in remote.received:
        signature = request["headers"]["Signature"]
        assert 'headers="(request-target) host date digest content-type"' in signature
        assert 'algorithm="rsa-sha256"' in signature


async def test_each_attempt_is_signed_afresh(pooled, remote):
    """A retried delivery carries a new Date and Signature (nothing signed is stored), and still verifies."""
    # Given a verifying inbox that fails the first attempt
    remote.verify_posts = True
    alice = own_inbox_actor(remote, "alice")
    await add_followers(pooled.node, alice)
    remote.script("/users/alice/inbox", 500, 202)
    await publish(pooled.node)
    worker = worker_for(pooled.node)
    # When the row is attempted twice, more than a second apart (signed in the signing processes)
    await worker.run_once()
    await asyncio.sleep(1.1)  # Date has a resolution of one second
    await make_due(pooled.node)
    await worker.run_once()
    # Then the two requests had different dates and signatures, and both verified
    first, second = remote.received
    assert first["body"] == second["body"]
    assert first["headers"]["Date"] != second["headers"]["Date"]
    assert first["headers"]["Signature"] != second["headers"]["Signature"]
    assert len(remote.verified_signers) == 2
    assert pooled.node.fetcher.sign_pool.signed == 2


async def test_per_host_concurrency_never_exceeds_the_limit(quiet, remote):
    """With per_host=3, no more than three requests to one host are in flight at once."""
    # Given twelve followers on one host whose inbox answers slowly
    actors = [own_inbox_actor(remote, f"user{n}") for n in range(12)]
    await add_followers(quiet.node, *actors)
    remote.inbox_delay = 0.1
    await publish(quiet.node)
    # When the worker delivers with a per-host limit of 3 and room for 10 in all
    await worker_for(quiet.node, per_host=3, concurrency=10).run_once()
    # Then at most three were in flight at once (and the limit was used)
    assert len(remote.received) == 12
    assert remote.peak_in_flight == 3


async def test_total_concurrency_never_exceeds_the_limit(quiet, remote):
    """With two hosts and concurrency=4, no more than four requests are in flight in all."""
    # Given eight followers on each of two hosts, answering slowly
    actors = [own_inbox_actor(remote, f"a{n}") for n in range(8)]
    actors += [own_inbox_actor(remote, f"b{n}", host="localhost") for n in range(8)]
    await add_followers(quiet.node, *actors)
    remote.inbox_delay = 0.1
    await publish(quiet.node)
    # When the worker delivers with room for four in all and three per host
    await worker_for(quiet.node, per_host=3, concurrency=4).run_once()
    # Then at most four were in flight (both hosts sharing the total)
    assert len(remote.received) == 16
    assert remote.peak_in_flight == 4


async def test_a_busy_host_does_not_hold_back_other_hosts(quiet, remote):
    """Rows waiting for a busy host's turn do not take the slots other hosts' rows could use."""
    # Given eight slow rows for one host and two for another, one request per host at a time, two in all
    actors = [own_inbox_actor(remote, f"a{n}") for n in range(8)]
    actors += [own_inbox_actor(remote, f"b{n}", host="localhost") for n in range(2)]
    await add_followers(quiet.node, *actors)
    remote.inbox_delay = 0.2
    await publish(quiet.node)
    # When the worker delivers them
    await worker_for(quiet.node, per_host=1, concurrency=2).run_once()
    # Then the other host's two rows went out alongside the busy host's first ones, not after all eight
    order = [r["path"] for r in remote.received]
    assert len(order) == 10
    assert {order.index("/users/b0/inbox"), order.index("/users/b1/inbox")} <= {0, 1, 2, 3}



async def test_a_host_that_does_not_answer_moves_to_the_slow_lane_and_holds_back_no_one(quiet, remote):
    """Rows for a host that takes 3 s leave the fast lane after slow_after; live hosts' rows go out meanwhile."""
    # Given four rows for a host that answers only after 3 s, and six for a host answering at once,
    # with two fast slots that the slow host's rows take first
    slow = [own_inbox_actor(remote, f"s{n}", host="localhost") for n in range(4)]
    live = [own_inbox_actor(remote, f"l{n}") for n in range(6)]
    for actor in slow:
        remote.script(f"/users/{actor.document['preferredUsername']}/inbox", Answer(status=202, delay=3.0))
    await add_followers(quiet.node, *slow, *live)
    await publish(quiet.node)
    # When one worker delivers them with a fast lane of two and a slow lane of four
    await worker_for(quiet.node, concurrency=2, slow_lane=4, slow_after=0.3).run_once()
    # Then every row is delivered, and each live row was recorded before any slow one
    rows = await deliveries(quiet.node)
    assert {r.status for r in rows} == {"delivered"}
    slow_done = min(r.finished_at for r in rows if "localhost" in r.inbox)
    assert all(r.finished_at < slow_done for r in rows if "127.0.0.1" in r.inbox)


async def test_the_worker_loop_claims_new_rows_while_a_slow_one_is_in_flight(quiet, remote):
    """The background loop does not wait for a round to finish: an article published later reaches a
    live inbox while an earlier row for a slow host is still waiting for its answer."""
    # Given a worker running in the background, delivering a row to a host that answers after 3 s
    slow = own_inbox_actor(remote, "slow", host="localhost")
    remote.script("/users/slow/inbox", Answer(status=202, delay=3.0), Answer(status=202, delay=3.0))
    await add_followers(quiet.node, slow)
    await publish(quiet.node, "first")
    worker = worker_for(quiet.node, concurrency=2, slow_lane=2, slow_after=0.3, poll_interval=0.05)
    await worker.start()
    try:
        await asyncio.sleep(0.5)
        # When a live follower arrives and a second article is published
        live = own_inbox_actor(remote, "live")
        await add_followers(quiet.node, live)
        await publish(quiet.node, "second")
        worker.wake()
        for _ in range(100):
            rows = {(r.activity_ap_id, r.inbox): r for r in await deliveries(quiet.node)}
            if any(r.status == "delivered" and r.inbox == live.inbox for r in rows.values()):
                break
            await asyncio.sleep(0.02)
        # Then the live inbox has the second article while the slow row is still pending
        statuses = {r.inbox: r.status for r in rows.values()}
        assert statuses[live.inbox] == "delivered"
        assert [r.status for r in rows.values() if r.inbox == slow.inbox] == ["pending", "pending"]
    finally:
        await worker.stop()


async def test_with_nothing_in_hand_the_loop_claims_a_lane_first_and_the_rest_at_once(quiet, remote):
    """A fan-out's first rows go out as soon as a fast lane's worth is claimed; the rest of the room is
    claimed right after (not at the next poll), while those first rows are signed and posted."""
    # Given ten followers with inboxes of their own, and a worker with 2 fast slots and a slow lane of 2
    # (so it holds at most 2 * 4 + 2 = 10 rows), polling only once a minute
    followers = [own_inbox_actor(remote, f"reader{n}") for n in range(10)]
    await add_followers(quiet.node, *followers)
    worker = worker_for(quiet.node, concurrency=2, slow_lane=2, poll_interval=60.0)
    claim, asked, looked = worker._claim_and_learn, [], asyncio.Event()

    async def counted_claim(limit, *args, **kwargs):
        rows = await claim(limit, *args, **kwargs)
        asked.append((limit, len(rows)))
        looked.set()
        return rows

    worker._claim_and_learn = counted_claim
    await worker.start()
    try:
        await looked.wait()  # the loop's first look, with nothing queued yet
        # When an article is published to them and the worker woken
        await publish(quiet.node)
        worker.wake()
        rows = []
        for _ in range(1000):
            rows = await deliveries(quiet.node)
            if all(r.status == "delivered" for r in rows):
                break
            await asyncio.sleep(0.02)
        # Then the first claim that found rows asked for a fast lane's worth, the next one at once for
        # the rest of the room, and every follower got the article once
        assert asked[0] == (2, 0)
        assert asked[1:3] == [(2, 2), (8, 8)]
        assert [r.status for r in rows] == ["delivered"] * 10
        assert sorted(r["path"] for r in remote.received) == sorted(urlsplit(f.inbox).path for f in followers)
    finally:
        await worker.stop()


async def test_a_group_commit_wakes_every_row_it_wrote_at_once_and_a_failed_one_is_retried():
    """Outcomes that queue while a commit is under way are written together by the next one, which
    releases all of their rows in the same turn of the event loop (a row holds its lane slot until
    then); when a commit fails, its writer gets the error and the next writer writes the others."""
    # Given a ledger whose first and third commits wait for a gate, and whose fourth commit fails
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def write(rows, results):
        batches.append([row for row in rows])
        if len(batches) in (1, 3):
            await gate.wait()
        else:
            await asyncio.sleep(0)
        if len(batches) == 4:
            raise RuntimeError("database is locked")

    ledger = _Ledger(write)
    turn, finished = 0, {}

    async def count_turns():
        nonlocal turn
        while True:
            await asyncio.sleep(0)
            turn += 1

    async def record(n: int):
        await ledger.record(n, None)
        finished[n] = turn

    counter = asyncio.ensure_future(count_turns())
    try:
        first = asyncio.ensure_future(record(0))
        await asyncio.sleep(0)  # row 0 is being written
        # When five more outcomes come while that commit is under way, and it then finishes
        rest = [asyncio.ensure_future(record(n)) for n in range(1, 6)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, *rest)
        # Then the five were written by one commit (by the first of them), and the other four rows
        # returned together, in the turn after it
        assert batches == [[0], [1, 2, 3, 4, 5]]
        assert {finished[n] for n in range(2, 6)} == {finished[1] + 1}
        # And when a commit fails, its writer gets the error and the others are written by the next one
        gate.clear()
        held = asyncio.ensure_future(ledger.record(6, None))
        await asyncio.sleep(0)  # row 6 is being written
        failing = [asyncio.ensure_future(ledger.record(n, None)) for n in (7, 8, 9)]
        await asyncio.sleep(0)
        gate.set()
        outcomes = await asyncio.gather(held, *failing, return_exceptions=True)
        assert batches[2:] == [[6], [7, 8, 9], [8, 9]]
        assert outcomes[0] is None and isinstance(outcomes[1], RuntimeError) and outcomes[2:] == [None, None]
    finally:
        counter.cancel()


async def test_a_row_cancelled_as_it_is_handed_the_next_commit_passes_it_on():
    """A worker stopping cancels its rows: one cancelled just as the next commit was handed to it
    passes the commit on, its outcome is still written, and the ledger goes on writing."""
    # Given a ledger whose first commit waits for a gate while rows 1 and 2 queue up
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def write(rows, results):
        batches.append(list(rows))
        if len(batches) == 1:
            await gate.wait()

    ledger = _Ledger(write)
    first = asyncio.ensure_future(ledger.record(0, None))
    await asyncio.sleep(0)
    one, two = (asyncio.ensure_future(ledger.record(n, None)) for n in (1, 2))
    await asyncio.sleep(0)
    # When row 1 is cancelled right as the first commit hands it the next one
    hand_over = ledger._hand_over

    def hand_over_and_cancel() -> bool:
        handed = hand_over()
        ledger._hand_over = hand_over
        one.cancel()
        return handed

    ledger._hand_over = hand_over_and_cancel
    gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(first, one, two, return_exceptions=True), 5)
    # Then row 2 wrote both outcomes, and a later outcome is written too
    assert outcomes[0] is None and isinstance(outcomes[1], asyncio.CancelledError) and outcomes[2] is None
    assert batches == [[0], [1, 2]]
    await asyncio.wait_for(ledger.record(3, None), 5)
    assert batches[-1] == [3]


async def test_queueing_activities_writes_one_row_per_activity_and_inbox_with_its_columns(quiet):
    """``enqueue_many`` gives every row the columns its activity shares once; only the inbox and its host
    differ; a repeated inbox is queued once."""
    # Given two activities and three inboxes on two hosts, one of them named twice
    activities = [{"id": f"http://127.0.0.1:9/activities/{n}", "type": "Announce", "actor": "http://127.0.0.1:9/site",
                   "object": f"http://elsewhere.test/notes/{n}"} for n in (1, 2)]
    inboxes = ["https://a.test/inbox", "https://b.test/users/x/inbox", "https://a.test/inbox", "https://b.test/inbox"]
    # When they are queued in one transaction
    async with quiet.node.sessions.begin() as session:
        queued = await outbox.enqueue_many(session, activities, signer="site", inboxes=inboxes)
    # Then each activity has one pending row per distinct inbox, with its own body, the signer and the host
    rows = await deliveries(quiet.node)
    assert queued == 6 == len(rows)
    assert sorted((r.activity_ap_id, r.inbox, r.host) for r in rows) == sorted(
        (a["id"], inbox, inbox.split("/")[2]) for a in activities for inbox in set(inboxes))
    for row in rows:
        document = json.loads(row.body)
        assert document["id"] == row.activity_ap_id and document["object"] == row.object_ap_id
        assert (row.signer, row.status, row.attempts, row.lease_until) == ("site", "pending", 0, None)
        assert row.next_attempt_at == row.created_at and row.created_at.tzinfo is not None


async def test_a_wake_up_during_a_claim_that_found_nothing_is_not_lost(quiet, remote):
    """Rows committed just after a claim looked, and the wake-up that announces them, arrive while the
    claim is still under way: the loop claims again at once instead of sleeping until its next poll."""
    # Given a worker whose loop polls only once a minute, and whose claim we can hold back
    alice = own_inbox_actor(remote, "alice")
    await add_followers(quiet.node, alice)
    worker = worker_for(quiet.node, poll_interval=60.0)
    claim, held, looked = worker._claim_and_learn, asyncio.Event(), asyncio.Event()

    async def held_back_claim(*args, **kwargs):
        rows = await claim(*args, **kwargs)  # looks now...
        looked.set()
        await held.wait()  # ...and comes back only once the test lets it
        return rows

    worker._claim_and_learn = held_back_claim
    await worker.start()
    try:
        await looked.wait()  # the loop's first claim found nothing
        # When an article is published and the worker woken while that claim is still under way
        await publish(quiet.node)
        worker.wake()
        worker._claim_and_learn = claim
        held.set()
        # Then the row is delivered long before the next poll (60 s) would have looked
        row = None
        for _ in range(1000):
            row = await one_delivery(quiet.node)
            if row.status == "delivered":
                break
            await asyncio.sleep(0.02)
        assert row is not None and row.status == "delivered"
        assert len(remote.received) == 1
    finally:
        await worker.stop()
