"""The inbox accepts what Mastodon and Fedify would accept, and refuses everything forged.

Every accepted case has tampered twins that must be refused with the right
status and a reason, leaving nothing stored.  Remote actors live on a fake
server on 127.0.0.1; requests are signed with Fednode's own signer.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from node.db.models import Activity, Actor
from node.federation.vocab import AS_NS, PUBLIC
from tests.factories import reply_to
from tests.fakes.remote import Served, fake_remote, public_pem, remote_key, signed_post
from tests.support import make_settings, running_node


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        yield server


@pytest.fixture
async def world(tmp_path, remote, http):
    """A node, a fake remote with actor alice, and the node's shared inbox URL."""
    async with running_node(make_settings(tmp_path, blocked_domains=["blocked.test"])) as node:
        alice = remote.add_actor("alice")
        yield node, remote, alice


async def stored_activities(node) -> int:
    async with node.node.sessions() as session:
        return await session.scalar(select(func.count(Activity.id)))


async def stored_remote_actors(node) -> int:
    async with node.node.sessions() as session:
        return await session.scalar(select(func.count(Actor.id)).where(Actor.is_local.is_(False)))


async def test_signed_mastodon_reply_is_accepted_and_stored(world, http):
    """A draft-cavage signed Create(Note) from a Mastodon-shaped actor answers 202 and is stored."""
    node, remote, alice = world
    activity = reply_to(node.url("/articles/x"), alice)
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert (status, body["status"]) == (202, "accepted")
    assert await stored_activities(node) == 1
    assert await stored_remote_actors(node) == 1


async def test_rfc9421_signed_reply_is_accepted(world, http):
    """An RFC 9421 signature (as Fedify sends first) is verified and accepted."""
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice, scheme="rfc9421")
    assert status == 202, body


async def test_per_actor_inbox_accepts_like_the_shared_one(world, http):
    """The Group's own inbox verifies the same way as the shared inbox."""
    node, remote, alice = world
    status, _ = await signed_post(http, node.url("/actors/forum/inbox"), reply_to(node.url("/a"), alice), alice)
    assert status == 202


async def test_instance_actor_inbox_it_advertises_accepts_signed_activities(world, http):
    """The inbox the instance actor advertises (``/actor/inbox``) takes a signed activity like the shared one."""
    node, remote, alice = world
    async with http.get(node.url("/actor"), headers={"Accept": "application/activity+json"}) as response:
        advertised = (await response.json(content_type=None))["inbox"]
    assert advertised == node.url("/actor/inbox")
    status, body = await signed_post(http, advertised, reply_to(node.url("/a"), alice), alice)
    assert (status, body["status"]) == (202, "accepted")
    assert await stored_activities(node) == 1


async def test_instance_actor_inbox_verifies_like_the_shared_one(world, http):
    """An unsigned POST to ``/actor/inbox`` is refused with 401 and a reason, and nothing is stored."""
    node, remote, alice = world
    async with http.post(node.url("/actor/inbox"), data=json.dumps(reply_to(node.url("/a"), alice)),
                         headers={"Content-Type": "application/activity+json"}) as response:
        assert response.status == 401
        assert (await response.json(content_type=None))["reason"]
    assert await stored_activities(node) == 0


