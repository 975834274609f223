"""The document converters, as tables, both ways, called directly on rows and documents:

* remote documents → rows: ``comments.visibility_of``, ``comments.html_of``, ``comments.comment_values``,
  ``actors.actor_values_from_ap`` and ``timestamps.parse_time``, fed the shapes Mastodon, Lemmy,
  Misskey, GoToSocial, Friendica and Fedify send;
* our rows → ActivityStreams: ``federation/convert.py`` (``actor_to_ap``, ``article_to_ap``,
  ``reply_controls``, ``comment_to_ap``, ``tombstone_to_ap``, ``create_to_ap``, the collections) and
  ``discussions/convert.py`` (``link_thread_to_ap``).

They touch no database and no network: a case is a document or an unsaved row and the columns or the
document that come out.  Two of them read the clock, and the cases say so: ``comment_values`` stamps a
reply that has no ``published`` with the time it is read, and ``reply_controls`` compares an article's
``replies_close_at`` with now.  The payload-shape tests (tests/test_payload_shapes.py) check the same
shapes end to end over signed HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from node.db.models import Activity, Actor, DiscussionDocument, Object
from node.errors import InvalidDocument
from node.discussions.convert import link_thread_html, link_thread_to_ap
from node.federation.actors import MAX_NAME, actor_values_from_ap
from node.federation.comments import MAX_CONTENT, comment_values, html_of, visibility_of
from node.federation.convert import (actor_to_ap, article_to_ap, collection_page, comment_to_ap, create_to_ap, iso,
                                     ordered_collection, reply_controls, tombstone_to_ap)
from node.federation.timestamps import parse_time
from node.federation.vocab import AS_NS, CONTEXT, PUBLIC
from node.urls import Urls

URLS = Urls("https://forum.example")
WHEN = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)
MASTODON = "https://mastodon.social/users/alice"
LEMMY = "https://lemmy.ml/u/bob"
LEMMY_COMMUNITY = "https://lemmy.ml/c/fediverse"
MISSKEY = "https://misskey.io/users/9h6tuvnbx4"
GTS = "https://gts.example.org/users/carol"
FRIENDICA = "https://friendica.example/profile/dave"


# --- remote documents → rows ----------------------------------------------------------------------


@pytest.mark.parametrize("to, cc, visibility", [
    ([PUBLIC], [MASTODON + "/followers"], "public"),                 # Mastodon public
    ([MASTODON + "/followers"], [PUBLIC], "unlisted"),               # Mastodon unlisted
    ([MASTODON + "/followers"], [], "followers"),                    # Mastodon followers-only
    (["https://forum.example/actors/editor"], [], "direct"),         # Mastodon direct: a person only
    ([PUBLIC], [LEMMY_COMMUNITY], "public"),                         # Lemmy comment, community in cc
    (PUBLIC, None, "public"),                                        # a single value, not a list
    (["as:Public"], [], "public"),                                   # compacted JSON-LD (Pleroma's LitePub)
    (["Public"], [], "public"),
    ([{"id": PUBLIC, "type": "Collection"}], [], "public"),          # embedded, not a plain id
    ([GTS + "/followers"], [GTS], "followers"),                      # GoToSocial followers-only
    (["https://friendica.example/followers/dave"], [], "followers"),  # Friendica's followers path
    ([MISSKEY], ["https://misskey.io/users/9h6tuvnbx4/followers"], "followers"),  # Misskey home-only
    ([], [], "direct"),                                               # nobody named at all
], ids=["mastodon-public", "mastodon-unlisted", "mastodon-followers", "mastodon-direct", "lemmy-comment",
        "single-value", "as-public", "bare-public", "embedded-public", "gotosocial-followers",
        "friendica-followers", "misskey-home", "no-audience"])
def test_visibility_is_read_from_the_addressing(to, cc, visibility):
    """Public in ``to`` is public, in ``cc`` unlisted; a followers collection alone is followers; else direct."""
    # Given a reply addressed as its software addresses it
    document = {"type": "Note", "to": to, "cc": cc}
    # When its visibility is read
    # Then it is the one the sender meant
    assert visibility_of(document) == visibility


@pytest.mark.parametrize("document, html", [
    ({"content": "<p>Hello <b>there</b></p>"}, "<p>Hello <b>there</b></p>"),
    # Misskey sends its MFM source beside the HTML: the HTML is what is stored.
    ({"content": "<p>Hi</p>", "_misskey_content": "**Hi**", "source": {"content": "**Hi**", "mediaType": "text/x.misskeymarkdown"}},
     "<p>Hi</p>"),
    # No content, only contentMap: its first text is taken.
    ({"contentMap": {"de": "<p>Hallo</p>", "en": "<p>Hello</p>"}}, "<p>Hallo</p>"),
    ({"content": None, "contentMap": {"en": 5, "fr": "<p>Salut</p>"}}, "<p>Salut</p>"),
    ({}, ""),
    ({"content": ["<p>not a string</p>"]}, ""),
    # Scripts, event handlers and javascript: links never survive (nh3, sanitize_html).
    ({"content": '<p>x<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">y</a></p>'},
     '<p>x<a rel="nofollow noopener noreferrer">y</a></p>'),
    # Mastodon's mention markup is kept, links marked nofollow.
    ({"content": '<p><span class="h-card"><a href="https://forum.example/@editor" class="u-url mention">@editor</a></span> hi</p>'},
     '<p><span class="h-card"><a href="https://forum.example/@editor" class="u-url mention" '
     'rel="nofollow noopener noreferrer">@editor</a></span> hi</p>'),
], ids=["mastodon", "misskey-with-mfm", "content-map-only", "content-map-skips-non-text", "nothing",
        "content-not-text", "hostile", "mastodon-mention"])
def test_html_is_content_or_content_map_sanitised(document, html):
    """The stored HTML is ``content`` (else the first text of ``contentMap``), sanitised."""
    # Given a document's content as sent
    # When its HTML is read
    # Then it is the sanitised text
    assert html_of(document) == html


def test_html_is_cut_before_it_is_sanitised():
    """A body longer than MAX_CONTENT is cut to it, so a huge reply costs the sanitiser no more."""
    # Given a reply of plain text longer than the limit
    document = {"content": "a" * (MAX_CONTENT + 500)}
    # When its HTML is read
    # Then it is the first MAX_CONTENT characters
    assert html_of(document) == "a" * MAX_CONTENT


ARTICLE = SimpleNamespace(id=7, ap_id="https://forum.example/articles/topic", kind="article", root_id=None,
                          context="https://forum.example/articles/topic/context", is_local=True)
COMMENT = SimpleNamespace(id=9, ap_id="https://forum.example/comments/9", kind="comment", root_id=7,
                          context="https://forum.example/articles/topic/context", is_local=True)


def mastodon_note(**changes) -> dict:
    """A Mastodon reply (StatusSerializer): ``url`` is its web page, times to the second with Z."""
    return {
        "id": MASTODON + "/statuses/111", "type": "Note", "attributedTo": MASTODON,
        "inReplyTo": ARTICLE.ap_id, "url": "https://mastodon.social/@alice/111",
        "content": "<p>Hello</p>", "published": "2026-12-01T10:00:00Z",
        "to": [PUBLIC], "cc": [MASTODON + "/followers"], **changes,
    }


def lemmy_comment(**changes) -> dict:
    """A Lemmy comment (crates/apub/src/objects/comment.rs): no ``url``, microsecond offsets."""
    return {
        "id": "https://lemmy.ml/comment/42", "type": "Note", "attributedTo": LEMMY, "inReplyTo": ARTICLE.ap_id,
        "content": "<p>A comment</p>", "mediaType": "text/html", "source": {"content": "A comment", "mediaType": "text/markdown"},
        "published": "2026-12-01T10:00:00.123456+00:00", "to": [PUBLIC], "cc": [LEMMY_COMMUNITY],
        "audience": LEMMY_COMMUNITY, **changes,
    }


@pytest.mark.parametrize("document, parent, root, expected", [
    # A Mastodon reply to our article: the thread's root is the article, the url its web page.
    (mastodon_note(), ARTICLE, ARTICLE,
     dict(ap_id=MASTODON + "/statuses/111", ap_type="Note", kind="comment", is_local=False, actor_id=3,
          content="<p>Hello</p>", name=None, url="https://mastodon.social/@alice/111", in_reply_to=ARTICLE.ap_id,
          parent_id=7, root_id=7, context=ARTICLE.context, visibility="public", published=WHEN, updated=None)),
    # A Lemmy comment under one of our comments: the root is the comment's root, no url means its id.
    (lemmy_comment(), COMMENT, ARTICLE,
     dict(ap_id="https://lemmy.ml/comment/42", ap_type="Note", kind="comment", is_local=False, actor_id=3,
          content="<p>A comment</p>", name=None, url="https://lemmy.ml/comment/42", in_reply_to=COMMENT.ap_id,
          parent_id=9, root_id=7, context=ARTICLE.context, visibility="public",
          published=WHEN.replace(microsecond=123456), updated=None)),
], ids=["mastodon-under-article", "lemmy-under-comment"])
def test_comment_values_are_the_row_of_a_reply(document, parent, root, expected):
    """``comment_values`` gives every column of the comment row; ``raw`` keeps the document as sent."""
    # Given a reply document, its held parent and the thread's root
    # When its row is made for author 3
    values = comment_values(document, 3, parent, root)
    # Then it has these columns, and the document itself as raw
    assert {k: v for k, v in values.items() if k != "raw"} == expected
    assert values["raw"] is document


@pytest.mark.parametrize("changes, column, value", [
    ({"type": "Article", "name": "A title"}, "name", "A title"),       # an Article reply keeps its title
    ({"type": "Page", "name": "Lemmy post"}, "name", "Lemmy post"),
    ({"name": "a poll option?"}, "name", None),                        # a Note's name is not a title
    ({"type": "Article", "name": ["x"]}, "name", None),                # a title that is not text
    ({"type": "Question"}, "ap_type", "Question"),                     # a poll reply is stored as what it is
    ({"url": {"type": "Link", "href": "https://mastodon.social/@alice/111"}}, "url", MASTODON + "/statuses/111"),
    ({"url": "ftp://mastodon.social/x"}, "url", MASTODON + "/statuses/111"),  # not http(s): the id instead
    ({"updated": "2026-12-01T11:30:00Z"}, "updated", WHEN + timedelta(minutes=90)),
    ({"updated": "2026-12-01T10:00:00Z"}, "updated", None),            # the same moment: never edited
    ({"updated": "2026-12-01T09:00:00Z"}, "updated", None),            # before it was published: ignored
    ({"published": "2026-12-01T10:00:00.123456789Z"}, "published", WHEN.replace(microsecond=123456)),  # Fedify
    ({"published": "2026-12-01T12:00:00+02:00"}, "published", WHEN),  # an offset, stored as UTC's moment
    ({"to": [MASTODON + "/followers"], "cc": [PUBLIC]}, "visibility", "unlisted"),
    ({"content": "<p>x</p><script>y</script>"}, "content", "<p>x</p>"),
], ids=["article-title", "page-title", "note-name-dropped", "title-not-text", "question", "url-link-object",
        "url-not-http", "edited", "updated-equals-published", "updated-before-published", "fedify-nanoseconds",
        "offset", "unlisted", "sanitised"])
def test_comment_values_read_each_field(changes, column, value):
    """One field of a Mastodon reply changed, the column it feeds."""
    # Given a Mastodon reply with one field as another server would send it
    document = mastodon_note(**changes)
    # When its row is made
    values = comment_values(document, 3, ARTICLE, ARTICLE)
    # Then that column is read as it should be
    assert values[column] == value


def test_comment_values_take_the_documents_context_without_a_root():
    """With no root row (the crawler storing under a remote post), the reply's own ``context`` is kept."""
    # Given a reply naming its context (NodeBB, GoToSocial, FEP-7888), no root held
    document = mastodon_note(context="https://nodebb.example/topic/12")
    # When its row is made
    values = comment_values(document, 3, ARTICLE, None)
    # Then the context is the document's
    assert values["context"] == "https://nodebb.example/topic/12"


