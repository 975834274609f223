"""Signing processes (node.federation.signpool): signatures that verify, lazy start, no leaks, fallbacks."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest

from node import keys
from node.app import open_node
from node.errors import SignatureError
from node.federation import httpsig
from node.federation.httpsig import BodyDigests
from node.federation.signing import ActorSigner
from node.federation.signpool import BATCH, SignPool, SignPoolError, auto_processes, make_job
from node.federation.vocab import ACTIVITY_JSON
from node.urls import INSTANCE_ACTOR_USERNAME
from tests.support import is_alive, make_settings, running_node

BODY = b'{"type":"Create","id":"http://forum.test/activities/1"}'
KEY_ID = "http://forum.test/actors/alice#main-key"


@pytest.fixture
def keys_dir(tmp_path) -> Path:
    keys.ensure_key(tmp_path / "keys", "alice")
    return tmp_path / "keys"


@pytest.fixture
async def pool(keys_dir):
    made = SignPool(str(keys_dir), 2)
    try:
        yield made
    finally:
        await made.close()


def alice(keys_dir: Path, pool: SignPool | None) -> ActorSigner:
    return ActorSigner(keys.load_private_key(keys_dir, "alice"), KEY_ID, "alice", pool)


def verify(url: str, added: dict[str, str], signer: ActorSigner, body: bytes = BODY) -> httpsig.VerifiedSignature:
    """Check a signed POST as a receiving server does, with the signer's public key."""
    headers = {"Content-Type": ACTIVITY_JSON, **added}
    parsed = httpsig.parse_request_signature("POST", url, headers, body, now=datetime.now(timezone.utc))
    return httpsig.verify_signature(parsed, signer.private_key.public_key())


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_signatures_from_the_pool_verify(pool, keys_dir, scheme):
    """Many requests signed at once, in both schemes, each verifying with the actor's public key."""
    # Given a signer using a pool of two processes
    signer = alice(keys_dir, pool)
    urls = [f"http://h{n}.test/inbox" for n in range(40)]
    # When forty requests are signed at the same time
    results = await asyncio.gather(*(
        signer.sign_async("POST", url, {"Content-Type": ACTIVITY_JSON}, BODY, scheme, digests=BodyDigests(BODY))
        for url in urls
    ))
    # Then the workers made every signature, and each verifies for its own request only
    assert pool.signed == 40
    for url, added in zip(urls, results):
        assert verify(url, added, signer).scheme == scheme
    with pytest.raises(SignatureError):
        verify(urls[0], {**results[0], "Signature": results[1]["Signature"]}, signer)


async def test_the_pool_starts_on_first_use_and_close_leaves_no_process(keys_dir):
    """No process before the first signature; two after it; none once the pool is closed."""
    # Given a pool of two that has signed nothing yet
    pool = SignPool(str(keys_dir), 2)
    assert pool.pids == []
    # When it signs once
    added = await pool.sign(make_job("alice", KEY_ID, "cavage", "POST", "http://h.test/inbox",
                                     {"Content-Type": ACTIVITY_JSON}, httpsig.body_digest(BODY)))
    pids = pool.pids
    # Then two processes run, and the signature verifies
    assert len(pids) == 2 and all(map(is_alive, pids))
    verify("http://h.test/inbox", added, alice(keys_dir, None))
    # And after close none of them is left
    await pool.close()
    assert not any(map(is_alive, pids))
    assert pool.pids == []


