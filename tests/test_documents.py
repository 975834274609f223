"""ActivityStreams documents and HTML pages over real HTTP: negotiation, shapes, ids, paging, escaping."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from node import keys
from node.content import Draft
from node.db import queries
from node.db.types import utcnow
from node.services.demo import DEMO_SLUG, seed_demo
from node.services.publish import publish_article
from node.services.setup import add_author
from tests.support import make_settings, running_node

AS_NS = "https://www.w3.org/ns/activitystreams"
SECURITY_NS = "https://w3id.org/security/v1"
PUBLIC = AS_NS + "#Public"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_AS = f'application/ld+json; profile="{AS_NS}"'
AS_ACCEPT = {"Accept": ACTIVITY_JSON}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# Mastodon's sanitizer allowlist (Mastodon's lib/sanitize_ext/sanitize_config.rb, 4.2 and later), written out here rather than imported.
MASTODON_TAGS = {
    "p", "span", "br", "a", "del", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote",
}
MASTODON_ATTRIBUTES = {"a": {"href", "rel", "class"}, "span": {"class"}, "ol": {"start", "reversed"}, "li": {"value"}}

ACTORS = [
    ("/actors/forum", "Group", "forum"),
    ("/actors/editor", "Person", "editor"),
    ("/actor", "Application", "instance.actor"),
]

POST = """Some **bold** text and a [link](https://example.org/page).

# A heading

![a picture](https://example.org/picture.png)

<script>alert(1)</script>

> quoted
"""


@pytest.fixture(scope="module")
def key_template(tmp_path_factory):
    """Key pairs of the site and of the authors these tests add, generated once (RSA generation is slow)."""
    folder = tmp_path_factory.mktemp("keys")
    for username in ("instance.actor", "forum", "editor", "ada", "bruno", "chen", "dara", "alice", "mallory"):
        keys.ensure_key(folder, username)
    return folder


@pytest.fixture
def settings(tmp_path, key_template):
    """Settings for a node in a temporary folder whose keys/ already holds the site's key pairs."""
    shutil.copytree(key_template, tmp_path / "keys")
    return make_settings(tmp_path)


@pytest.fixture
async def article_url(node):
    """The URL of an article by the default author, with two hashtags and a language."""
    draft = Draft(title="Forums on the fediverse", slug="forums", body=POST, tags=["Fediverse", "forums"], language="en")
    async with node.node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, "editor")
        published = await publish_article(session, node.settings, draft, editor)
    return published.article.ap_id


async def fetch(http, url: str, accept: str | None = ACTIVITY_JSON):
    """GET ``url`` with an Accept header; return (status, headers, body as JSON or text)."""
    headers = {"Accept": accept} if accept else {}
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        if "json" in (response.content_type or ""):
            return response.status, response.headers, await response.json(content_type=None)
        return response.status, response.headers, await response.text()


async def publish(node, title: str, *, slug: str | None = None, author: str = "editor", body: str = "Text."):
    """Publish an article through the service, as ``fednode publish`` does; return its row."""
    draft = Draft(title=title, slug=slug or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"), body=body)
    async with node.node.sessions.begin() as session:
        writer = await queries.get_local_actor(session, author)
        return (await publish_article(session, node.settings, draft, writer)).article


class _TagCollector(HTMLParser):
    """Every start tag with its attribute names, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, set[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name for name, _ in attrs}))


def tags_used(html: str) -> list[tuple[str, set[str]]]:
    """The (tag, attribute names) pairs an HTML fragment uses."""
    collector = _TagCollector()
    collector.feed(html)
    return collector.tags


# --- content negotiation -------------------------------------------------------------

NEGOTIATION = [
    (BROWSER_ACCEPT, "text/html"),
    (None, "text/html"),
    (ACTIVITY_JSON, ACTIVITY_JSON),
    (LD_JSON_AS, ACTIVITY_JSON),
    (f"{ACTIVITY_JSON}, application/ld+json", ACTIVITY_JSON),  # what Mastodon sends
    (f"text/html;q=0.5, {ACTIVITY_JSON}", ACTIVITY_JSON),
]


@pytest.mark.parametrize("accept, expected", NEGOTIATION)
async def test_article_url_negotiates_html_or_activitystreams(node, http, article_url, accept, expected):
    """The article's one URL answers HTML to browsers and ActivityStreams to servers."""
    # Given a published article
    # When its canonical URL is fetched with this Accept header
    status, headers, _ = await fetch(http, article_url, accept)
    # Then the media type follows the Accept header
    assert status == 200
    assert headers["Content-Type"].split(";")[0] == expected


@pytest.mark.parametrize("path", ["/actors/forum", "/actors/editor"])
@pytest.mark.parametrize("accept, expected", NEGOTIATION)
async def test_actor_url_negotiates_profile_page_or_actor(node, http, path, accept, expected):
    """An actor id answers its profile page to browsers and its actor document to servers."""
    # Given the site Group and the first author
    # When the actor id is fetched with this Accept header
    status, headers, _ = await fetch(http, node.url(path), accept)
    # Then the media type follows the Accept header
    assert status == 200
    assert headers["Content-Type"].split(";")[0] == expected


@pytest.mark.parametrize("path", ["article", "/actors/forum", "/actors/editor"])
async def test_negotiated_urls_vary_on_accept(node, http, article_url, path):
    """Every representation of a negotiated URL says Vary: Accept, so caches keep them apart."""
    # Given an article and actors, whose URLs serve two representations
    url = article_url if path == "article" else node.url(path)
    # When each representation is fetched
    varies = []
    for accept in (BROWSER_ACCEPT, ACTIVITY_JSON, LD_JSON_AS):
        _, headers, _ = await fetch(http, url, accept)
        varies.append("accept" in [v.strip().lower() for v in headers.get("Vary", "").split(",")])
    # Then each response varies on Accept
    assert varies == [True, True, True]


# --- actor documents -------------------------------------------------------------------

@pytest.mark.parametrize("path, ap_type, username", ACTORS)
async def test_actor_document_has_required_fields(node, http, path, ap_type, username):
    """Group, Person and Application documents carry every field remote servers need."""
    # Given a fresh node
    # When an actor is fetched as ActivityStreams
    status, _, actor = await fetch(http, node.url(path))
    # Then it has its type, handle, collections, endpoints and key
    assert status == 200
    assert actor["id"] == node.url(path)
    assert actor["type"] == ap_type
    assert actor["preferredUsername"] == username
    for name in ("inbox", "outbox", "followers", "following", "url"):
        assert urlsplit(actor[name]).netloc == node.settings.host, name
    assert isinstance(actor["name"], str) and actor["name"]
    assert isinstance(actor["summary"], str)
    assert actor["endpoints"]["sharedInbox"] == node.url("/inbox")
    assert actor["publicKey"]["id"] == actor["id"] + "#main-key"
    assert actor["publicKey"]["owner"] == actor["id"]


@pytest.mark.parametrize("path, ap_type, username", ACTORS)
async def test_actor_document_context_has_activitystreams_and_security(node, http, path, ap_type, username):
    """The @context names ActivityStreams and the security vocabulary (for publicKey)."""
    # Given a fresh node
    # When an actor is fetched
    _, _, actor = await fetch(http, node.url(path))
    # Then both contexts are there
    context = actor["@context"] if isinstance(actor["@context"], list) else [actor["@context"]]
    assert AS_NS in context
    assert SECURITY_NS in context


@pytest.mark.parametrize("path, ap_type, username", ACTORS)
async def test_actor_public_key_is_rsa_2048(node, http, path, ap_type, username):
    """publicKeyPem is a PEM that loads as a 2048-bit RSA public key."""
    # Given a fresh node
    # When an actor is fetched
    _, _, actor = await fetch(http, node.url(path))
    # Then its key loads with cryptography and has the size Mastodon uses
    key = load_pem_public_key(actor["publicKey"]["publicKeyPem"].encode("ascii"))
    assert isinstance(key, RSAPublicKey)
    assert key.key_size == 2048


@pytest.mark.parametrize("path", ["/actors/forum", "/actors/editor"])
async def test_actor_url_is_an_html_profile(node, http, path):
    """The ``url`` of the Group and of an author is an HTML page about them."""
    # Given an actor document
    _, _, actor = await fetch(http, node.url(path))
    # When its url is opened in a browser
    status, headers, html = await fetch(http, actor["url"], BROWSER_ACCEPT)
    # Then it is a page with the actor's handle
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert f"@{actor['preferredUsername']}@{node.settings.host}" in html


async def test_actor_summary_is_html_of_the_plain_text_setting(tmp_path, key_template, http):
    """The Group's summary is HTML made from the site_summary text: '&' and '<' are escaped once."""
    # Given a site whose plain-text description contains markup characters
    shutil.copytree(key_template, tmp_path / "keys")
    settings = make_settings(tmp_path, site_summary="Tips & <tricks> for R&D")
    async with running_node(settings) as running:
        # When the Group's document and profile page are fetched
        _, _, actor = await fetch(http, running.url("/actors/forum"))
        _, _, page = await fetch(http, running.url("/@forum"), BROWSER_ACCEPT)
    # Then the summary is an HTML paragraph of that text, shown as text on the page
    assert actor["summary"] == "<p>Tips &amp; &lt;tricks&gt; for R&amp;D</p>"
    assert "Tips &amp; &lt;tricks&gt; for R&amp;D" in page
    assert "&amp;amp;" not in page and "<tricks>" not in page


async def test_keys_differ_between_actors(node, http):
    """Every actor has its own key pair."""
    # Given a fresh node
    # When the three actors are fetched
    pems = [(await fetch(http, node.url(path)))[2]["publicKey"]["publicKeyPem"] for path, _, _ in ACTORS]
    # Then no two share a key
    assert len(set(pems)) == 3


# --- ids dereference to themselves ---------------------------------------------------

@pytest.mark.parametrize("path, field", [
    ("/actors/forum", "id"), ("/actors/forum", "outbox"), ("/actors/forum", "followers"), ("/actors/forum", "following"),
    ("/actors/editor", "id"), ("/actors/editor", "outbox"), ("/actors/editor", "followers"), ("/actors/editor", "following"),
    ("/actor", "id"),
    ("/actor", "outbox"),
    ("/actor", "followers"),
    ("/actor", "following"),
])
async def test_actor_ids_dereference_to_themselves(node, http, path, field):
    """Each id an actor document names (inbox aside: it only takes POST) serves a document with that id."""
    # Given an actor document
    _, _, actor = await fetch(http, node.url(path))
    # When the id in ``field`` is fetched as ActivityStreams
    status, _, document = await fetch(http, actor[field])
    # Then it is found and says it is that id
    assert status == 200
    assert document["id"] == actor[field]


async def test_article_ids_dereference_to_themselves(node, http):
    """The article, its replies collection and first page, and its context each serve their own id."""
    # Given the demo article, which has a discussion
    async with node.node.sessions.begin() as session:
        url, _ = await seed_demo(session, node.settings)
    _, _, article = await fetch(http, url)
    replies = article["replies"]
    # When every id it names on this node is fetched
    ids = [article["id"], replies["id"], replies["first"], article["context"], article["attributedTo"], article["audience"]]
    documents = [await fetch(http, ident) for ident in ids]
    # Then each is found under its own id
    assert [(status, doc["id"]) for status, _, doc in documents] == [(200, ident) for ident in ids]


async def test_replies_and_context_items_dereference(node, http):
    """Every comment listed in the replies and context collections serves a Note with its id."""
    # Given the demo discussion
    async with node.node.sessions.begin() as session:
        url, _ = await seed_demo(session, node.settings)
    _, _, article = await fetch(http, url)
    _, _, replies_page = await fetch(http, article["replies"]["first"])
    _, _, context = await fetch(http, article["context"])
    _, _, context_page = await fetch(http, context["first"])
    # When each listed item is fetched
    items = replies_page["orderedItems"] + context_page["orderedItems"]
    fetched = [await fetch(http, item) for item in items]
    # Then each is found under its own id, comments as Notes in this thread
    assert len(replies_page["orderedItems"]) == article["replies"]["totalItems"] == 2
    assert context_page["orderedItems"][0] == url
    assert len(context_page["orderedItems"]) == context["totalItems"] == 8
    for item, (status, _, document) in zip(items, fetched):
        assert (status, document["id"]) == (200, item)
        assert document["type"] in ("Article", "Note")
        assert document["context"] == article["context"]


async def test_outbox_activities_dereference_to_themselves(node, http, article_url):
    """Each Create in the outbox, and the Article inside it, can be fetched at its id."""
    # Given the author's outbox with one article
    _, _, outbox = await fetch(http, node.url("/actors/editor/outbox"))
    _, _, page = await fetch(http, outbox["first"])
    activity = page["orderedItems"][0]
    # When the activity and its object are fetched by id
    status, _, fetched_activity = await fetch(http, activity["id"])
    _, _, fetched_object = await fetch(http, activity["object"]["id"])
    # Then both are found under their own ids
    assert (status, fetched_activity["id"], fetched_activity["type"]) == (200, activity["id"], "Create")
    assert fetched_object["id"] == activity["object"]["id"] == article_url


# --- the Article ---------------------------------------------------------------------

async def test_article_document_has_every_field(node, http, article_url):
    """An Article has title, HTML and Markdown, url, author, audience, addressing, dates, tags, replies, context."""
    # Given a published article
    # When it is fetched as ActivityStreams
    _, _, article = await fetch(http, article_url)
    # Then it carries each field Mastodon and FEP-1b12/7888 consumers read
    assert article["type"] == "Article"
    assert article["id"] == article["url"] == article_url
    assert article["name"] == "Forums on the fediverse"
    assert "<strong>bold</strong>" in article["content"]
    assert article["source"] == {"content": POST, "mediaType": "text/markdown"}
    assert article["attributedTo"] == node.url("/actors/editor")
    assert article["audience"] == node.url("/actors/forum")
    assert article["to"] == [PUBLIC]
    assert set(article["cc"]) == {node.url("/actors/editor/followers"), node.url("/actors/forum/followers")}
    assert ISO_UTC.match(article["published"]) and ISO_UTC.match(article["updated"])
    assert article["replies"]["id"] == article_url + "/replies"
    assert article["context"] == article_url + "/context"
    assert AS_NS in article["@context"]


async def test_article_has_no_summary(node, http, article_url):
    """An Article has no summary: Mastodon would show it as a content warning."""
    # Given a published article
    # When it is fetched
    _, _, article = await fetch(http, article_url)
    # Then there is no summary
    assert "summary" not in article


async def test_article_tags_are_hashtags(node, http, article_url):
    """Front-matter tags become Hashtag objects whose href is the tag's page on this node."""
    # Given an article tagged Fediverse and forums
    _, _, article = await fetch(http, article_url)
    # When its tags are read, and a tag page opened
    names = [tag["name"] for tag in article["tag"] if tag["type"] == "Hashtag"]
    status, _, page = await fetch(http, article["tag"][0]["href"], BROWSER_ACCEPT)
    # Then each tag is a #hashtag and its page lists the article
    assert names == ["#Fediverse", "#forums"]
    assert status == 200
    assert "Forums on the fediverse" in page


async def test_article_content_stays_inside_mastodon_allowlist(node, http, article_url):
    """The Article's HTML uses only the tags and attributes Mastodon keeps (no img, h1, script)."""
    # Given an article whose Markdown has a heading, an image and raw HTML
    # When it is fetched
    _, _, article = await fetch(http, article_url)
    # Then its content uses only allowed tags and attributes
    used = tags_used(article["content"])
    assert used, "the content should have some markup"
    for tag, attributes in used:
        assert tag in MASTODON_TAGS, tag
        assert attributes <= MASTODON_ATTRIBUTES.get(tag, set()), (tag, attributes)
    assert "&lt;script&gt;" in article["content"]


async def test_article_language_gives_content_map(node, http, article_url):
    """An article with a language has contentMap keyed by that language."""
    # Given an article written with language: en
    # When it is fetched
    _, _, article = await fetch(http, article_url)
    # Then contentMap carries the same HTML under "en"
    assert article["contentMap"] == {"en": article["content"]}


async def test_edited_article_has_a_newer_updated(node, http):
    """Publishing the same slug again gives a strictly newer ``updated`` (Mastodon ignores equal ones)."""
    # Given an article just published
    await publish(node, "Draft one", slug="edited")
    _, _, first = await fetch(http, node.url("/articles/edited"))
    # When it is edited straight away
    await publish(node, "Draft two", slug="edited")
    _, _, second = await fetch(http, node.url("/articles/edited"))
    # Then the new version's updated is later than the first one's
    assert second["name"] == "Draft two"
    assert second["updated"] > first["updated"]
    assert second["published"] == first["published"]


# --- the outbox ----------------------------------------------------------------------

async def test_outbox_pages_creates_newest_first(node, http):
    """25 articles give an OrderedCollection of 25: page 1 has the 20 newest, page 2 the 5 oldest."""
    # Given 25 articles published one after another
    for number in range(1, 26):
        await publish(node, f"Article {number}", slug=f"article-{number}")
    # When the author's outbox and its two pages are fetched
    _, _, outbox = await fetch(http, node.url("/actors/editor/outbox"))
    _, _, page1 = await fetch(http, outbox["first"])
    _, _, page2 = await fetch(http, page1["next"])
    # Then the collection counts them all and the pages list Create(Article), newest first
    assert (outbox["type"], outbox["totalItems"]) == ("OrderedCollection", 25)
    assert outbox["last"] == page2["id"]
    assert [item["object"]["name"] for item in page1["orderedItems"]] == [f"Article {n}" for n in range(25, 5, -1)]
    assert [item["object"]["name"] for item in page2["orderedItems"]] == [f"Article {n}" for n in range(5, 0, -1)]
    assert {(item["type"], item["object"]["type"]) for item in page1["orderedItems"] + page2["orderedItems"]} == {("Create", "Article")}
    assert (page1["type"], page1["partOf"]) == ("OrderedCollectionPage", outbox["id"])
    assert "next" not in page2 and page2["prev"] == page1["id"]


async def test_site_group_outbox_lists_every_authors_articles(node, http):
    """The Group's outbox is the forum's front page: articles by every local author."""
    # Given articles by two authors
    async with node.node.sessions.begin() as session:
        await add_author(session, node.settings, "alice")
    await publish(node, "By editor")
    await publish(node, "By alice", author="alice")
    # When the site Group's outbox is read
    _, _, outbox = await fetch(http, node.url("/actors/forum/outbox"))
    _, _, page = await fetch(http, outbox["first"])
    # Then it lists both, newest first, each Create by its own author
    assert outbox["totalItems"] == 2
    assert [(item["object"]["name"], item["actor"]) for item in page["orderedItems"]] == [
        ("By alice", node.url("/actors/alice")),
        ("By editor", node.url("/actors/editor")),
    ]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "999999999"])
