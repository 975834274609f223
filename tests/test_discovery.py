"""Discovery over real HTTP: WebFinger (RFC 7033), host-meta (XRD) and NodeInfo 2.0/2.1."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlsplit

import pytest

from node import keys
from node.content import Draft
from node.db import queries
from node.services.publish import publish_article
from node.services.setup import add_author
from tests.support import make_settings

AS_ACCEPT = {"Accept": "application/activity+json"}
PROFILE_PAGE = "http://webfinger.net/rel/profile-page"
SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"
NODEINFO_REL = "http://nodeinfo.diaspora.software/ns/schema/{}"
XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"

# (username, actor path, actor type) for every local actor a fresh node has.
LOCAL_ACTORS = [
    ("forum", "/actors/forum", "Group"),
    ("editor", "/actors/editor", "Person"),
    ("instance.actor", "/actor", "Application"),
]


@pytest.fixture(scope="module")
def key_template(tmp_path_factory):
    """The site's three key pairs, generated once for the module (RSA generation is the slow part)."""
    folder = tmp_path_factory.mktemp("keys")
    for username, _, _ in LOCAL_ACTORS:
        keys.ensure_key(folder, username)
    return folder


@pytest.fixture
def settings(tmp_path, key_template):
    """Settings for a node in a temporary folder whose keys/ already holds the site's key pairs."""
    shutil.copytree(key_template, tmp_path / "keys")
    return make_settings(tmp_path)


async def webfinger(http, node, resource: str | None):
    """GET the node's WebFinger endpoint; return (status, headers, JSON body)."""
    query = "" if resource is None else f"?resource={quote(resource, safe=':@')}"
    async with http.get(node.url(f"/.well-known/webfinger{query}")) as response:
        return response.status, response.headers, await response.json(content_type=None)


async def get_json(http, url: str, headers=None):
    """GET ``url`` and return (status, headers, JSON body)."""
    async with http.get(url, headers=headers or {}) as response:
        return response.status, response.headers, await response.json(content_type=None)


def self_link(jrd: dict) -> dict:
    """The single ``rel=self`` link of a JRD."""
    links = [link for link in jrd["links"] if link["rel"] == "self"]
    assert len(links) == 1, jrd
    return links[0]


# --- WebFinger -----------------------------------------------------------------

@pytest.mark.parametrize("username, path, ap_type", LOCAL_ACTORS)
async def test_webfinger_resolves_each_local_actor(node, http, username, path, ap_type):
    """acct:<username>@<host> answers 200 with the actor's id as the self link."""
    # Given a fresh node with its instance actor, site Group and first author
    # When each is looked up by its acct: handle
    status, _, jrd = await webfinger(http, node, f"acct:{username}@{node.settings.host}")
    # Then the JRD names it and links to its actor document
    assert status == 200
    assert jrd["subject"] == f"acct:{username}@{node.settings.host}"
    assert self_link(jrd)["href"] == node.url(path)
    assert node.url(path) in jrd["aliases"]


async def test_webfinger_answers_with_jrd_content_type(node, http):
    """A WebFinger answer is application/jrd+json."""
    # Given a node
    # When the site Group is looked up
    _, headers, _ = await webfinger(http, node, f"acct:forum@{node.settings.host}")
    # Then the media type is JRD
    assert headers["Content-Type"].split(";")[0] == "application/jrd+json"


@pytest.mark.parametrize("resource", [
    "acct:forum@{host}",
    "acct:nobody@{host}",
    "acct:nohost",
    None,
])
async def test_webfinger_allows_any_origin(node, http, resource):
    """Every WebFinger answer, success or error, carries Access-Control-Allow-Origin: *."""
    # Given a node
    # When WebFinger is asked a good, unknown, malformed or missing resource
    filled = None if resource is None else resource.format(host=node.settings.host)
    _, headers, _ = await webfinger(http, node, filled)
    # Then browsers on any origin may read the answer (RFC 7033 §5)
    assert headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("username", ["forum", "editor"])
async def test_webfinger_links_profile_page_self_and_subscribe(node, http, username):
    """The site Group and authors link their HTML profile, their actor and the remote-follow template."""
    # Given a node
    # When a Group or Person is looked up
    _, _, jrd = await webfinger(http, node, f"acct:{username}@{node.settings.host}")
    links = {link["rel"]: link for link in jrd["links"]}
    # Then it has the three links Mastodon uses
    assert links["self"]["type"] == "application/activity+json"
    assert links["self"]["href"] == node.url(f"/actors/{username}")
    assert links[PROFILE_PAGE] == {"rel": PROFILE_PAGE, "type": "text/html", "href": node.url(f"/@{username}")}
    assert links[SUBSCRIBE]["template"] == node.url("/authorize_interaction?uri={uri}")


