"""Hostile input against a real node over real HTTP: a 4xx with a reason, never a 5xx, never a poisoned batch.

These are the cases of an adversarial run (issue 15) that once got through: lone
surrogates failing other senders' group commits, key-fetch breakers any stranger
could trip, signatures for another host, 500s from odd numbers in URLs and
corrupt gzip, idle and half-sent connections, dates that could not be stored
after a 202, database locks, client disconnects and non-ASCII redirects.  Each
test is one behaviour; remote servers are fakes on 127.0.0.1 signing with the
production signer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from node.db.models import Activity, Follow
from node.federation.inbox_writer import Arrival
from node.federation.vocab import AS_NS
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import publish
from tests.remote_reply_support import JRD, jrd, submit
from tests.support import make_settings, running_node
from tests.threads_support import publish_topic


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        yield server


@pytest.fixture
async def world(node, remote):
    """A node and a fake remote server with actor alice."""
    yield node, remote, remote.add_actor("alice")


async def stored_activities(node) -> int:
    async with node.node.sessions() as session:
        return await session.scalar(select(func.count(Activity.id)))


def like(actor, obj: str, number: int, kind: str = "Like") -> dict:
    """A Mastodon-shaped Like."""
    return {"@context": AS_NS, "id": f"{actor.id}#likes/{number}", "type": kind, "actor": actor.id, "object": obj}


async def raw_exchange(node, request: bytes, *, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return everything the node sends back before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.settings.listen_port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), read_timeout)
    finally:
        writer.close()


# --- 1. one bad activity must not fail anyone else's --------------------------------------------


async def test_a_lone_surrogate_in_an_activity_is_refused_while_parsing(world, http):
    """A signed Like whose object id holds "\\ud800" (legal JSON text, not Unicode) gets 400 and nothing is stored."""
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), like(alice, node.url("/articles/x\ud800"), 1), alice)
    assert (status, body["status"]) == (400, "malformed")
    assert "surrogate" in body["reason"]
    assert await stored_activities(node) == 0


async def test_a_lone_surrogate_in_the_type_is_refused_too(world, http):
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), like(alice, node.url("/a"), 2, kind="Like\ud800"), alice)
    assert status == 400, body


async def test_bad_likes_beside_good_replies_fail_only_themselves(world, http):
    """Five Likes with lone surrogates sent at once beside twenty replies from another server: all twenty get 202."""
    node, remote, alice = world
    async with fake_remote() as other:
        bob = other.add_actor("bob", key_index=1)
        bad = [signed_post(http, node.url("/inbox"), like(alice, f"{node.url('/a')}\ud800{i}", 10 + i), alice)
               for i in range(5)]
        good = [signed_post(http, node.url("/inbox"), reply_to(node.url("/articles/x"), bob), bob) for _ in range(20)]
        answers = await asyncio.gather(*bad, *good)
    assert [status for status, _ in answers] == [400] * 5 + [202] * 20
    assert await stored_activities(node) == 20


async def test_the_inbox_writer_fails_only_the_row_that_cannot_be_stored(node):
    """A group commit spoiled by one row is retried row by row: the other requests of the group are stored."""
    writer = node.node.inbox.writer

    def arrival(i: int, poison: bool = False) -> Arrival:
        ap_id = f"https://remote.example/activities/{i}"
        # The object id column is text: a lone surrogate cannot be encoded into it.
        object_id = "https://remote.example/notes/" + ("\ud800" if poison else "1")
        return Arrival(ap_id=ap_id, ap_type="Like", actor_ap_id="https://remote.example/users/a",
                       object_ap_id=object_id, raw={"id": ap_id, "type": "Like"}, host="remote.example")

    arrivals = [arrival(i, poison=i % 5 == 0) for i in range(20)]  # written in one group: they wait together
    results = await asyncio.gather(*(writer.store(a) for a in arrivals), return_exceptions=True)
    failed = [i for i, result in enumerate(results) if isinstance(result, BaseException)]
    assert failed == [0, 5, 10, 15]
    assert all(not results[i].duplicate for i in range(20) if i not in failed)
    assert await stored_activities(node) == 16


# --- 2. nobody can pause our key fetches from a server, or poison a real actor's key ------------


async def test_junk_key_ids_at_missing_pages_do_not_pause_the_host(world, http):
    """Three junk requests whose keyIds 404 on a server do not stop a real new actor there from being verified."""
    node, remote, alice = world
    for name in ("ghost1", "ghost2", "ghost3", "ghost4"):
        status, _ = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice,
                                      key_id=f"{remote.base}/users/{name}#main-key")
        assert status == 401
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice)
    assert status == 202, body


async def test_a_forged_key_id_does_not_poison_the_actor_it_names(world, http):
    """A forged request naming dave's keyId before dave exists does not make dave's first real request fail."""
    node, remote, alice = world
    dave_key_id = f"{remote.base}/users/dave#main-key"
    status, _ = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice, key_id=dave_key_id)
    assert status == 401
    dave = remote.add_actor("dave", key_index=2)
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), dave), dave)
    assert status == 202, body


# --- 4. a signature for another host is refused ---------------------------------------------------


async def test_a_request_signed_for_another_host_is_refused(world, http):
    """Signed for evil.example and sent here with Host: evil.example: 401, because we are not evil.example."""
    node, remote, alice = world
    # Sign as if for https://evil.example/inbox... but our scheme is http; sign the URL the replay would claim.
    evil_url = node.url("/inbox").replace(f"127.0.0.1:{node.settings.listen_port}", "evil.example")
    from node.federation import httpsig
    from node.federation.vocab import ACTIVITY_JSON

    body = json.dumps(reply_to(node.url("/a"), alice)).encode()
    headers = {"Content-Type": ACTIVITY_JSON}
    headers.update(httpsig.sign_cavage("POST", evil_url, headers, body, alice.key, alice.key_id))
    assert headers["Host"] == "evil.example"
    async with http.post(node.url("/inbox"), data=body, headers=headers) as response:
        answer = await response.json()
    assert response.status == 401, answer
    assert await stored_activities(node) == 0


async def test_a_configured_alias_host_is_accepted(tmp_path, remote, http):
    """A request addressed to one of ``alias_hosts`` (e.g. a former domain) verifies against that host."""
    from node.federation import httpsig
    from node.federation.vocab import ACTIVITY_JSON

    async with running_node(make_settings(tmp_path, alias_hosts=["old-forum.example"])) as node:
        alice = remote.add_actor("alice")
        alias_url = node.url("/inbox").replace(f"127.0.0.1:{node.settings.listen_port}", "old-forum.example")
        body = json.dumps(reply_to(node.url("/a"), alice)).encode()
        headers = {"Content-Type": ACTIVITY_JSON}
        headers.update(httpsig.sign_cavage("POST", alias_url, headers, body, alice.key, alice.key_id))
        async with http.post(node.url("/inbox"), data=body, headers=headers) as response:
            assert response.status == 202, await response.text()


# --- 5. unauthenticated requests that were 500s -------------------------------------------------

PAGED = ["/", "/tags/x", "/articles/topic", "/actors/editor/outbox", "/actors/forum/followers",
         "/articles/topic/replies", "/articles/topic/context"]


@pytest.fixture
async def article(node):
    await publish_topic(node)
    return node


async def test_a_page_number_that_is_not_ascii_digits_is_400_everywhere(article, http):
    """?page=² (superscript two: isdigit() yes, int() no), Arabic-Indic digits, 5,000 digits, 0, -1: each a 400."""
    node = article
    answers = {}
    for path in PAGED:
        for page in ("%C2%B2", "%D9%A3", "1" * 5000, "0", "-1"):
            for accept in ("text/html", "application/activity+json"):
                if path == "/articles/topic" and accept != "text/html":
                    continue  # the Article document has no pages: it ignores ?page
                async with http.get(node.url(f"{path}?page={page}"), headers={"Accept": accept}) as response:
                    answers[(path, page[:6], accept)] = response.status
    assert {key: status for key, status in answers.items() if status != 400} == {}


async def test_an_id_no_row_can_have_is_404(node, http):
    """Ids beyond a 64-bit integer or int()'s 4,300 digits, and non-ASCII digits, are simply not found."""
    answers = {}
    for path in (
        "/threads/99999999999999999999",  # beyond a 64-bit integer
        "/threads/" + "9" * 5000,  # beyond int()'s 4,300 digits
        "/comments/" + "9" * 5000,
        "/comments/" + "9" * 5000 + "/replies",
        "/comments/99999999999999999999",
        "/comments/%D9%A3",  # "٣" matches \\d, but is not our comment 3
    ):
        async with http.get(node.url(path), headers={"Accept": "text/html"}) as response:
            answers[path[:30]] = response.status
    assert set(answers.values()) == {404}, answers