async def test_outbox_bad_page_number_is_400(node, http, page):
    """A page number that is not a positive number is a client error."""
    # Given an outbox
    # When a nonsense page is asked for
    status, _, _ = await fetch(http, node.url(f"/actors/editor/outbox?page={page}"))
    # Then it answers 400
    assert status == 400


# --- missing and deleted -------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/articles/no-such-article",
    "/articles/no-such-article/replies",
    "/articles/no-such-article/context",
    "/actors/nobody",
    "/actors/nobody/outbox",
    "/@nobody",
    "/comments/999999",
    "/activities/0123456789abcdef",
    "/no/such/page",
])
async def test_unknown_paths_are_404(node, http, path):
    """Unknown articles, actors, comments, activities and paths are not found, for servers and browsers."""
    # Given a node without these
    # When they are fetched as ActivityStreams and as HTML
    statuses = [(await fetch(http, node.url(path), accept))[0] for accept in (ACTIVITY_JSON, BROWSER_ACCEPT)]
    # Then both answers are 404
    assert statuses == [404, 404]


async def test_deleted_article_is_410_tombstone(node, http):
    """A deleted article answers 410 Gone with a Tombstone at its id."""
    # Given an article that was deleted
    article = await publish(node, "Soon gone", slug="gone")
    async with node.node.sessions.begin() as session:
        (await queries.get_object(session, article.ap_id)).deleted_at = utcnow()
    # When it is fetched as ActivityStreams
    status, _, document = await fetch(http, article.ap_id)
    # Then it is a Tombstone that remembers what it was
    assert status == 410
    assert (document["id"], document["type"], document["formerType"]) == (article.ap_id, "Tombstone", "Article")
    assert ISO_UTC.match(document["deleted"])