async def test_webfinger_profile_page_link_serves_html(node, http):
    """The profile-page link of an author opens an HTML page."""
    # Given the author's JRD
    _, _, jrd = await webfinger(http, node, f"acct:editor@{node.settings.host}")
    href = next(link["href"] for link in jrd["links"] if link["rel"] == PROFILE_PAGE)
    # When a browser follows it
    async with http.get(href, headers={"Accept": "text/html"}) as response:
        # Then it gets the author's page
        assert response.status == 200
        assert response.content_type == "text/html"


async def test_webfinger_without_resource_is_400(node, http):
    """A request with no resource parameter is a client error (RFC 7033 §4.2)."""
    # Given a node
    # When WebFinger is called without ?resource=
    status, _, body = await webfinger(http, node, None)
    # Then it answers 400 with a reason
    assert status == 400
    assert "resource" in body["error"]


@pytest.mark.parametrize("resource", [
    "acct:nohost",
    "acct:@x",
    "acct:forum@",
    "acct:a@b@{host}",
    "acct:",
    "@",
])
async def test_webfinger_malformed_resource_is_400(node, http, resource):
    """A resource that is not acct:user@host is a client error."""
    # Given a node
    # When WebFinger is asked a malformed resource
    status, _, body = await webfinger(http, node, resource.format(host=node.settings.host))
    # Then it answers 400 and says what a resource looks like
    assert status == 400
    assert "acct:user@host" in body["error"]


@pytest.mark.parametrize("resource", [
    "acct:nobody@{host}",
    "acct:forum@other.example",
    "acct:editor@{host}.evil.example",
    "{base}/actors/nobody",
    "https://other.example/actors/forum",
])
async def test_webfinger_unknown_resource_is_404(node, http, resource):
    """An unknown account, or an account on another host, is not found."""
    # Given a node that has forum and editor only
    # When WebFinger is asked about someone it does not host
    filled = resource.format(host=node.settings.host, base=node.base)
    status, _, _ = await webfinger(http, node, filled)
    # Then it answers 404
    assert status == 404


@pytest.mark.parametrize("path", ["/actors/forum", "/@editor"])
async def test_webfinger_resolves_actor_urls(node, http, path):
    """A resource given as the actor id or its profile URL resolves to the same actor."""
    # Given a node
    # When WebFinger is asked with an http(s) URL instead of acct:
    status, _, jrd = await webfinger(http, node, node.url(path))
    # Then it answers with that actor
    assert status == 200
    assert self_link(jrd)["href"].startswith(node.url("/actors/"))


@pytest.mark.parametrize("username, path, ap_type", LOCAL_ACTORS)
async def test_webfinger_reverse_check_finds_the_same_actor(node, http, username, path, ap_type):
    """acct:<preferredUsername>@<actor host> from the actor document WebFingers back to that actor."""
    # Given the self link of a WebFinger answer, dereferenced as ActivityStreams
    _, _, jrd = await webfinger(http, node, f"acct:{username}@{node.settings.host}")
    status, _, actor = await get_json(http, self_link(jrd)["href"], AS_ACCEPT)
    assert status == 200
    # When a remote server checks it as Mastodon does: preferredUsername @ the host of the actor id
    handle = f"acct:{actor['preferredUsername']}@{urlsplit(actor['id']).netloc}"
    status, _, again = await webfinger(http, node, handle)
    # Then the second lookup links the very same actor, and its subject is that handle
    assert status == 200
    assert self_link(again)["href"] == actor["id"]
    assert again["subject"] == handle
    assert actor["type"] == ap_type


# --- host-meta -----------------------------------------------------------------

async def test_host_meta_points_at_webfinger(node, http):
    """host-meta is an XRD whose lrdd template is our WebFinger endpoint."""
    # Given a node
    # When host-meta is fetched
    async with http.get(node.url("/.well-known/host-meta")) as response:
        status, content_type, body = response.status, response.content_type, await response.text()
    # Then it is XRD with the lrdd template
    assert status == 200
    assert content_type == "application/xrd+xml"
    root = ET.fromstring(body)
    assert root.tag == f"{XRD_NS}XRD"
    links = [link.attrib for link in root.iter(f"{XRD_NS}Link") if link.attrib.get("rel") == "lrdd"]
    assert links[0]["template"] == node.url("/.well-known/webfinger?resource={uri}")