async def test_a_corrupt_gzip_body_at_the_inbox_is_400(node, http):
    """Content-Encoding: gzip with a body that is not gzip: 400 with a short reason, before any signature check."""
    async with http.post(node.url("/inbox"), data=b"\x1f\x8bgarbage",
                         headers={"Content-Type": "application/activity+json", "Content-Encoding": "gzip"}) as response:
        body = await response.json(content_type=None)
    assert response.status == 400
    assert len(json.dumps(body)) < 300


async def test_log_lines_stay_short_however_long_the_url(node, http, caplog):
    """A 5,000-character URL that fails is logged in a line of bounded length, without a traceback."""
    caplog.set_level(logging.DEBUG)
    for path in ("/threads/" + "9" * 5000, "/comments/" + "9" * 5000, "/?page=" + "%C2%B2" * 800):
        async with http.get(node.url(path)) as response:
            assert response.status in (400, 404)
    async with http.post(node.url("/inbox?" + "x" * 5000), data=b"\x1f\x8bgarbage",
                         headers={"Content-Type": "application/activity+json", "Content-Encoding": "gzip"}) as response:
        assert response.status == 400
    assert caplog.records, "expected the refusals to be logged"
    assert all(len(record.getMessage()) < 600 and record.exc_info is None for record in caplog.records
               if record.name.startswith(("fednode", "aiohttp"))), [r.getMessage()[:120] for r in caplog.records]