async def test_deleted_article_page_is_410_and_leaves_the_lists(node, http):
    """A deleted article's page is 410 and it is gone from the index and the outbox."""
    # Given an article that was deleted
    article = await publish(node, "Soon gone", slug="gone")
    async with node.node.sessions.begin() as session:
        (await queries.get_object(session, article.ap_id)).deleted_at = utcnow()
    # When a browser opens it, the index and the outbox
    status, _, _ = await fetch(http, article.ap_id, BROWSER_ACCEPT)
    _, _, index = await fetch(http, node.url("/"), BROWSER_ACCEPT)
    _, _, outbox = await fetch(http, node.url("/actors/editor/outbox"))
    # Then the page is gone and nothing lists it
    assert status == 410
    assert "Soon gone" not in index
    assert outbox["totalItems"] == 0


# --- HTML pages ----------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.mark.parametrize("page", ["index", "article", "profile"])
async def test_pages_escape_hostile_titles(node, http, page):
    """A title with markup is shown as text on the index, its own page and its author's profile."""
    # Given an article titled with a script tag
    article = await publish(node, HOSTILE, slug="hostile")
    url = {"index": node.url("/"), "article": article.ap_id, "profile": node.url("/@editor")}[page]
    # When the page is opened in a browser
    status, _, html = await fetch(http, url, BROWSER_ACCEPT)
    # Then the title is escaped text, never markup
    assert status == 200
    assert HOSTILE not in html
    assert HOSTILE_ESCAPED in html