def test_comment_values_stamp_a_reply_without_published_with_now():
    """Not pure: a reply that says nothing of when it was written is dated when it is read."""
    # Given a reply without ``published``
    document = mastodon_note()
    del document["published"]
    before = datetime.now(timezone.utc)
    # When its row is made
    values = comment_values(document, 3, ARTICLE, ARTICLE)
    # Then it is dated now
    assert before <= values["published"] <= datetime.now(timezone.utc)


@pytest.mark.parametrize("value, moment", [
    ("2026-12-01T10:00:00Z", WHEN),                                  # Mastodon
    ("2026-12-01T10:00:00.123456789Z", WHEN.replace(microsecond=123456)),  # Fedify's nanoseconds
    ("2026-12-01T10:00:00.5+00:00", WHEN.replace(microsecond=500000)),  # Lemmy's chrono, short fraction
    ("2026-12-01T12:00:00.1+02:00", WHEN.replace(microsecond=100000)),  # the offset's digits stay the offset
    ("2026-12-01T10:00:00", WHEN),                                   # no offset: read as UTC
    ("2026-12-01t10:00:00z", WHEN),                                  # lower-case t and z (RFC 3339 allows them)
    ("yesterday", None),
    ("0001-01-01T00:00+01:00", None),                                # no UTC time for it: absent
    (1733047200, None),                                              # a number is not a timestamp here
    (None, None),
], ids=["mastodon", "fedify", "lemmy", "fraction-then-offset", "naive", "lower-case", "words", "before-year-1",
        "number", "absent"])