# --- 6, 7. idle connections, slow and huge headers, too many connections --------------------------


@pytest.fixture
async def tight(tmp_path):
    """A node with short connection timeouts and small limits, to see them act within a test."""
    settings = make_settings(tmp_path, idle_timeout=2, header_timeout=1, max_connections=5, max_header_bytes=16384)
    async with running_node(settings) as node:
        yield node


async def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(tight):
    reader, writer = await asyncio.open_connection("127.0.0.1", tight.settings.listen_port)
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the node, without an answer
    finally:
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(tight):
    reader, writer = await asyncio.open_connection("127.0.0.1", tight.settings.listen_port)
    try:
        writer.write(b"GET /nodeinfo/2.1 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_headers_sent_too_slowly_get_408_and_the_connection_closed(tight):
    """A slowloris: one header line every 0.3 s never finishes; after header_timeout the node answers 408."""
    reader, writer = await asyncio.open_connection("127.0.0.1", tight.settings.listen_port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for i in range(20):
            try:
                writer.write(f"X-Slow-{i}: a\r\n".encode())
            except ConnectionError:
                break
            try:
                answer += await asyncio.wait_for(reader.read(), 0.3)
                break
            except asyncio.TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        writer.close()


async def test_headers_larger_than_the_budget_get_431_and_the_connection_closed(tight):
    """24 header lines of 1 KiB each, never finished (under aiohttp's own per-line limits), exceed max_header_bytes."""
    lines = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 1000) for i in range(24))
    answer = await raw_exchange(tight, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines)  # never finished
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


async def test_a_request_with_ordinary_headers_is_unaffected(tight, http):
    async with http.get(tight.url("/nodeinfo/2.1"), headers={"X-Filler": "a" * 4000}) as response:
        assert response.status == 200