@pytest.mark.parametrize("page", ["index", "article", "profile"])
async def test_pages_escape_hostile_author_names(node, http, page):
    """An author's display name with markup is shown as text wherever it appears."""
    # Given an author whose display name is an img tag with an event handler, and their article
    name = '<img src=x onerror="alert(1)">'
    async with node.node.sessions.begin() as session:
        await add_author(session, node.settings, "mallory", name)
    article = await publish(node, "Innocent", author="mallory")
    url = {"index": node.url("/"), "article": article.ap_id, "profile": node.url("/@mallory")}[page]
    # When the page is opened in a browser
    _, _, html = await fetch(http, url, BROWSER_ACCEPT)
    # Then the name appears escaped and no img tag is injected
    assert "<img" not in html
    assert "&lt;img src=x onerror=" in html


async def test_profile_lists_an_authors_articles_however_busy_the_site(node, http):
    """An author's profile lists their article even when 200 newer articles by others exist."""
    # Given alice's one article, then 200 newer ones by the editor
    async with node.node.sessions.begin() as session:
        await add_author(session, node.settings, "alice")
    await publish(node, "Alice's only article", author="alice")
    async with node.node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, "editor")
        for number in range(200):
            await publish_article(session, node.settings, Draft(title=f"News {number}", slug=f"news-{number}", body="."), editor)
    # When alice's profile is opened
    _, _, html = await fetch(http, node.url("/@alice"), BROWSER_ACCEPT)
    # Then her article is listed, and nobody else's
    assert "Alice&#39;s only article" in html
    assert "News 0" not in html