def test_timestamps_are_read_as_utc_or_absent(value, moment):
    """``parse_time`` reads what servers write, or gives None, never an error."""
    # Given a timestamp as a server writes it
    # When it is parsed
    # Then it is that UTC moment, or absent
    assert parse_time(value) == moment


def mastodon_person(**changes) -> dict:
    """A Mastodon actor (ActivityPub::ActorSerializer), with its shared inbox in ``endpoints``."""
    return {
        "@context": [AS_NS, "https://w3id.org/security/v1"],
        "id": MASTODON, "type": "Person", "preferredUsername": "alice", "name": "Alice",
        "summary": "<p>Hi, I'm Alice</p>", "url": "https://mastodon.social/@alice",
        "inbox": MASTODON + "/inbox", "outbox": MASTODON + "/outbox",
        "followers": MASTODON + "/followers", "following": MASTODON + "/following",
        "endpoints": {"sharedInbox": "https://mastodon.social/inbox"},
        "publicKey": {"id": MASTODON + "#main-key", "owner": MASTODON, "publicKeyPem": "-----BEGIN PUBLIC KEY-----"},
        **changes,
    }


def test_actor_values_of_a_mastodon_person():
    """Every column of a remote actor row from Mastodon's actor document."""
    # Given Mastodon's actor document
    document = mastodon_person()
    # When its row is made
    values = actor_values_from_ap(document)
    # Then each column is read from it
    assert values == {
        "ap_id": MASTODON, "ap_type": "Person", "username": "alice", "domain": "mastodon.social", "name": "Alice",
        "summary": "<p>Hi, I'm Alice</p>", "url": "https://mastodon.social/@alice", "inbox": MASTODON + "/inbox",
        "shared_inbox": "https://mastodon.social/inbox", "outbox": MASTODON + "/outbox",
        "followers": MASTODON + "/followers", "following": MASTODON + "/following", "raw": document,
    }