@pytest.mark.allow_server_errors  # the connection over the cap is answered 503 on purpose
async def test_connections_over_the_cap_get_503_and_are_closed(tmp_path, http):
    # A long idle timeout: the five idle connections must still be open when the sixth arrives.
    settings = make_settings(tmp_path, idle_timeout=60, max_connections=5)
    async with running_node(settings) as node:
        idle = [await asyncio.open_connection("127.0.0.1", node.settings.listen_port) for _ in range(5)]
        try:
            answer = await raw_exchange(node, b"GET /nodeinfo/2.1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
            assert b"Retry-After:" in answer
        finally:
            for _, writer in idle:
                writer.close()
        await asyncio.sleep(0.5)  # the idle connections are gone: the node answers again
        async with http.get(node.url("/nodeinfo/2.1")) as response:
            assert response.status == 200


# --- 8. what gets a 202 is stored ------------------------------------------------------------------


@pytest.mark.parametrize("published", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_a_reply_whose_date_cannot_be_stored_is_refused_before_the_202(world, http, published):
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    activity["object"]["published"] = published
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert (status, body["status"]) == (400, "malformed"), body
    assert "published" in body["reason"]
    assert await stored_activities(node) == 0


async def test_a_reply_whose_content_holds_a_lone_surrogate_is_refused_before_the_202(world, http):
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    activity["object"]["content"] = "<p>broken \udc00 text</p>"
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert status == 400, body
    assert await stored_activities(node) == 0


async def test_a_reply_with_an_ordinary_date_and_offset_is_stored(world, http):
    """Fedify writes nanoseconds and an offset; such a date is kept as it is."""
    node, remote, alice = world
    activity = reply_to(node.url("/articles/x"), alice)
    activity["object"]["published"] = "2026-11-24T10:00:00.123456789+02:00"
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert status == 202, body


# --- 9. a database lock longer than the timeout is a 503 with Retry-After ------------------------


async def signed_request(http, url: str, activity: dict, actor) -> tuple[int, dict, dict]:
    """POST ``activity`` signed as ``actor``; return (status, response headers, JSON body)."""
    from node.federation import httpsig
    from node.federation.vocab import ACTIVITY_JSON

    body = json.dumps(activity).encode()
    headers = {"Content-Type": ACTIVITY_JSON}
    headers.update(httpsig.sign_cavage("POST", url, headers, body, actor.key, actor.key_id))
    headers.pop("Host")  # aiohttp sends the same one
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


@pytest.mark.allow_server_errors  # 503 while the database is locked, on purpose
async def test_a_database_locked_past_the_busy_timeout_answers_503_with_retry_after(tmp_path, remote, http):
    """A lock held longer than database_busy_timeout: 503 with Retry-After (senders retry), and the retry is stored."""
    settings = make_settings(tmp_path, database_busy_timeout=1)
    async with running_node(settings) as node:
        alice = remote.add_actor("alice")
        # A first request stores alice, so that the locked request only has its activity to store.
        assert (await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice))[0] == 202
        await node.node.processor.drain()
        activity = reply_to(node.url("/a"), alice)
        lock = sqlite3.connect(
            settings.database_url.split("///", 1)[1], isolation_level=None, check_same_thread=False
        )
        # Taken on a thread: the node's own background writers (processor, deliveries) may be inside a
        # transaction this instant, and they finish only if the event loop keeps running while we wait.
        await asyncio.to_thread(lock.execute, "BEGIN EXCLUSIVE")
        try:
            status, headers, body = await signed_request(http, node.url("/inbox"), activity, alice)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert status == 503, body
        assert headers.get("Retry-After", "").isdigit()
        status, _, body = await signed_request(http, node.url("/inbox"), activity, alice)
        assert status == 202, body


@pytest.mark.postgres
@pytest.mark.allow_server_errors  # 503 while the table is locked, on purpose
async def test_a_postgresql_lock_past_the_busy_timeout_answers_503_too(tmp_path, remote, http):
    """On PostgreSQL the busy timeout is the lock_timeout: a table locked past it gives 503, not a hung request."""
    import asyncpg

    from tests.support import postgres_database

    async with postgres_database() as url:
        settings = make_settings(tmp_path, database_url=url, database_busy_timeout=1)
        async with running_node(settings) as node:
            alice = remote.add_actor("alice")
            assert (await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice))[0] == 202
            await node.node.processor.drain()
            locker = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                transaction = locker.transaction()
                await transaction.start()
                await locker.execute("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
                status, headers, body = await signed_request(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice)
                await transaction.rollback()
            finally:
                await locker.close()
    assert status == 503, body
    assert headers.get("Retry-After", "").isdigit()


# --- 10. disconnects are not errors; redirects are ASCII -----------------------------------------


async def test_a_client_that_disconnects_mid_body_is_not_logged_as_an_error(node, caplog):
    """A slow body cut off halfway: no traceback, no ERROR record (the autouse guard checks aiohttp's too)."""
    caplog.set_level(logging.INFO)
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", node.settings.listen_port)
        writer.write(b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json\r\n"
                     b"Content-Length: 5000\r\nSignature: keyId=\"x\"\r\n\r\n{\"type\":")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.transport.abort()
    await asyncio.sleep(0.3)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_interact_redirect_location_is_ascii(node, http):
    """A subscribe template with raw UTF-8 (an IDN host and a non-ASCII path) becomes an ASCII Location."""
    article = await publish(node)
    async with fake_remote() as remote:
        remote.serve("/.well-known/webfinger", jrd(remote, template="{base}/interagir/réponse?uri={{uri}}"), content_type=JRD)
        status, location, _, _ = await submit(http, node, f"@alice@{remote.base.removeprefix('http://')}", article)
    assert status == 303
    assert location.isascii()
    assert "/interagir/r%C3%A9ponse?uri=" in location


async def test_an_interact_handle_with_a_superscript_port_is_a_form_error(node, http):
    article = await publish(node)
    status, _, _, body = await submit(http, node, "@alice@example.org:²", article)
    assert 400 <= status < 500


# --- 11. `fednode follow <new actor>` -------------------------------------------------------------


async def test_the_follow_command_prints_the_new_follow_and_exits_0(tmp_path, remote):
    """It used to exit 1 with DetachedInstanceError although the Follow was stored and queued."""
    carol = remote.add_actor("carol", kind="Group")
    settings = make_settings(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.update({f"FEDNODE_{name.upper()}": str(value) for name, value in {
        "base_url": settings.base_url, "database_url": settings.database_url, "keys_dir": settings.keys_dir,
        "allow_http": "true", "allow_private_network": "true", "signing_processes": "0",
    }.items()})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", "follow", carol.id, cwd=str(tmp_path), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    host = urlsplit(remote.base).netloc
    assert f"follow pending: @carol@{host} {carol.id}" in out.decode()
    from node.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            assert await session.scalar(select(func.count(Follow.id))) == 1
    finally:
        await engine.dispose()
