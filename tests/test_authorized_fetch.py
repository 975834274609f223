"""Authorized fetch both ways: our fetches are signed by the instance actor, and with
``authorized_fetch`` on, our own documents need a signed GET."""

from __future__ import annotations

import pytest

from node.federation import httpsig
from node.federation.vocab import ACTIVITY_JSON
from node.services.publish import publish_article
from node.content import Draft
from node.db import queries
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.support import make_settings, running_node

AS_HEADERS = {"Accept": ACTIVITY_JSON}


@pytest.fixture
async def strict_node(tmp_path):
    """A node with authorized_fetch on and one published article."""
    async with running_node(make_settings(tmp_path, authorized_fetch=True, blocked_domains=["blocked.test"])) as node:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Hello", "hello", "Body text."), author)
        yield node


def signed_get_headers(url: str, actor, **options) -> dict[str, str]:
    headers = dict(AS_HEADERS)
    headers.update(httpsig.sign_cavage("GET", url, headers, None, actor.key, actor.key_id, **options))
    headers.pop("Host")
    return headers


async def test_unsigned_fetch_of_an_article_is_refused_with_401(strict_node, http):
    """With authorized_fetch on, an unsigned GET of an Article answers 401 and varies on Signature."""
    async with http.get(strict_node.url("/articles/hello"), headers=AS_HEADERS) as response:
        assert response.status == 401
        assert "signed" in (await response.json())["error"]
        assert "Signature" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/actor", "/actors/forum", "/actors/editor"])
async def test_actor_documents_stay_readable_without_a_signature(strict_node, http, path):
    """Actors (and so their keys) and the instance actor answer unsigned GETs."""
    async with http.get(strict_node.url(path), headers=AS_HEADERS) as response:
        assert response.status == 200
        assert (await response.json())["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY")


async def test_browsers_still_get_the_html_page(strict_node, http):
    """Authorized fetch guards ActivityStreams documents, not the pages people read."""
    async with http.get(strict_node.url("/articles/hello"), headers={"Accept": "text/html"}) as response:
        assert response.status == 200


async def test_signed_fetch_of_an_article_is_served(strict_node, http):
    """A GET signed by a remote actor whose key we can fetch gets the Article."""
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        url = strict_node.url("/articles/hello")
        async with http.get(url, headers=signed_get_headers(url, alice)) as response:
            assert response.status == 200
            assert (await response.json())["type"] == "Article"
            assert "Signature" in response.headers["Vary"]


async def test_signed_fetch_for_another_path_is_refused(strict_node, http):
    """A GET signature made for one URL does not open another."""
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        headers = signed_get_headers(strict_node.url("/actors/forum/outbox"), alice)
        async with http.get(strict_node.url("/articles/hello"), headers=headers) as response:
            assert response.status == 401


async def test_signed_fetch_without_host_covered_is_refused(strict_node, http):
    """Mastodon's rule: a signed GET must cover Host."""
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        url = strict_node.url("/articles/hello")
        headers = signed_get_headers(url, alice, covered=["(request-target)", "date"])
        async with http.get(url, headers=headers) as response:
            assert response.status == 401


async def test_fetches_are_signed_by_the_instance_actor(node):
    """A remote that refuses unsigned GETs (GoToSocial, bovine) accepts our key fetch."""
    async with fake_remote() as remote:
        remote.require_signed_gets = True
        alice = remote.add_actor("alice")
        document = await node.node.fetcher.get_activitypub(alice.id)
        assert document["id"] == alice.id
        assert remote.verified_signers == [node.url("/actor#main-key")]


async def test_signed_request_from_a_strict_server_is_verified(node, http):
    """Our inbox can fetch the key of a server that requires signed fetches, and accepts its post."""
    async with fake_remote() as remote:
        remote.require_signed_gets = True
        alice = remote.add_actor("alice")
        status, body = await signed_post(http, node.url("/inbox"), reply_to(node.url("/articles/x"), alice), alice)
        assert status == 202, body