@pytest.mark.parametrize("document, column, value", [
    # Lemmy's Person has no followers collection.
    ({**mastodon_person(id=LEMMY, inbox=LEMMY + "/inbox", endpoints={"sharedInbox": "https://lemmy.ml/inbox"},
                        preferredUsername="bob"), "followers": None}, "followers", None),
    # A Lemmy community is a Group.
    (mastodon_person(id=LEMMY_COMMUNITY, type="Group", inbox=LEMMY_COMMUNITY + "/inbox", preferredUsername="fediverse"),
     "ap_type", "Group"),
    # GoToSocial sends no shared inbox.
    ({**mastodon_person(id=GTS, inbox=GTS + "/inbox"), "endpoints": None}, "shared_inbox", None),
    # Misskey's ids are opaque; its handle is preferredUsername.
    (mastodon_person(id=MISSKEY, inbox=MISSKEY + "/inbox", preferredUsername="alice"), "username", "alice"),
    # Without preferredUsername, the last path segment.
    ({**mastodon_person(id=FRIENDICA, inbox=FRIENDICA + "/inbox"), "preferredUsername": None}, "username", "dave"),
    # A shared inbox on another server could redirect our deliveries: dropped.
    (mastodon_person(endpoints={"sharedInbox": "https://evil.example/inbox"}), "shared_inbox", None),
    # The domain is normalised, with a port when there is one.
    (mastodon_person(id="https://Social.Example:8443/users/x", inbox="https://social.example:8443/users/x/inbox"),
     "domain", "social.example:8443"),
    # The profile's HTML is sanitised.
    (mastodon_person(summary='<p>Hi<script>alert(1)</script></p>'), "summary", "<p>Hi</p>"),
    (mastodon_person(summary=None), "summary", ""),
    # A display name longer than Mastodon's limit is not kept.
    (mastodon_person(name="x" * (MAX_NAME + 1)), "name", None),
    # A url that is not http(s) is not kept.
    (mastodon_person(url="javascript:alert(1)"), "url", None),
    # An embedded url Link with an id is read by its id.
    (mastodon_person(url={"id": "https://mastodon.social/@alice", "type": "Link"}), "url", "https://mastodon.social/@alice"),
], ids=["lemmy-no-followers", "lemmy-community", "gotosocial-no-shared-inbox", "misskey-username",
        "username-from-path", "foreign-shared-inbox", "domain-normalised", "summary-sanitised", "summary-absent",
        "name-too-long", "url-not-http", "url-link-object"])
def test_actor_values_read_each_field(document, column, value):
    """One field of an actor document as another server sends it, the column it feeds."""
    # Given an actor document
    # When its row is made
    values = actor_values_from_ap(document)
    # Then that column is read as it should be
    assert values[column] == value


