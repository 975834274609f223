"""Outgoing deliveries: signed as Mastodon signs them, with RFC 9421 as the fallback a host asks for."""

from __future__ import annotations

import json

import pytest

from node.errors import BlockedAddress
from node.federation.fetch import Fetcher, FetchPolicy
from node.federation.signing import signer_for
from tests.fakes.remote import fake_remote
from tests.support import make_settings

BODY = json.dumps({"type": "Create", "id": "http://x/1"}).encode()


@pytest.fixture
def settings(tmp_path):
    """A node that signs in two signing processes, as in production (tests default to none)."""
    return make_settings(tmp_path, signing_processes=2)


def pooled_signer(node, username: str):
    """The actor's signer using the node's signing processes, as the delivery worker makes it."""
    return signer_for(node.settings, username, node.node.fetcher.sign_pool)


async def test_delivery_is_signed_like_mastodon_and_verifies(node):
    """A POST carries a draft-cavage rsa-sha256 signature over the five headers Mastodon signs."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        posted = await node.node.fetcher.post(remote.base + "/inbox", BODY, pooled_signer(node, "forum"))
        assert posted.status == 202, posted.excerpt
        assert node.node.fetcher.sign_pool.signed == 1  # a signing process made the signature
        signature = remote.received[0]["headers"]["Signature"]
        assert 'algorithm="rsa-sha256"' in signature
        assert 'headers="(request-target) host date digest content-type"' in signature
        assert f'keyId="{node.url("/actors/forum#main-key")}"' in signature
        assert remote.verified_signers == [node.url("/actors/forum#main-key")]


async def test_host_refusing_cavage_gets_rfc9421_and_is_remembered(node):
    """After a 401 the delivery is re-signed with RFC 9421, and the next one starts with it."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        remote.accepted_schemes = frozenset({"rfc9421"})
        signer = pooled_signer(node, "forum")
        first = await node.node.fetcher.post(remote.base + "/inbox", BODY, signer)
        second = await node.node.fetcher.post(remote.base + "/inbox", BODY, signer)
        assert (first.status, first.scheme) == (202, "rfc9421")
        assert node.node.fetcher.sign_pool.signed == 3  # cavage (refused), then RFC 9421 twice
        assert (second.status, second.scheme) == (202, "rfc9421")
        assert len(remote.received) == 2
        assert all("Signature-Input" in r["headers"] for r in remote.received)


async def test_a_host_refusing_both_schemes_gets_the_401_back(node):
    """When neither scheme is accepted, the caller sees the 401 (to retry later)."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        remote.accepted_schemes = frozenset()
        posted = await node.node.fetcher.post(remote.base + "/inbox", BODY, pooled_signer(node, "forum"))
        assert posted.status == 401


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/inbox", "http://10.0.0.1/inbox", "http://[::1]:9/inbox"])
async def test_deliveries_to_private_addresses_are_refused(url):
    """The SSRF guard covers deliveries too: a follower's inbox cannot point at our network."""
    fetcher = Fetcher(FetchPolicy(allow_http=True), user_agent="test")
    try:
        with pytest.raises(BlockedAddress):
            await fetcher.post(url, BODY, object())
    finally:
        await fetcher.close()