async def test_repeated_activity_is_answered_202_and_stored_once(world, http):
    """The same activity delivered twice is acknowledged twice and kept once."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    first = await signed_post(http, node.url("/inbox"), activity, alice)
    second = await signed_post(http, node.url("/inbox"), activity, alice)
    assert (first[0], second[0]) == (202, 202)
    assert second[1]["status"] == "duplicate"
    assert await stored_activities(node) == 1


def _replace_header(name, value):
    def tamper(headers, body):
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        if value is not None:
            headers[name] = value
        return headers, body
    return tamper


def _change_body(headers, body):
    data = json.loads(body)
    data["object"]["content"] = "<p>forged</p>"
    return headers, json.dumps(data).encode()


TAMPERED = [
    ("body changed after signing", dict(tamper=_change_body), 401),
    # Offsets, not moments: the clock is read when the request is signed.
    ("date 66 minutes old", dict(clock_offset=timedelta(minutes=-66)), 401),
    ("date 62 minutes in the future", dict(clock_offset=timedelta(minutes=62)), 401),
    ("digest header removed", dict(tamper=_replace_header("Digest", None)), 401),
    ("digest not covered", dict(covered=["(request-target)", "host", "date", "content-type"]), 401),
    ("digest of another body", dict(tamper=_replace_header("Digest", "SHA-256=" + "A" * 43 + "=")), 401),
    ("signature header removed", dict(tamper=_replace_header("Signature", None)), 401),
    ("signature bytes garbled", dict(tamper=lambda h, b: ({**h, "Signature": h["Signature"].replace('signature="', 'signature="AAAA')}, b)), 401),
]


@pytest.mark.parametrize("case, options, status", TAMPERED, ids=[c[0] for c in TAMPERED])
async def test_tampered_request_is_refused_and_nothing_stored(world, http, case, options, status):
    """A signed reply altered in one way is refused with a reason, and nothing is stored."""
    node, remote, alice = world
    if "clock_offset" in options:
        options = {"now": datetime.now(timezone.utc) + options["clock_offset"]}
    got, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice, **options)
    assert got == status, body
    assert body.get("reason"), "every refusal says why"
    assert await stored_activities(node) == 0


async def test_signature_for_another_path_is_refused(world, http):
    """A signature made for /inbox does not verify on the Group's inbox (request-target)."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    from node.federation import httpsig
    body = json.dumps(activity).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers.update(httpsig.sign_cavage("POST", node.url("/inbox"), headers, body, alice.key, alice.key_id))
    headers.pop("Host")
    async with http.post(node.url("/actors/forum/inbox"), data=body, headers=headers) as response:
        assert response.status == 401
    assert await stored_activities(node) == 0


async def test_signature_for_another_method_is_refused(world, http):
    """A signature whose (request-target) says PUT does not verify on a POST."""
    node, remote, alice = world
    from node.federation import httpsig
    body = json.dumps(reply_to(node.url("/a"), alice)).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers.update(httpsig.sign_cavage("PUT", node.url("/inbox"), headers, body, alice.key, alice.key_id))
    headers.pop("Host")
    async with http.post(node.url("/inbox"), data=body, headers=headers) as response:
        assert response.status == 401


async def test_signature_for_another_host_is_refused(world, http):
    """A signature covering Host: evil.test does not verify when sent to us."""
    node, remote, alice = world
    from node.federation import httpsig
    body = json.dumps(reply_to(node.url("/a"), alice)).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers.update(httpsig.sign_cavage("POST", "http://evil.test/inbox", headers, body, alice.key, alice.key_id))
    headers.pop("Host")
    async with http.post(node.url("/inbox"), data=body, headers=headers) as response:
        assert response.status == 401


async def test_unsigned_request_is_refused_with_401(world, http):
    """No signature at all: 401 with a reason, never 2xx."""
    node, remote, alice = world
    async with http.post(node.url("/inbox"), json=reply_to(node.url("/a"), alice),
                         headers={"Content-Type": "application/activity+json"}) as response:
        assert response.status == 401
        assert "not signed" in (await response.json())["reason"]
    assert await stored_activities(node) == 0


async def test_ld_signature_alone_does_not_authenticate(world, http):
    """An activity carrying only a JSON-LD signature block (no HTTP signature) is refused."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    async with http.post(node.url("/inbox"), data=json.dumps(activity),
                         headers={"Content-Type": "application/activity+json"}) as response:
        assert response.status == 401


async def test_signer_who_is_not_the_actor_is_refused(world, http):
    """Bob signs an activity whose actor is Alice (same host): 401, the signer is not the actor."""
    node, remote, alice = world
    bob = remote.add_actor("bob", key_index=1)
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), bob)
    assert status == 401
    assert "signer and the actor" in body["reason"]
    assert await stored_activities(node) == 0


async def test_key_on_another_host_is_refused(world, http):
    """An activity by Alice signed with a key from another server: 401."""
    node, remote, alice = world
    async with fake_remote() as other:
        mallory = other.add_actor("mallory", key_index=2)
        status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), mallory)
    assert status == 401, body
    assert await stored_activities(node) == 0


async def test_key_whose_owner_does_not_list_it_is_refused(world, http):
    """A key document naming Alice as owner, while Alice's actor lists another key: 401."""
    node, remote, alice = world
    rogue = remote_key(3)
    key_url = remote.serve("/keys/rogue", {
        "@context": [AS_NS], "id": f"{remote.base}/keys/rogue", "type": "Key",
        "owner": alice.id, "publicKeyPem": public_pem(rogue),
    })
    forged = type(alice)(alice.id, rogue, key_url, alice.document)
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), forged)
    assert status == 401
    assert "does not list" in body["reason"]
    assert await stored_remote_actors(node) == 0