@pytest.mark.parametrize("document", [
    mastodon_person(type="Note"),                         # not an actor type
    mastodon_person(type=["Person"]),
    mastodon_person(inbox=None),                          # nowhere to deliver
    mastodon_person(inbox="ftp://mastodon.social/inbox"),
    mastodon_person(id="did:key:z6Mk"),                   # an id that is not an http(s) URL
    {k: v for k, v in mastodon_person().items() if k != "id"},
], ids=["note", "type-list", "no-inbox", "inbox-not-http", "id-not-http", "no-id"])
def test_actor_values_refuse_what_is_not_a_usable_actor(document):
    """A document that is not an actor we can address is an invalid document, never a row."""
    # Given a document that is not a usable actor
    # When its row is made
    # Then it is refused
    with pytest.raises(InvalidDocument):
        actor_values_from_ap(document)


# --- our rows → ActivityStreams -------------------------------------------------------------------


def local_actor(username: str, ap_type: str = "Person", **changes) -> Actor:
    """An unsaved local actor row as setup makes it."""
    ap_id = URLS.actor(username)
    columns = dict(
        id=1, ap_id=ap_id, ap_type=ap_type, is_local=True, username=username, domain="forum.example",
        name=username.title(), summary="<p>About</p>", url=URLS.profile(username), inbox=URLS.inbox(username),
        outbox=URLS.outbox(username), followers=URLS.followers(username), following=URLS.following(username),
        public_key_id=URLS.key_id(username), public_key_pem="-----BEGIN PUBLIC KEY-----", created_at=WHEN,
        deleted_at=None,
    )
    columns.update(changes)
    return Actor(**columns)


EDITOR = local_actor("editor")
FORUM = local_actor("forum", "Group", id=2)


def test_actor_document_of_a_person():
    """A local Person: its collections, the shared inbox, its key and the Mastodon flags."""
    # Given the editor's row
    # When it is converted
    document = actor_to_ap(EDITOR, URLS)
    # Then the document carries everything servers read of an actor
    assert document == {
        "@context": CONTEXT, "id": EDITOR.ap_id, "type": "Person", "preferredUsername": "editor", "name": "Editor",
        "summary": "<p>About</p>", "url": EDITOR.url, "inbox": EDITOR.inbox, "outbox": EDITOR.outbox,
        "followers": EDITOR.followers, "following": EDITOR.following,
        "endpoints": {"sharedInbox": "https://forum.example/inbox"}, "manuallyApprovesFollowers": False,
        "discoverable": True, "indexable": True, "published": "2026-12-01T10:00:00Z",
        "publicKey": {"id": EDITOR.public_key_id, "owner": EDITOR.ap_id, "publicKeyPem": EDITOR.public_key_pem},
    }


@pytest.mark.parametrize("actor, kwargs, expected", [
    (FORUM, {"manually_approves": True}, {"type": "Group", "manuallyApprovesFollowers": True}),
    (local_actor("instance.actor", "Application"), {},
     {"manuallyApprovesFollowers": True, "discoverable": False, "indexable": False}),
    (EDITOR, {"icon": "https://forum.example/media/avatars/1/ab.webp"},
     {"icon": {"type": "Image", "mediaType": "image/webp", "url": "https://forum.example/media/avatars/1/ab.webp"}}),
    (local_actor("gone", deleted_at=WHEN), {"icon": "https://forum.example/media/avatars/1/ab.webp"},
     {"name": "", "summary": "", "discoverable": False, "indexable": False}),
    (local_actor("quiet", name=None, summary=None), {}, {"name": "quiet", "summary": ""}),
], ids=["group-approving", "instance-actor", "avatar", "deleted-account", "no-name"])
def test_actor_document_variants(actor, kwargs, expected):
    """The Group, the instance actor, a member's avatar and a deleted account, each as served."""
    # Given a local actor row
    # When it is converted
    document = actor_to_ap(actor, URLS, **kwargs)
    # Then these fields say what it is
    assert {k: document.get(k) for k in expected} == expected


def test_a_deleted_account_shows_no_picture():
    """Like Mastodon's removed account: the key and inbox stay, the picture does not."""
    # Given a deleted account that had an avatar
    actor = local_actor("gone", deleted_at=WHEN)
    # When it is converted with its icon
    document = actor_to_ap(actor, URLS, icon="https://forum.example/media/avatars/1/ab.webp")
    # Then no icon is served, but its key still is
    assert "icon" not in document and document["publicKey"]["id"] == actor.public_key_id


def local_article(**changes) -> Object:
    """An unsaved local article row as ``publish_article`` makes it."""
    columns = dict(
        id=7, ap_id=URLS.article("topic"), ap_type="Article", kind="article", is_local=True, actor_id=1,
        slug="topic", name="Topic", content="<h1>Title</h1><p>Hello <em>there</em></p>",
        source="# Title\n\nHello *there*", language=None, url=URLS.article("topic"), tags=["Python", "fediverse"],
        published=WHEN, updated=None, replies_count=2, reply_policy=None, locked=False, replies_close_at=None,
    )
    columns.update(changes)
    return Object(**columns)