async def test_pages_are_readable_on_a_phone(node, http, article_url):
    """Pages declare a language, UTF-8 and a device-width viewport."""
    # Given an article page
    # When it is opened
    _, _, html = await fetch(http, article_url, BROWSER_ACCEPT)
    # Then it has what mobile browsers need to lay it out
    assert re.search(r'<html lang="en"', html)
    assert '<meta charset="utf-8">' in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


async def test_article_page_shows_the_demo_thread_in_order(node, http):
    """The demo article's page shows its discussion numbered and nested four levels deep, in order."""
    # Given the demo article and its discussion
    async with node.node.sessions.begin() as session:
        url, created = await seed_demo(session, node.settings)
    assert created and url == node.url(f"/articles/{DEMO_SLUG}")
    # When its page is opened
    _, _, html = await fetch(http, url, BROWSER_ACCEPT)
    # Then the comments appear numbered in thread order, the deepest chain first
    numbers = re.findall(r'<span class="number">([\d.]+)</span>', html)
    assert numbers == ["1", "1.1", "1.1.1", "1.1.1.1", "1.2", "2", "2.1"]
    chain = [
        "So I can answer from my own server",
        "Yes. The node keeps the whole thread",
        "How does it find the ones",
        "It reads the replies collection",
    ]
    positions = [html.index(text) for text in chain]
    assert positions == sorted(positions)
    assert 'class="comment depth-3"' in html