async def test_host_meta_template_resolves_an_account(node, http):
    """Filling the lrdd template with an acct: URI gives a working WebFinger URL."""
    # Given the lrdd template
    async with http.get(node.url("/.well-known/host-meta")) as response:
        root = ET.fromstring(await response.text())
    template = next(root.iter(f"{XRD_NS}Link")).attrib["template"]
    # When it is filled with the site's handle
    status, _, jrd = await get_json(http, template.replace("{uri}", f"acct:forum@{node.settings.host}"))
    # Then WebFinger answers with the site Group
    assert status == 200
    assert self_link(jrd)["href"] == node.url("/actors/forum")


# --- NodeInfo ------------------------------------------------------------------

async def test_nodeinfo_discovery_links_both_versions(node, http):
    """/.well-known/nodeinfo links schema 2.0 and 2.1 to documents on this node."""
    # Given a node
    # When the NodeInfo discovery document is fetched
    status, _, body = await get_json(http, node.url("/.well-known/nodeinfo"))
    # Then it links both versions
    assert status == 200
    hrefs = {link["rel"]: link["href"] for link in body["links"]}
    assert hrefs == {
        NODEINFO_REL.format("2.0"): node.url("/nodeinfo/2.0"),
        NODEINFO_REL.format("2.1"): node.url("/nodeinfo/2.1"),
    }


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo_document_has_required_fields(node, http, version):
    """Each NodeInfo document carries every field its schema requires, with valid values."""
    # Given the link for this version from the discovery document
    _, _, links = await get_json(http, node.url("/.well-known/nodeinfo"))
    href = next(link["href"] for link in links["links"] if link["rel"] == NODEINFO_REL.format(version))
    # When it is fetched
    async with http.get(href) as response:
        status, content_type = response.status, response.headers["Content-Type"]
        document = await response.json(content_type=None)
    # Then it validates against the schema's required fields
    assert status == 200
    assert content_type == f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    assert document["version"] == version
    assert re.fullmatch(r"[a-z0-9-]+", document["software"]["name"])
    assert isinstance(document["software"]["version"], str) and document["software"]["version"]
    assert document["protocols"] == ["activitypub"]
    assert set(document["services"]) == {"inbound", "outbound"}
    assert isinstance(document["openRegistrations"], bool)
    users = document["usage"]["users"]
    assert all(isinstance(users[key], int) and users[key] >= 0 for key in ("total", "activeMonth", "activeHalfyear"))
    assert isinstance(document["usage"]["localPosts"], int)
    assert isinstance(document["metadata"], dict)


async def test_nodeinfo_unknown_version_is_404(node, http):
    """A NodeInfo version we do not publish is not found."""
    # Given a node
    # When an unpublished schema version is asked for
    async with http.get(node.url("/nodeinfo/1.0")) as response:
        # Then it is 404
        assert response.status == 404


async def test_nodeinfo_usage_counts_real_authors_and_posts(node, http):
    """NodeInfo usage grows when an author is added and an article is published."""
    # Given the usage of a fresh node
    _, _, before = await get_json(http, node.url("/nodeinfo/2.1"))
    # When an author is added and publishes an article
    async with node.node.sessions.begin() as session:
        alice, _ = await add_author(session, node.settings, "alice")
        await publish_article(session, node.settings, Draft(title="Counted", slug="counted", body="Hello."), alice)
    _, _, after = await get_json(http, node.url("/nodeinfo/2.1"))
    # Then the totals moved by exactly one each, and alice is active this month
    assert after["usage"]["users"]["total"] == before["usage"]["users"]["total"] + 1
    assert after["usage"]["localPosts"] == before["usage"]["localPosts"] + 1
    assert after["usage"]["users"]["activeMonth"] == before["usage"]["users"]["activeMonth"] + 1


async def test_nodeinfo_users_total_matches_local_people(node, http):
    """users.total equals the number of local Person actors (the site Group and instance actor are not users)."""
    # Given a node with one author more than the default
    async with node.node.sessions.begin() as session:
        await add_author(session, node.settings, "bob")
    async with node.node.sessions() as session:
        people = await queries.list_local_actors(session, "Person")
    # When NodeInfo is fetched
    _, _, document = await get_json(http, node.url("/nodeinfo/2.0"))
    # Then it counts exactly those people
    assert document["usage"]["users"]["total"] == len(people) == 2