async def test_after_close_the_signer_signs_in_its_own_process(keys_dir):
    """A closed pool starts no new process: the signer signs by itself, and the signature verifies."""
    # Given a pool that was used and closed
    pool = SignPool(str(keys_dir), 1)
    signer = alice(keys_dir, pool)
    await signer.sign_async("POST", "http://h.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)
    await pool.close()
    # When the signer signs again
    added = await signer.sign_async("POST", "http://h.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)
    # Then no process was started, and the signature verifies
    assert pool.pids == [] and pool.signed == 1
    with pytest.raises(SignPoolError):
        await pool.sign(make_job("alice", KEY_ID, "cavage", "POST", "http://h.test/inbox", {}, None))
    verify("http://h.test/inbox", added, signer)


async def test_a_killed_worker_is_replaced_and_no_request_is_lost(pool, keys_dir):
    """Requests a dying worker held are signed in the node's process; later ones go to a new worker."""
    # Given a started pool with one of its workers about to be killed
    signer = alice(keys_dir, pool)
    await pool.start()
    victim, survivor = pool.pids
    # When a burst of requests is in flight as the worker dies
    burst = [asyncio.ensure_future(signer.sign_async(
        "POST", f"http://h{n}.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)) for n in range(30)]
    await asyncio.sleep(0)  # the burst is handed to the workers
    os.kill(victim, signal.SIGKILL)
    results = await asyncio.gather(*burst)
    # Then every request got a signature that verifies
    for n, added in enumerate(results):
        verify(f"http://h{n}.test/inbox", added, signer)
    # And the next request brings the pool back to two workers, without the dead one
    added = await signer.sign_async("POST", "http://h.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)
    verify("http://h.test/inbox", added, signer)
    assert len(pool.pids) == 2 and victim not in pool.pids and survivor in pool.pids


async def test_a_worker_error_is_reported_and_the_worker_goes_on(pool, keys_dir):
    """A request the worker cannot sign (no such key) fails alone; the next one is signed."""
    # Given a pool, and a request for an actor without a key
    missing = make_job("nobody", KEY_ID, "cavage", "POST", "http://h.test/inbox", {}, None)
    # When it is signed, then the pool says why it could not
    with pytest.raises(SignPoolError, match="no key"):
        await pool.sign(missing)
    # And the pool still signs for a real actor
    added = await alice(keys_dir, pool).sign_async("POST", "http://h.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)
    verify("http://h.test/inbox", added, alice(keys_dir, None))


async def test_a_full_batch_goes_at_once_and_each_request_keeps_its_own_outcome(pool, keys_dir):
    """Once BATCH requests wait, they go to a worker in the same turn of the loop; the rest go at its end;
    inside a batch each request gets its own signature, or its own error."""
    # Given a started pool of two workers, and BATCH + 4 requests of which two are for an actor without a key
    await pool.start()
    signer = alice(keys_dir, pool)
    urls = [f"http://h{n}.test/inbox" for n in range(BATCH + 4)]
    missing = {3, BATCH + 1}

    async def one(n: int, url: str):
        if n in missing:
            return await pool.sign(make_job("nobody", KEY_ID, "cavage", "POST", url, {}, None))
        return await signer.sign_async("POST", url, {"Content-Type": ACTIVITY_JSON}, BODY)

    # When they are all asked in one turn of the loop
    tasks = [asyncio.ensure_future(one(n, url)) for n, url in enumerate(urls)]
    await asyncio.sleep(0)  # every task has asked once this returns; a flush left to the loop comes later
    # Then the first BATCH went to a worker during that turn
    assert pool.batches == 1
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # And the other four went in one more batch; each request has its own outcome
    assert pool.batches == 2 and pool.signed == len(urls) - len(missing)
    for n, (url, result) in enumerate(zip(urls, results)):
        if n in missing:
            assert isinstance(result, SignPoolError) and "no key" in str(result)
        else:
            verify(url, result, signer)


async def test_the_setting_sizes_the_pool(tmp_path):
    """signing_processes: 0 means no pool; -1 one process per core (at most 4); N means N."""
    # Given the three kinds of value
    assert auto_processes(0) == 0 and auto_processes(3) == 3
    assert auto_processes(-1) == max(1, min(os.cpu_count() or 1, 4))
    # When a node is opened with 0 or 2, then it has no pool or a pool of two that has not started yet
    for processes, expected in ((0, None), (2, 2)):
        node = await open_node(make_settings(tmp_path / str(processes), signing_processes=processes))
        try:
            pool = node.fetcher.sign_pool
            assert (pool.processes if pool else None) == expected
            assert pool is None or pool.pids == []
        finally:
            await node.close()


async def test_signed_fetches_are_signed_in_the_pool_too(tmp_path):
    """The instance actor's GETs (authorized fetch) are signed by the signing processes and verify."""
    from tests.fakes.remote import fake_remote

    # Given a node (serving its keys) with a signing process, and a server that refuses unsigned GETs
    async with running_node(make_settings(tmp_path, signing_processes=1)) as running, fake_remote() as remote:
        remote.require_signed_gets = True
        actor = remote.add_actor("bob")
        # When the node fetches a document there
        document = await running.node.fetcher.get_activitypub(actor.id)
        signed = running.node.fetcher.sign_pool.signed
        instance_key = running.node.urls.key_id(INSTANCE_ACTOR_USERNAME)
    # Then the server verified our instance actor's signature, made in the signing process
    assert document["id"] == actor.id
    assert remote.verified_signers and set(remote.verified_signers) == {instance_key}
    assert signed == len(remote.verified_signers)


async def test_a_pool_that_cannot_start_leaves_signing_to_the_node(keys_dir, monkeypatch):
    """If no process can be started, the signer signs by itself and the pool stops trying."""
    import subprocess

    # Given a pool whose processes cannot be started
    def refuse(*args, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    pool = SignPool(str(keys_dir), 2)
    signer = alice(keys_dir, pool)
    try:
        # When a request is signed
        added = await signer.sign_async("POST", "http://h.test/inbox", {"Content-Type": ACTIVITY_JSON}, BODY)
        # Then it is signed in this process, verifies, and the pool is given up
        verify("http://h.test/inbox", added, signer)
        assert not pool.usable and pool.signed == 0
    finally:
        await pool.close()
