"""The Fedify peer itself works on this machine: real processes, real HTTP on 127.0.0.1.

These tests do not involve Fednode; they prove the fixture and the control API are real
(two Fedify peers federate with each other, signatures verified by Fedify) so that tests
against Fednode can trust what the peer reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.interop.fedify import FedifyPeerError
from tests.support import free_port

pytestmark = pytest.mark.interop

AP = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
KNOCKS = pytest.mark.parametrize("first_knock", ["rfc9421", "draft-cavage"])


async def test_health_and_actor_document(fedify_peer, http):
    health = await fedify_peer.health()
    assert health["ok"] is True
    assert health["actor"] == fedify_peer.actor_id
    assert health["node"].startswith("v22.")
    assert health["first_knock"] == "rfc9421"

    async with http.get(fedify_peer.actor_id, headers={"Accept": AP}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].split(";")[0] == AP
        actor = await resp.json(content_type=None)
    assert actor["id"] == fedify_peer.actor_id
    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "alice"
    assert actor["inbox"] == fedify_peer.inbox
    assert actor["endpoints"]["sharedInbox"] == fedify_peer.shared_inbox
    assert actor["followers"] == fedify_peer.followers_id
    key = actor["publicKey"]
    assert key["id"] == f"{fedify_peer.actor_id}#main-key"
    assert key["owner"] == fedify_peer.actor_id
    public_key = load_pem_public_key(key["publicKeyPem"].encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 4096  # Fedify's generateCryptoKeyPair default
    # The Ed25519 key is published as a Multikey (FEP-521a) for Object Integrity Proofs.
    assert len(actor["assertionMethod"]) == 2
    assert actor["assertionMethod"][1]["publicKeyMultibase"].startswith("z6Mk")

    # WebFinger is served by Fedify.
    resource = f"acct:alice@{fedify_peer.host}"
    async with http.get(
        fedify_peer.url("/.well-known/webfinger"), params={"resource": resource}
    ) as resp:
        assert resp.status == 200
        jrd = await resp.json(content_type=None)
    assert jrd["subject"] == resource
    assert {"rel": "self", "href": fedify_peer.actor_id, "type": AP} in jrd["links"]


async def test_lookup_own_actor_by_url_and_handle(fedify_peer):
    found = await fedify_peer.lookup(fedify_peer.actor_id)
    assert found["type"] == "Person"
    assert found["id"] == fedify_peer.actor_id
    assert found["object"]["preferredUsername"] == "alice"

    # @user@host: Fedify asks https://host/.well-known/webfinger; the peer rewrites that
    # one request to http:// for loopback hosts.
    by_handle = await fedify_peer.lookup(fedify_peer.handle)
    assert by_handle["id"] == fedify_peer.actor_id
    webfinger = [r for r in by_handle["requests"] if "/.well-known/webfinger" in r["url"]]
    assert webfinger and webfinger[0]["url"].startswith("http://127.0.0.1:")

    with pytest.raises(FedifyPeerError) as missing:
        await fedify_peer.lookup(fedify_peer.url("/users/nobody"))
    assert missing.value.status == 404


@KNOCKS
async def test_follow_is_verified_and_accepted(start_fedify_peer, first_knock):
    one = await start_fedify_peer(first_knock=first_knock)
    two = await start_fedify_peer(first_knock=first_knock)

    sent = await one.follow(two.actor_id)
    assert sent["ok"] is True
    assert sent["delivered"][0]["inbox"] == two.inbox
    posts = [r for r in sent["requests"] if r["method"] == "POST"]
    # Fedify 2.x knocks first with the configured spec; a Fedify inbox accepts both.
    assert [(r["url"], r["status"], r["signature_scheme"]) for r in posts] == [
        (two.inbox, 202, first_knock)
    ]

    follow = await two.wait_for_received(type="Follow")
    assert follow["id"] == sent["id"]
    assert follow["actor"] == one.actor_id
    assert follow["object"] == two.actor_id
    assert follow["recipient"] == "alice"
    assert follow["signature_scheme"] == first_knock
    assert follow["body"]["type"] == "Follow"
    assert follow["raw"]["type"] == "Follow"  # Fedify's toJsonLd() of the parsed activity
    if first_knock == "rfc9421":
        assert "signature-input" in follow["headers"]
        assert follow["headers"]["content-digest"].startswith("sha-256=:")
    else:
        assert "signature-input" not in follow["headers"]
        assert follow["headers"]["digest"].startswith("SHA-256=")
        assert 'algorithm="rsa-sha256"' in follow["headers"]["signature"]

    accept = await one.wait_for_received(type="Accept")
    assert accept["actor"] == two.actor_id
    assert accept["object"] == sent["id"]
    assert accept["signature_scheme"] == first_knock
    assert await one.following() == [
        {"target": two.actor_id, "follow_id": sent["id"], "state": "accepted"}
    ]
    assert [f["id"] for f in await two.followers()] == [one.actor_id]
    assert await one.rejected() == [] and await two.rejected() == []


@KNOCKS
async def test_reply_update_delete(start_fedify_peer, http, first_knock):
    one = await start_fedify_peer(first_knock=first_knock)
    two = await start_fedify_peer(first_knock=first_knock)

    parent = await two.note("<p>A note on peer two</p>", deliver=False)
    reply = await one.reply(parent["note_id"], "<p>A reply from peer one</p>")
    assert reply["ok"] is True, reply
    assert [d["recipient"] for d in reply["delivered"]] == [two.actor_id]

    create = await two.wait_for_received(type="Create", object=reply["note_id"])
    assert create["actor"] == one.actor_id
    assert create["signature_scheme"] == first_knock
    note = create["body"]["object"]
    assert note["id"] == reply["note_id"]
    assert note["inReplyTo"] == parent["note_id"]
    assert note["attributedTo"] == one.actor_id
    assert PUBLIC in note["to"] and two.actor_id in note["to"]
    # What Fedify puts in bodies: a Linked Data signature and an Ed25519 proof.
    assert create["body"]["signature"]["type"] == "RsaSignature2017"
    assert create["body"]["proof"]["cryptosuite"] == "eddsa-jcs-2022"

    # The reply is served at its id.
    async with http.get(reply["note_id"], headers={"Accept": AP}) as resp:
        assert resp.status == 200
        assert (await resp.json(content_type=None))["inReplyTo"] == parent["note_id"]

    updated = await one.update(reply["note_id"], "<p>An edited reply</p>")
    update = await two.wait_for_received(type="Update", object=reply["note_id"])
    assert update["id"] == updated["activity_id"]
    assert update["body"]["object"]["content"] == "<p>An edited reply</p>"
    assert update["body"]["object"]["updated"] > update["body"]["object"]["published"]

    await one.delete(reply["note_id"])
    delete = await two.wait_for_received(type="Delete", object=reply["note_id"])
    assert delete["body"]["object"]["type"] == "Tombstone"
    async with http.get(reply["note_id"], headers={"Accept": AP}) as resp:
        assert resp.status == 410


async def test_follow_by_handle_to_shared_inbox_with_manual_accept(start_fedify_peer):
    one = await start_fedify_peer()
    two = await start_fedify_peer(auto_accept=False)

    sent = await one.follow(two.handle, shared_inbox=True)
    assert sent["delivered"][0]["inbox"] == two.shared_inbox
    follow = await two.wait_for_received(type="Follow")
    assert follow["recipient"] is None and follow["inbox"] == "/inbox"
    assert (await one.following())[0]["state"] == "pending"

    await two.accept(follow["id"])
    await one.wait_for_received(type="Accept", object=sent["id"])
    assert (await one.following())[0]["state"] == "accepted"


async def test_like_announce_undo_unfollow(start_fedify_peer):
    one = await start_fedify_peer()
    two = await start_fedify_peer()
    await one.follow(two.actor_id)
    await one.wait_for_received(type="Accept")
    note = await two.note("<p>likeable</p>", deliver=False)

    like = await one.like(note["note_id"])
    assert (await two.wait_for_received(type="Like"))["object"] == note["note_id"]
    boost = await one.announce(note["note_id"])
    assert (await two.wait_for_received(type="Announce"))["object"] == note["note_id"]

    await one.undo(like["activity_id"])
    await two.wait_for_received(type="Undo", object=like["activity_id"])
    await one.undo(boost["activity_id"])
    await two.wait_for_received(type="Undo", object=boost["activity_id"])

    await one.unfollow(two.actor_id)
    undo = await two.wait_for_received(
        type="Undo", predicate=lambda a: a["body"]["object"]["type"] == "Follow"
    )
    assert undo["actor"] == one.actor_id
    assert await two.followers() == []
    assert await one.following() == []


async def test_require_signed_fetch(start_fedify_peer, http):
    guarded = await start_fedify_peer(require_signed_fetch=True)
    client = await start_fedify_peer()
    note = await guarded.note("<p>members only</p>", deliver=False)

    for url in (guarded.actor_id, note["note_id"], guarded.followers_id):
        async with http.get(url, headers={"Accept": AP}) as resp:
            assert resp.status == 401, url

    await guarded.clear()
    with pytest.raises(FedifyPeerError):
        await client.lookup(note["note_id"])
    found = await client.lookup(note["note_id"], signed=True)
    assert found["id"] == note["note_id"]
    fetches = [r for r in found["requests"] if r["url"] == note["note_id"]]
    assert [(r["status"], r["signature_scheme"]) for r in fetches] == [(200, "rfc9421")]

    served = [r for r in await guarded.incoming() if r["path"].startswith("/notes/")]
    assert [(r["status"], r["signer"]) for r in served] == [
        (401, None),
        (200, client.actor_id),
    ]
    # WebFinger stays public.
    async with http.get(
        guarded.url("/.well-known/webfinger"), params={"resource": f"acct:alice@{guarded.host}"}
    ) as resp:
        assert resp.status == 200


@contextlib.asynccontextmanager
async def cavage_only_inbox():
    """A minimal actor on 127.0.0.1 whose inbox answers 401 to RFC 9421 and 202 to cavage."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    posts: list[dict] = []

    async def actor(request):
        return web.json_response(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{base}/actor",
                "type": "Person",
                "preferredUsername": "strict",
                "inbox": f"{base}/inbox",
            },
            content_type=AP,
        )

    async def inbox(request):
        body = await request.read()
        status = 401 if "Signature-Input" in request.headers else 202
        posts.append({"headers": dict(request.headers), "body": body, "status": status})
        return web.Response(status=status)

    app = web.Application()
    app.router.add_get("/actor", actor)
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"{base}/actor", posts
    finally:
        await runner.cleanup()