def test_article_document():
    """A local article: Markdown rendered inside Mastodon's allowlist, the Group as audience, no summary."""
    # Given a local article by the editor in the forum
    article = local_article()
    # When it is converted
    document = article_to_ap(article, EDITOR, FORUM, URLS)
    # Then the article carries its thread's addressing and collections
    assert {k: v for k, v in document.items() if k not in ("@context", "interactionPolicy", "commentsEnabled")} == {
        "id": article.ap_id, "type": "Article", "name": "Topic",
        "content": "<p><strong>Title</strong></p>\n<p>Hello <em>there</em></p>\n", "mediaType": "text/html",
        "source": {"content": article.source, "mediaType": "text/markdown"}, "url": article.url,
        "attributedTo": EDITOR.ap_id, "audience": FORUM.ap_id, "to": [PUBLIC], "cc": [EDITOR.followers, FORUM.followers],
        "published": "2026-12-01T10:00:00Z", "updated": "2026-12-01T10:00:00Z",
        "tag": [{"type": "Hashtag", "href": "https://forum.example/tags/python", "name": "#Python"},
                {"type": "Hashtag", "href": "https://forum.example/tags/fediverse", "name": "#fediverse"}],
        "replies": {"id": article.ap_id + "/replies", "type": "OrderedCollection", "totalItems": 2,
                    "first": article.ap_id + "/replies?page=1"},
        "context": article.ap_id + "/context", "sensitive": False,
    }


@pytest.mark.parametrize("changes, key, value", [
    ({"language": "de"}, "contentMap", {"de": "<p><strong>Title</strong></p>\n<p>Hello <em>there</em></p>\n"}),
    ({"is_local": False, "source": None}, "content", "<h1>Title</h1><p>Hello <em>there</em></p>"),  # stored HTML
    ({"updated": WHEN + timedelta(hours=1)}, "updated", "2026-12-01T11:00:00Z"),
    ({"tags": None}, "tag", []),
    ({"url": None}, "url", URLS.article("topic")),
    ({"summary": "A description"}, "summary", None),  # never sent: Mastodon shows it as a content warning
], ids=["language", "remote-article-keeps-html", "edited", "no-tags", "url-falls-back-to-id", "no-summary"])
def test_article_document_fields(changes, key, value):
    """One column of the article changed, the field it feeds."""
    # Given the article with one column changed
    # When it is converted
    document = article_to_ap(local_article(**changes), EDITOR, FORUM, URLS)
    # Then that field is
    assert document.get(key) == value


FUTURE = datetime.now(timezone.utc) + timedelta(days=365)
PAST = datetime.now(timezone.utc) - timedelta(days=1)


@pytest.mark.parametrize("changes, automatic, manual, enabled", [
    ({}, [PUBLIC], [], True),
    ({"reply_policy": "open"}, [PUBLIC], [], True),
    ({"reply_policy": "followers"}, [EDITOR.ap_id, EDITOR.followers, FORUM.followers], [], True),
    ({"reply_policy": "approval"}, [EDITOR.ap_id], [PUBLIC], True),
    ({"reply_policy": "closed"}, [EDITOR.ap_id], [], False),
    ({"locked": True}, [EDITOR.ap_id], [], False),
    ({"replies_close_at": PAST}, [EDITOR.ap_id], [], False),     # reads the clock: closed since yesterday
    ({"replies_close_at": FUTURE}, [PUBLIC], [], True),          # reads the clock: closes next year
], ids=["default", "open", "followers", "approval", "closed", "locked", "closing-time-passed", "closing-time-ahead"])
def test_reply_controls_advertise_who_may_reply(changes, automatic, manual, enabled):
    """GoToSocial's ``interactionPolicy.canReply`` (new and old names) and Lemmy's ``commentsEnabled``."""
    # Given an article with a reply policy
    article = local_article(**changes)
    # When its reply controls are made
    controls = reply_controls(article, EDITOR, FORUM)
    # Then they say who may reply, in every name the peers read
    assert controls["interactionPolicy"]["canReply"] == {
        "automaticApproval": automatic, "manualApproval": manual, "always": automatic, "approvalRequired": manual}
    assert controls["commentsEnabled"] is enabled
    assert "https://gotosocial.org/ns" in controls["@context"]