async def test_standalone_key_document_claimed_back_by_its_owner_is_accepted(world, http):
    """A GoToSocial-style key at its own URL, listed in the owner's publicKey array, verifies."""
    node, remote, alice = world
    key = remote_key(4)
    key_id = f"{remote.base}/users/erin/main-key"
    erin = remote.add_actor("erin", key_index=4)
    erin.document["publicKey"] = [
        {"id": f"{remote.base}/users/erin#old-key", "owner": erin.id, "publicKeyPem": public_pem(remote_key(5))},
        {"id": key_id, "owner": erin.id, "publicKeyPem": public_pem(key)},
    ]
    remote.serve("/users/erin/main-key", {"@context": [AS_NS], "id": key_id, "type": "Key", "owner": erin.id, "publicKeyPem": public_pem(key)})
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), erin), erin, key_id=key_id)
    assert status == 202, body


async def test_object_on_another_host_is_refused(world, http):
    """Alice creating a Note whose id lives on another server: 403, nothing stored."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    activity["object"]["id"] = "http://elsewhere.test/notes/1"
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert status == 403
    assert "another server" in body["reason"]
    assert await stored_activities(node) == 0


async def test_actor_document_with_mismatched_id_is_refused(world, http):
    """An actor served at /users/carol whose id claims another host: the key is not trusted."""
    node, remote, alice = world
    carol = remote.add_actor("carol", key_index=1)
    carol.document["id"] = "http://127.0.0.2:9/users/carol"
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), carol), carol)
    assert status == 401, body
    assert await stored_remote_actors(node) == 0


async def test_actor_served_with_wrong_content_type_is_refused(world, http):
    """An actor document served as text/html is not an ActivityStreams document: 401."""
    node, remote, alice = world
    dave = remote.add_actor("dave", key_index=1)
    remote.served["/users/dave"].content_type = "text/html"
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), dave), dave)
    assert status == 401, body


async def test_blocked_domain_gets_403(tmp_path, remote, http):
    """Requests from a blocked domain are refused with 403 before any key is fetched."""
    settings = make_settings(tmp_path, blocked_domains=["127.0.0.1"])
    async with running_node(settings) as node:
        alice = remote.add_actor("alice")
        status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice)
        assert status == 403
        assert remote.gets == []
        assert await stored_activities(node) == 0


async def test_malformed_json_with_valid_signature_is_400(world, http):
    """A correctly signed body that is not JSON: 400 with a reason."""
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), b"{not json", alice)
    assert status == 400
    assert body["reason"]


async def test_ids_yarl_cannot_split_are_refused_not_a_crash(world, http):
    """Ids with an empty host after "[" and "@" (yarl raises IndexError on them): an actor is malformed
    (400), an object is not on the actor's server (403); before, both were 500."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    activity["actor"] = "https://[::1]:8080@"
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert (status, body["status"]) == (400, "malformed"), body
    activity = reply_to(node.url("/a"), alice)
    activity["object"]["id"] = "https://[::1]:8080@"
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert (status, body["status"]) == (403, "forbidden origin"), body
    assert await stored_activities(node) == 0


async def test_json_nested_100000_deep_is_400(world, http):
    """A JSON nested 100,000 levels deep is refused cleanly, not with a crash."""
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), b"[" * 100_000 + b"]" * 100_000, alice)
    assert status == 400


async def test_two_megabyte_body_is_413(world, http):
    """A body over max_body_bytes gets 413 before it is parsed."""
    node, remote, alice = world
    activity = reply_to(node.url("/a"), alice)
    activity["object"]["content"] = "x" * (2 * 1024 * 1024)
    status, body = await signed_post(http, node.url("/inbox"), activity, alice)
    assert status == 413