async def test_demo_seed_runs_once(node):
    """Seeding the demo twice keeps one article and one discussion."""
    # Given a seeded demo
    async with node.node.sessions.begin() as session:
        first_url, first_created = await seed_demo(session, node.settings)
    # When it is seeded again
    async with node.node.sessions.begin() as session:
        second_url, second_created = await seed_demo(session, node.settings)
        article = await queries.get_article_by_slug(session, DEMO_SLUG)
        comments = await queries.list_thread(session, article.id)
    # Then nothing new is made
    assert (first_created, second_created) == (True, False)
    assert first_url == second_url
    assert len(comments) == 7


async def test_demo_thread_has_several_authors(node, http):
    """The demo discussion is written by several local authors, each with an actor document."""
    # Given the demo
    async with node.node.sessions.begin() as session:
        url, _ = await seed_demo(session, node.settings)
    _, _, context = await fetch(http, url + "/context?page=1")
    # When the comments' authors are read
    authors = set()
    for item in context["orderedItems"][1:]:
        _, _, comment = await fetch(http, item)
        authors.add(comment["attributedTo"])
    # Then there are several, and each is a Person
    assert len(authors) >= 3
    for author in authors:
        status, _, actor = await fetch(http, author)
        assert (status, actor["type"]) == (200, "Person")


async def test_published_times_are_utc(node, http, article_url):
    """published and updated parse as UTC instants."""
    # Given an article
    _, _, article = await fetch(http, article_url)
    # When its dates are parsed
    published = datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
    # Then they are UTC and not in the future
    assert published.utcoffset().total_seconds() == 0
    assert published <= utcnow()