def local_comment(**changes) -> Object:
    """An unsaved comment written on this node, under the article."""
    columns = dict(
        id=11, ap_id=URLS.comment(11), ap_type="Note", kind="comment", is_local=True, actor_id=1,
        content="<p>Nice</p>", source="Nice", url=None, in_reply_to=URLS.article("topic"), parent_id=7, root_id=7,
        context=URLS.article("topic") + "/context", published=WHEN, updated=None, replies_count=0, raw=None,
    )
    columns.update(changes)
    return Object(**columns)


def test_a_sample_comment_is_addressed_to_its_authors_and_the_sites_followers():
    """A comment without a sent addressing (the demo thread's) goes public, cc both followers collections."""
    # Given a comment with no ``raw``
    comment = local_comment()
    # When it is converted
    document = comment_to_ap(comment, EDITOR, FORUM, URLS)
    # Then it is a public Note in the thread, with no Markdown source (none was sent)
    assert {k: v for k, v in document.items() if k != "@context"} == {
        "id": comment.ap_id, "type": "Note", "content": "<p>Nice</p>", "mediaType": "text/html", "url": comment.ap_id,
        "attributedTo": EDITOR.ap_id, "inReplyTo": comment.in_reply_to, "audience": FORUM.ap_id, "to": [PUBLIC],
        "cc": [EDITOR.followers, FORUM.followers], "published": "2026-12-01T10:00:00Z",
        "updated": "2026-12-01T10:00:00Z",
        "replies": {"id": comment.ap_id + "/replies", "type": "OrderedCollection", "totalItems": 0,
                    "first": comment.ap_id + "/replies?page=1"},
        "context": comment.context, "tag": [], "sensitive": False,
    }


def test_a_members_comment_is_served_as_it_was_sent():
    """FEP-11dd: a member's reply keeps the to/cc/tag/audience it was delivered with, mentions written out."""
    # Given a member's reply to a Mastodon post, as node.members.posting addressed it
    sent = {"to": [PUBLIC, MASTODON], "cc": [EDITOR.followers], "audience": "https://mastodon.social/users/alice",
            "tag": [{"type": "Mention", "href": MASTODON, "name": "@alice@mastodon.social"}]}
    comment = local_comment(raw=sent)
    # When it is converted
    document = comment_to_ap(comment, EDITOR, FORUM, URLS)
    # Then the addressing is the sent one, the mention leads the text, and the Markdown source is given
    assert (document["to"], document["cc"], document["audience"], document["tag"]) == (
        sent["to"], sent["cc"], sent["audience"], sent["tag"])
    assert document["content"] == ('<p><span class="h-card"><a href="https://mastodon.social/users/alice" '
                                   'class="u-url mention">@<span>alice</span></a></span></p><p>Nice</p>')
    assert document["source"] == {"content": "Nice", "mediaType": "text/markdown"}


def test_a_comment_in_a_thread_without_context_publishes_none():
    """FEP-11dd: a reply inherits its root's context, and publishes none when the root has none."""
    # Given a comment whose thread has no context, sent with no audience
    comment = local_comment(context=None, raw={"to": [PUBLIC], "cc": [], "audience": None})
    # When it is converted
    document = comment_to_ap(comment, EDITOR, FORUM, URLS)
    # Then neither key is present
    assert "context" not in document and "audience" not in document


def test_tombstone_document():
    """A deleted object answers a Tombstone with its former type and when it was deleted."""
    # Given a deleted comment
    comment = local_comment(deleted_at=WHEN + timedelta(minutes=5))
    # When it is converted
    # Then it is a Tombstone
    assert tombstone_to_ap(comment) == {"@context": CONTEXT, "id": comment.ap_id, "type": "Tombstone",
                                        "formerType": "Note", "deleted": "2026-12-01T10:05:00Z"}


def test_create_wraps_the_object_and_takes_its_context():
    """The Create carries the object's @context (its extra terms) once, at the top, and its addressing."""
    # Given an article's document (with GoToSocial's terms in its @context) and its Create row
    article = article_to_ap(local_article(), EDITOR, FORUM, URLS)
    activity = Activity(ap_id="https://forum.example/activities/1", actor_ap_id=EDITOR.ap_id)
    # When the Create is made
    create = create_to_ap(activity, article)
    # Then it is addressed like the object, with the object's context, and the object has none of its own
    assert create["@context"] == article["@context"]
    assert (create["id"], create["type"], create["actor"], create["to"], create["cc"], create["published"]) == (
        activity.ap_id, "Create", EDITOR.ap_id, article["to"], article["cc"], article["published"])
    assert create["object"] == {k: v for k, v in article.items() if k != "@context"}