async def test_gzip_bomb_is_413(world, http):
    """A small gzip body that inflates past the limit is cut off with 413."""
    node, remote, alice = world
    bomb = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 100 * 1024
    async with http.post(node.url("/inbox"), data=bomb, headers={
        "Content-Type": "application/activity+json", "Content-Encoding": "gzip",
    }) as response:
        assert response.status == 413
    assert await stored_activities(node) == 0


async def test_wrong_content_type_is_415(world, http):
    """A form post to the inbox is refused as an unsupported media type."""
    node, remote, alice = world
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415


async def test_delete_of_unknown_actor_is_acknowledged_without_fetching(world, http):
    """An account we never saw deleting itself gets 202 and costs no fetch (its key is gone)."""
    node, remote, alice = world
    ghost = remote.add_actor("ghost", key_index=1)
    del remote.served["/users/ghost"]
    delete = {"@context": AS_NS, "id": f"{ghost.id}#delete", "type": "Delete", "actor": ghost.id,
              "object": ghost.id, "to": [PUBLIC]}
    status, body = await signed_post(http, node.url("/inbox"), delete, ghost)
    assert (status, body["status"]) == (202, "ignored")
    assert remote.gets == []


async def test_embedded_object_from_another_origin_is_reduced_to_its_id(world, http):
    """An Announce embedding a Note from another server keeps only the Note's id (R6)."""
    node, remote, alice = world
    announce = {
        "@context": AS_NS, "id": f"{alice.id}/announces/1", "type": "Announce", "actor": alice.id,
        "to": [PUBLIC],
        "object": {"id": "http://elsewhere.test/notes/9", "type": "Note", "content": "<p>forged</p>",
                   "attributedTo": "http://elsewhere.test/users/x"},
    }
    status, _ = await signed_post(http, node.url("/inbox"), announce, alice)
    assert status == 202
    async with node.node.sessions() as session:
        row = await session.scalar(select(Activity))
    assert row.raw["object"] == "http://elsewhere.test/notes/9"


async def test_rotated_key_is_refetched_once(world, http):
    """After Alice's key changes, her next request verifies by refetching the key."""
    node, remote, alice = world
    assert (await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice))[0] == 202
    new_key = remote_key(6)
    alice.document["publicKey"]["publicKeyPem"] = public_pem(new_key)
    rotated = type(alice)(alice.id, new_key, alice.key_id, alice.document)
    status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), rotated)
    assert status == 202, body


async def test_failed_key_lookup_is_cached_negatively(world, http):
    """A keyId whose server answers 503 (down) is not fetched again on the next request.

    A 404 is not cached: anyone can name a missing page (tests/test_hostile.py).
    """
    node, remote, alice = world
    nobody = remote.add_actor("nobody", key_index=1)
    remote.served["/users/nobody"] = Served({"error": "down"}, status=503)
    for _ in range(2):
        status, _ = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), nobody), nobody)
        assert status == 401
    assert remote.gets.count("/users/nobody") == 1


async def test_host_whose_key_fetches_keep_failing_is_paused(world, http):
    """After three key fetches from one host fail with 5xx, a fourth keyId there is not fetched.

    Only failures that say the host is down count (5xx, timeouts, refused connections), not 404s.
    """
    node, remote, alice = world
    for name in ("a1", "a2", "a3", "a4"):
        actor = remote.add_actor(name, key_index=1)
        remote.served[f"/users/{name}"] = Served({"error": "down"}, status=503)
        status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), actor), actor)
        assert status == 401
    assert "/users/a4" not in remote.gets
    assert "paused" in body["reason"]


async def test_first_requests_of_a_new_actor_arriving_together_are_all_accepted(world, http):
    """Concurrent first deliveries from one unknown actor all get 202 (storing its key races safely)."""
    import asyncio

    node, remote, alice = world
    results = await asyncio.gather(*(
        signed_post(http, node.url("/inbox"), reply_to(node.url("/a"), alice), alice) for _ in range(8)
    ))
    assert [status for status, _ in results] == [202] * 8
    assert await stored_remote_actors(node) == 1