@KNOCKS
async def test_double_knock_against_cavage_only_inbox(start_fedify_peer, first_knock):
    peer = await start_fedify_peer(first_knock=first_knock)
    async with cavage_only_inbox() as (actor_id, posts):
        first = await peer.follow(actor_id)
        assert first["ok"] is True
        knocks = [(p["status"], "Signature-Input" in p["headers"]) for p in posts]
        if first_knock == "rfc9421":
            assert knocks == [(401, True), (202, False)]  # 9421, then retried as cavage
        else:
            assert knocks == [(202, False)]
        signature = posts[-1]["headers"]["Signature"]
        params = dict(re.findall(r'(\w+)="([^"]*)"', signature))
        assert params["keyId"] == f"{peer.actor_id}#main-key"
        assert params["algorithm"] == "rsa-sha256"
        assert params["headers"].split() == [
            "(request-target)", "content-type", "date", "digest", "host"
        ]

        # The spec that worked is remembered per origin: the next delivery knocks once.
        posts.clear()
        await peer.unfollow(actor_id)
        assert [(p["status"], "Signature-Input" in p["headers"]) for p in posts] == [
            (202, False)
        ]


async def test_peer_stops_on_sigterm(start_fedify_peer):
    peer = await start_fedify_peer()
    peer.process.terminate()
    assert await asyncio.wait_for(peer.process.wait(), 5) == 0