@pytest.mark.parametrize("first, last, expected", [
    ("https://forum.example/c?page=1", None, {"first": "https://forum.example/c?page=1"}),
    ("https://forum.example/c?page=1", "https://forum.example/c?page=3",
     {"first": "https://forum.example/c?page=1", "last": "https://forum.example/c?page=3"}),
    (None, None, {}),
], ids=["first", "first-and-last", "empty"])
def test_ordered_collection_names_only_the_pages_it_has(first, last, expected):
    """The top of a collection: its size, and first/last only when there are pages."""
    # Given a collection's pages
    # When its top is made
    document = ordered_collection("https://forum.example/c", 3, first=first, last=last)
    # Then it has these keys beside its id, type and size
    assert document == {"@context": CONTEXT, "id": "https://forum.example/c", "type": "OrderedCollection",
                        "totalItems": 3, **expected}


@pytest.mark.parametrize("next_page, prev_page, total, expected", [
    ("https://forum.example/c?page=2", None, None, {"next": "https://forum.example/c?page=2"}),
    (None, "https://forum.example/c?page=1", 12, {"prev": "https://forum.example/c?page=1", "totalItems": 12}),
    (None, None, None, {}),
], ids=["first-page", "last-page-with-total", "only-page"])
def test_collection_page_links_its_neighbours(next_page, prev_page, total, expected):
    """A page names its collection, its items, and next/prev only when they exist."""
    # Given a page's neighbours
    # When the page is made
    document = collection_page("https://forum.example/c?page=1", "https://forum.example/c", ["a"],
                               next_page=next_page, prev_page=prev_page, total=total)
    # Then it has these keys beside its own
    assert document == {"@context": CONTEXT, "id": "https://forum.example/c?page=1", "type": "OrderedCollectionPage",
                        "partOf": "https://forum.example/c", "orderedItems": ["a"], **expected}


@pytest.mark.parametrize("moment, text", [
    (WHEN.replace(microsecond=999999), "2026-12-01T10:00:00Z"),
    (None, None),
], ids=["to-the-second", "absent"])
def test_iso_writes_times_as_mastodon_does(moment, text):
    """RFC 3339, UTC, to the second, with a Z."""
    # Given a moment
    # When it is written
    # Then it is Mastodon's format
    assert iso(moment) == text


def discussed_page(**changes) -> DiscussionDocument:
    columns = dict(id=4, canonical_url="https://blog.example/post?id=1", kind="link", title="A <post>",
                   description="What & why", site_name="Blog")
    columns.update(changes)
    return DiscussionDocument(**columns)


def link_thread(document: DiscussionDocument) -> Object:
    return Object(id=20, ap_id=URLS.discussion(document.id), ap_type="Page", kind="article", is_local=True,
                  content=link_thread_html(document), context=URLS.discussion(document.id) + "/context",
                  published=WHEN, updated=None, replies_count=1)


def test_link_thread_html_escapes_what_the_page_said():
    """The thread's text names the page and its description, all escaped (the page is not ours)."""
    # Given a page whose title and description hold markup characters
    # When the thread's HTML is made
    # Then they are escaped
    assert link_thread_html(discussed_page()) == (
        '<p>A discussion of <a href="https://blog.example/post?id=1">A &lt;post&gt;</a> (Blog)</p>'
        "<p>What &amp; why</p>")


@pytest.mark.parametrize("opener, cc", [
    (FORUM, [FORUM.followers]),                     # opened by the site: its followers only
    (EDITOR, [EDITOR.followers, FORUM.followers]),  # opened by a member: theirs and the site's
], ids=["by-site", "by-member"])
def test_link_thread_is_a_page_about_the_page(opener, cc):
    """FEP-8967: a ``Page`` whose ``url`` and ``Link`` attachment are the discussed page."""
    # Given a discussed page and its link thread
    page = discussed_page()
    thread = link_thread(page)
    # When it is converted
    document = link_thread_to_ap(thread, page, opener, FORUM, URLS)
    # Then it points at the page, carries its title and escaped description, and is addressed by its opener
    assert (document["type"], document["url"], document["name"], document["summary"]) == (
        "Page", page.canonical_url, "A <post>", "What &amp; why")
    assert document["attachment"] == [{"type": "Link", "href": page.canonical_url, "mediaType": "text/html",
                                       "name": "A <post>"}]
    assert (document["attributedTo"], document["audience"], document["to"], document["cc"]) == (
        opener.ap_id, FORUM.ap_id, [PUBLIC], cc)


def test_link_thread_without_title_or_description_is_named_by_its_address():
    """No title: the page's address is the name; no description: no summary."""
    # Given a page that gave neither
    page = discussed_page(title=None, description=None)
    # When its thread is converted
    document = link_thread_to_ap(link_thread(page), page, FORUM, FORUM, URLS)
    # Then the address names it and there is no summary
    assert document["name"] == page.canonical_url and "summary" not in document
