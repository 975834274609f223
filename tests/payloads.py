"""Activities shaped as each fediverse server really sends them, for the payload-shape tests.

One builder per software (and per activity it sends).  Each docstring names where
the shape was read: the software's own renderer source, its federation docs, or the
sample payloads other projects keep in their test suites.  The payloads are written
by hand from those readings; ids follow each software's URL scheme so that a test
reads like the real traffic.  Actors live on a ``FakeRemote`` (``serve_actor``).
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from node.federation.vocab import AS_NS, PUBLIC, SECURITY_NS
from tests.fakes.remote import FakeRemote, RemoteActor, public_pem, remote_key

_numbers = itertools.count(1)


def _n() -> int:
    return next(_numbers)


def serve_actor(
    remote: FakeRemote, path: str, username: str, *, key_index: int = 0, kind: str = "Person",
    key_id: str | None = None, followers: str | None | bool = True, stub_key: bool = False,
    context: Any = None, **extra: Any,
) -> RemoteActor:
    """Serve an actor at ``path`` on the fake with a real key, shaped by the caller.

    ``key_id``: the key's id (default ``<actor>#main-key``); ``followers``: True for
    ``<actor>/followers``, a string for another address, None for no collection (Lemmy);
    ``stub_key``: also serve GoToSocial's stub key document at the key id.
    """
    actor_id = remote.base + path
    key = remote_key(key_index)
    key_id = key_id or f"{actor_id}#main-key"
    public_key = {"id": key_id, "owner": actor_id, "publicKeyPem": public_pem(key)}
    document: dict[str, Any] = {
        "@context": context or [AS_NS, SECURITY_NS],
        "id": actor_id, "type": kind, "preferredUsername": username, "name": username.capitalize(),
        "inbox": f"{actor_id}/inbox", "outbox": f"{actor_id}/outbox",
        "endpoints": {"sharedInbox": f"{remote.base}/inbox"},
        "publicKey": public_key, **extra,
    }
    if followers is True:
        document["followers"] = f"{actor_id}/followers"
    elif isinstance(followers, str):
        document["followers"] = followers
    remote.serve(path, document)
    if stub_key:
        # GoToSocial answers a GET of the key id with a stub of the actor: the actor's id,
        # preferredUsername and publicKey only (docs/federation/federating_with_gotosocial.md).
        stub = {"@context": [SECURITY_NS, AS_NS], "id": actor_id, "preferredUsername": username,
                "publicKey": public_key, "type": kind}
        remote.serve(key_id.removeprefix(remote.base), stub)
    return RemoteActor(actor_id, key, key_id, document)


def mention(actor_id: str, handle: str) -> dict[str, str]:
    return {"type": "Mention", "href": actor_id, "name": handle}


def hashtag(base: str, name: str) -> dict[str, str]:
    return {"type": "Hashtag", "href": f"{base}/tags/{name}", "name": f"#{name}"}


def base_of(actor: RemoteActor) -> str:
    return actor.id.split("/", 3)[0] + "//" + actor.id.split("/", 3)[2]


# --- Misskey ----------------------------------------------------------------------------------

MISSKEY_CONTEXT = [
    AS_NS, SECURITY_NS,
    {
        "Key": "sec:Key", "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "quoteUrl": "as:quoteUrl",
        "toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji", "featured": "toot:featured",
        "discoverable": "toot:discoverable", "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue", "value": "schema:value",
        "misskey": "https://misskey-hub.net/ns#", "_misskey_content": "misskey:_misskey_content",
        "_misskey_quote": "misskey:_misskey_quote", "_misskey_reaction": "misskey:_misskey_reaction",
        "_misskey_votes": "misskey:_misskey_votes", "_misskey_summary": "misskey:_misskey_summary",
        "isCat": "misskey:isCat", "vcard": "http://www.w3.org/2006/vcard/ns#",
    },
]


def misskey_reply(
    actor: RemoteActor, parent: str, html: str, mfm: str, *, visibility: str = "public",
    cw: str | None = None, quote: str | None = None, tags: list[dict] | None = None,
    to_extra: list[str] | None = None,
) -> dict[str, Any]:
    """Create(Note) as Misskey renders it (ApRendererService.renderNote / renderCreate).

    ``content`` is HTML made from MFM, the MFM itself is in ``_misskey_content`` and
    ``source`` (``text/x.misskeymarkdown``); ``_misskey_quote`` and ``quoteUrl`` name
    the quoted note; ``sensitive`` is true when there is a CW (``summary``).  Visibility
    "public": to Public, cc followers; "home": to followers, cc Public; "followers":
    to followers; "specified": to the mentioned actors only.  Ids are
    ``/notes/<aid>`` and ``/notes/<aid>/activity``.
    """
    note_id = f"{base_of(actor)}/notes/9{uuid.uuid4().hex[:9]}"
    followers = actor.document["followers"]
    extra = list(to_extra or [])
    to, cc = {
        "public": ([PUBLIC], [followers, *extra]),
        "home": ([followers], [PUBLIC, *extra]),
        "followers": ([followers], extra),
        "specified": (extra, []),
    }[visibility]
    note = {
        "id": note_id, "type": "Note", "attributedTo": actor.id,
        "content": html, "_misskey_content": mfm,
        "source": {"content": mfm, "mediaType": "text/x.misskeymarkdown"},
        "_misskey_quote": quote, "quoteUrl": quote,
        "published": "2026-11-24T10:15:30.123Z", "to": to, "cc": cc, "inReplyTo": parent,
        "attachment": [], "sensitive": cw is not None, "tag": tags or [],
    }
    if cw is not None:
        note["summary"] = cw
    return {"@context": MISSKEY_CONTEXT, "id": f"{note_id}/activity", "actor": actor.id, "type": "Create",
            "published": note["published"], "object": note, "to": to, "cc": cc}


def misskey_like(actor: RemoteActor, target: str, reaction: str, emoji_tag: dict | None = None) -> dict[str, Any]:
    """A Misskey reaction: ``Like`` with the reaction in ``content`` and ``_misskey_reaction``
    (ApRendererService.renderLike), a custom emoji described in ``tag``; id ``/likes/<id>``."""
    like = {"@context": MISSKEY_CONTEXT, "type": "Like", "id": f"{base_of(actor)}/likes/9{uuid.uuid4().hex[:9]}",
            "actor": actor.id, "object": target, "content": reaction, "_misskey_reaction": reaction}
    if emoji_tag:
        like["tag"] = [emoji_tag]
    return like


# --- Pleroma / Akkoma -------------------------------------------------------------------------

def litepub_context(actor: RemoteActor) -> list[Any]:
    return [AS_NS, f"{base_of(actor)}/schemas/litepub-0.1.jsonld", {"@language": "und"}]


def pleroma_reply(
    actor: RemoteActor, parent: str, html: str, plain: str, *, to: list[str], cc: list[str],
    direct: bool = False, tags: list[dict] | None = None, context: str | None = None,
) -> dict[str, Any]:
    """Create(Note) as Pleroma and Akkoma send it (a Pleroma Create kept as a sample in
    kiranandcode/ocamlot tests/activitypub/resources/pleroma-create-note.json).

    The object repeats ``actor``; ``context`` and ``conversation`` name the thread's
    ``/contexts/<uuid>`` on the sender; the Create carries ``context`` and
    ``directMessage``; the @context is ActivityStreams, the instance's
    ``litepub-0.1.jsonld`` and ``{"@language": "und"}``.  Ids are ``/objects/<uuid>``
    and ``/activities/<uuid>``.  Followers-only: ``to`` is the followers collection and
    the mentioned; direct: ``to`` the mentioned, ``cc`` empty, ``directMessage`` true.
    """
    base = base_of(actor)
    context = context or f"{base}/contexts/{uuid.uuid4()}"
    note = {
        "actor": actor.id, "attachment": [], "attributedTo": actor.id, "cc": cc, "content": html,
        "context": context, "conversation": context, "id": f"{base}/objects/{uuid.uuid4()}",
        "inReplyTo": parent, "published": "2026-11-24T10:18:38.430120Z", "sensitive": None,
        "source": {"content": plain, "mediaType": "text/plain"}, "summary": "", "tag": tags or [],
        "to": to, "type": "Note",
    }
    return {"@context": litepub_context(actor), "actor": actor.id, "cc": cc, "context": context,
            "directMessage": direct, "id": f"{base}/activities/{uuid.uuid4()}", "object": note,
            "published": "2026-11-24T10:18:38.429999Z", "to": to, "type": "Create"}


def pleroma_emoji_react(actor: RemoteActor, target: str, emoji: str, *, target_author: str) -> dict[str, Any]:
    """``EmojiReact`` as Pleroma/Akkoma send it (sample pleroma-emoji-react.json in
    kiranandcode/ocamlot): the emoji in ``content``, ``to`` the reactor's followers and
    the post's author, ``cc`` Public, empty ``bto``/``bcc``, a ``context``."""
    base = base_of(actor)
    return {"@context": litepub_context(actor), "actor": actor.id, "bcc": [], "bto": [], "cc": [PUBLIC],
            "content": emoji, "context": f"{base}/contexts/{uuid.uuid4()}",
            "id": f"{base}/activities/{uuid.uuid4()}", "object": target,
            "to": [actor.document["followers"], target_author], "type": "EmojiReact"}


def pleroma_undo(actor: RemoteActor, undone: dict[str, Any]) -> dict[str, Any]:
    """``Undo`` embedding the activity it takes back, as Pleroma sends it."""
    base = base_of(actor)
    inner = {k: v for k, v in undone.items() if k != "@context"}
    return {"@context": litepub_context(actor), "actor": actor.id, "cc": undone.get("cc", []),
            "id": f"{base}/activities/{uuid.uuid4()}", "object": inner, "to": undone.get("to", []),
            "type": "Undo"}


# --- GoToSocial -------------------------------------------------------------------------------

GTS_CONTEXT = ["https://gotosocial.org/ns", AS_NS, SECURITY_NS]


def gotosocial_reply(
    actor: RemoteActor, parent: str, html: str, *, mentioned: tuple[str, str] | None = None,
    approved_by: str | None = None, reply_authorization: str | None = None,
) -> dict[str, Any]:
    """Create(Note) as GoToSocial serialises it (docs/federation/posts.md and
    interaction_policy.md; go-fed writes single values without a list).

    ``to`` is the Public IRI as a plain string and ``cc`` the followers collection as a
    string; one ``tag`` is an object, not a list; ``contentMap`` repeats ``content``;
    ``interactionPolicy`` says who may like, reply and announce; ``approvedBy`` (up to
    0.19) or ``replyAuthorization`` point at the parent author's approval.  Ids are
    ``/users/<name>/statuses/<ULID>`` and ``…/activity``.
    """
    status = f"01J{uuid.uuid4().hex[:23].upper()}"
    note_id = f"{actor.id}/statuses/{status}"
    everyone = {"always": PUBLIC, "approvalRequired": []}
    note: dict[str, Any] = {
        "attachment": [], "attributedTo": actor.id, "cc": actor.document["followers"],
        "content": html, "contentMap": {"en": html}, "id": note_id, "inReplyTo": parent,
        "interactionPolicy": {
            "canLike": everyone, "canReply": everyone,
            "canAnnounce": {"always": [PUBLIC], "approvalRequired": []},
        },
        "published": "2026-11-24T10:20:00Z", "sensitive": False, "summary": "",
        "to": PUBLIC, "type": "Note",
        "url": f"{base_of(actor)}/@{actor.document['preferredUsername']}/statuses/{status}",
    }
    if mentioned:
        note["tag"] = mention(*mentioned)
    if approved_by:
        note["approvedBy"] = approved_by
    if reply_authorization:
        note["replyAuthorization"] = reply_authorization
    return {"@context": GTS_CONTEXT, "actor": actor.id, "cc": note["cc"], "id": f"{note_id}/activity",
            "object": note, "published": note["published"], "to": PUBLIC, "type": "Create"}


# --- Lemmy ------------------------------------------------------------------------------------

LEMMY_CONTEXT = ["https://join-lemmy.org/context.json", AS_NS]


def lemmy_comment(
    actor: RemoteActor, parent: str, html: str, markdown: str, *, community: str,
    mentioned: tuple[str, str] | None = None, published: str = "2026-11-24T10:25:43.966208+00:00",
) -> dict[str, Any]:
    """Create(Note) of a Lemmy comment (LemmyNet/lemmy crates/apub/assets/lemmy/objects/
    comment.json and activities/create_or_update/create_comment.json).

    The Note is ``to`` the community and Public, ``cc`` the mentioned and ``audience``
    the community (FEP-1b12); ``content`` is HTML with ``mediaType`` text/html and the
    Markdown in ``source``; ``distinguished`` and ``language`` are Lemmy's.  Ids are
    ``/comment/<n>`` and ``/activities/create/<uuid>``; actors are ``/u/<name>``.
    """
    base = base_of(actor)
    cc = [mentioned[0]] if mentioned else []
    note = {
        "id": f"{base}/comment/{38000 + _n()}", "type": "Note", "attributedTo": actor.id,
        "to": [community, PUBLIC], "cc": cc, "audience": community, "inReplyTo": parent,
        "content": html, "mediaType": "text/html", "source": {"content": markdown, "mediaType": "text/markdown"},
        "tag": [mention(*mentioned)] if mentioned else [], "distinguished": False,
        "language": {"identifier": "en", "name": "English"}, "published": published,
    }
    return {"@context": LEMMY_CONTEXT, "actor": actor.id, "to": [community, PUBLIC], "object": note,
            "cc": cc, "tag": note["tag"], "type": "Create", "audience": community,
            "id": f"{base}/activities/create/{uuid.uuid4()}"}


def lemmy_post(actor: RemoteActor, community: str, title: str, html: str) -> dict[str, Any]:
    """Create(Page) of a Lemmy post (assets lemmy/objects/page.json,
    community/announce_create_page.json): ``name`` the title, ``audience`` the community."""
    base = base_of(actor)
    page = {
        "type": "Page", "id": f"{base}/post/{55000 + _n()}", "attributedTo": actor.id,
        "to": [community, PUBLIC], "cc": [], "audience": community, "name": title, "content": html,
        "mediaType": "text/html", "commentsEnabled": True, "sensitive": False, "stickied": False,
        "published": "2026-11-24T09:00:00.871846Z",
    }
    return {"@context": LEMMY_CONTEXT, "actor": actor.id, "to": [PUBLIC], "object": page, "cc": [community],
            "type": "Create", "audience": community, "id": f"{base}/activities/create/{uuid.uuid4()}"}


def lemmy_vote(actor: RemoteActor, target: str, kind: str, *, community: str) -> dict[str, Any]:
    """``Like`` (upvote) or ``Dislike`` (downvote) as Lemmy sends it (assets voting/like_note.json,
    voting/dislike_page.json): the object by id, ``audience`` the community."""
    return {"@context": LEMMY_CONTEXT, "actor": actor.id, "object": target, "audience": community,
            "type": kind, "id": f"{base_of(actor)}/activities/{kind.lower()}/{uuid.uuid4()}"}


def lemmy_announce(community: RemoteActor, activity: dict[str, Any]) -> dict[str, Any]:
    """The community's ``Announce`` wrapping a member's activity unchanged (FEP-1b12; assets
    community/announce_create_page.json): to Public, cc the community's followers."""
    inner = {k: v for k, v in activity.items() if k != "@context"}
    return {"@context": LEMMY_CONTEXT, "actor": community.id, "to": [PUBLIC], "object": inner,
            "cc": [community.document["followers"]], "type": "Announce",
            "id": f"{base_of(community)}/activities/announce/{uuid.uuid4()}"}


def lemmy_update(actor: RemoteActor, create: dict[str, Any], html: str, updated: str) -> dict[str, Any]:
    """Update of a Lemmy comment (assets lemmy/activities/create_or_update/update_note.json): the
    Create's shape with ``type`` Update, a fresh ``/activities/update/<uuid>`` id and the new Note
    (``updated`` set)."""
    note = {**create["object"], "content": html, "updated": updated}
    return {**create, "object": note, "type": "Update",
            "id": f"{base_of(actor)}/activities/update/{uuid.uuid4()}"}


def lemmy_delete(actor: RemoteActor, object_id: str, *, community: str) -> dict[str, Any]:
    """Delete of a Lemmy comment (assets lemmy/activities/deletion/delete_note.json): the object by id,
    ``cc`` and ``audience`` the community."""
    return {"@context": LEMMY_CONTEXT, "actor": actor.id, "to": [PUBLIC], "object": object_id, "cc": [community],
            "type": "Delete", "audience": community, "id": f"{base_of(actor)}/activities/delete/{uuid.uuid4()}"}


# --- Mbin -------------------------------------------------------------------------------------

MBIN_CONTEXT = [
    AS_NS, SECURITY_NS,
    {"lemmy": "https://join-lemmy.org/ns#", "sensitive": "as:sensitive", "stickied": "lemmy:stickied",
     "Hashtag": "as:Hashtag", "schema": "http://schema.org#", "PropertyValue": "schema:PropertyValue",
     "value": "schema:value"},
]


def mbin_comment(
    actor: RemoteActor, parent: str, html: str, markdown: str, *, magazine: str, parent_author: str,
    tags: list[dict] | None = None, published: str = "2026-11-24T11:30:00+01:00", lang: str = "en",
) -> dict[str, Any]:
    """Create(Note) of an Mbin thread comment (MbinOrg/mbin src/Factory/ActivityPub/
    EntryCommentNoteFactory.php and Service/ActivityPub/Wrapper/CreateWrapper.php).

    ``to`` Public and the parent's author, ``cc`` the magazine (a Group) and the
    author's followers, ``audience`` the magazine, ``contentMap`` keyed by the comment's
    language, Markdown ``source``, ``published`` in PHP's DATE_ATOM (server time zone,
    no fraction).  The Create's id is ``/f/object/<uuid>``; actors are ``/u/<name>``.
    """
    base = base_of(actor)
    note = {
        "type": "Note", "id": f"{base}/m/forum/t/{_n()}/-/comment/{_n()}", "attributedTo": actor.id,
        "inReplyTo": parent, "to": [PUBLIC, parent_author], "cc": [magazine, actor.document["followers"]],
        "audience": magazine, "sensitive": False, "content": html, "mediaType": "text/html",
        "source": {"content": markdown, "mediaType": "text/markdown"}, "tag": tags or [],
        "commentsEnabled": True, "published": published, "contentMap": {lang: html},
    }
    note["url"] = note["id"]
    return {"@context": MBIN_CONTEXT, "id": f"{base}/f/object/{uuid.uuid4()}", "type": "Create",
            "actor": actor.id, "published": published, "to": note["to"], "cc": note["cc"], "object": note}


# --- Friendica --------------------------------------------------------------------------------

FRIENDICA_CONTEXT = [
    AS_NS, SECURITY_NS,
    {"vcard": "http://www.w3.org/2006/vcard/ns#", "dfrn": "http://purl.org/macgirvin/dfrn/1.0/",
     "diaspora": "https://diasporafoundation.org/ns/", "litepub": "http://litepub.social/ns#",
     "toot": "http://joinmastodon.org/ns#", "schema": "http://schema.org#",
     "manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "sensitive": "as:sensitive",
     "Hashtag": "as:Hashtag", "directMessage": "litepub:directMessage", "discoverable": "toot:discoverable",
     "PropertyValue": "schema:PropertyValue", "value": "schema:value"},
]


def friendica_reply(
    actor: RemoteActor, parent: str, html: str, bbcode: str, *, to: list[str] | str, cc: list[str],
    with_content: bool = False, lang: str = "de",
) -> dict[str, Any]:
    """Create(Note) as Friendica sends it (a Friendica Create kept in LemmyNet/lemmy
    crates/apub/assets/friendica/activities/create_note.json).

    Actors are ``/profile/<nick>`` with followers at ``/followers/<nick>``; the object
    is ``/objects/<guid>`` with ``diaspora:guid``, ``url`` ``/display/<guid>``,
    ``context`` ``<parent>#context``, BBCode ``source``, and the HTML in ``contentMap``
    (``content`` left out unless ``with_content``); the Create (``…/Create``) names the
    sending software in ``instrument`` and carries an LD ``signature``.
    """
    base = base_of(actor)
    guid = str(uuid.uuid4())
    note: dict[str, Any] = {
        "id": f"{base}/objects/{guid}", "type": "Note", "summary": "", "inReplyTo": parent,
        "diaspora:guid": guid, "published": "2026-11-24T10:21:24Z", "url": f"{base}/display/{guid}",
        "attributedTo": actor.id, "sensitive": False, "context": f"{parent}#context",
        "contentMap": {lang: html}, "source": {"content": bbcode, "mediaType": "text/bbcode"},
        "attachment": [], "tag": [], "to": to, "cc": cc,
    }
    if with_content:
        note["content"] = html
    return {
        "@context": FRIENDICA_CONTEXT, "id": f"{note['id']}/Create", "type": "Create", "actor": actor.id,
        "published": note["published"],
        "instrument": {"type": "Service", "name": "Friendica 'Yellow Archangel' 2024.12", "url": base},
        "to": to, "cc": cc, "object": note, "signature": ld_signature(actor),
    }


# --- NodeBB -----------------------------------------------------------------------------------

def nodebb_reply(
    actor: RemoteActor, parent: str, html: str, markdown: str, *, parent_author: str,
    parent_followers: str | None, context: str, audience: str, topic_title: str,
) -> dict[str, Any]:
    """Create(Note) as NodeBB sends a reply (NodeBB/NodeBB src/activitypub/mocks.js,
    ``Mocks.notes.public`` and ``Mocks.activities.create``).

    ``to`` Public and the parent's author, ``cc`` the author's and the parent author's
    followers; ``context`` the topic's context (the remote one it joined), ``audience``
    the category inherited from the parent chain, ``name`` "Re: <title>", Markdown
    ``source``, ``replies``; the @context is ActivityStreams only.  Actors are
    ``/uid/<n>`` with key ``#key``; the post is ``/post/<pid>``; the Create's id is
    ``<post>#activity/create/<ms>``.
    """
    base = base_of(actor)
    post_id = f"{base}/post/{1000 + _n()}"
    cc = [actor.document["followers"]] + ([parent_followers] if parent_followers else [])
    note = {
        "@context": AS_NS, "id": post_id, "type": "Note", "to": [PUBLIC, parent_author], "cc": cc,
        "inReplyTo": parent, "published": "2026-11-24T10:30:00.000Z", "updated": None, "url": post_id,
        "attributedTo": actor.id, "context": context, "audience": audience, "summary": None,
        "name": f"Re: {topic_title}", "content": html,
        "source": {"content": markdown, "mediaType": "text/markdown"}, "tag": None, "attachment": [],
        "replies": f"{post_id}/replies",
    }
    return {"@context": AS_NS, "id": f"{post_id}#activity/create/{int(time.time() * 1000)}", "type": "Create",
            "actor": actor.id, "to": note["to"], "cc": cc, "object": note}


# --- WordPress (the ActivityPub plugin) -------------------------------------------------------

def wordpress_author(remote: FakeRemote, user_id: int = 1, *, key_index: int = 6) -> RemoteActor:
    """A WordPress author as the ActivityPub plugin serves it (includes/model/class-user.php):
    the id is ``<home>/?author=<n>``, inbox and followers under ``/wp-json/activitypub/1.0/``."""
    rest = f"{remote.base}/wp-json/activitypub/1.0"
    return serve_actor(remote, f"/?author={user_id}", "admin", key_index=key_index,
                       followers=f"{rest}/actors/{user_id}/followers",
                       inbox=f"{rest}/actors/{user_id}/inbox", endpoints={"sharedInbox": f"{rest}/inbox"},
                       url=f"{remote.base}/author/admin/")


def wordpress_blog(remote: FakeRemote, *, key_index: int = 8) -> RemoteActor:
    """The blog's own actor (includes/model/class-blog.php): ``<home>/?author=0``, in multi-author
    mode the ``audience`` of every post (``get_audience``)."""
    rest = f"{remote.base}/wp-json/activitypub/1.0"
    return serve_actor(remote, "/?author=0", "blog", key_index=key_index, kind="Group",
                       followers=f"{rest}/actors/0/followers", inbox=f"{rest}/actors/0/inbox",
                       endpoints={"sharedInbox": f"{rest}/inbox"}, url=f"{remote.base}/")


def wordpress_post(author: RemoteActor, post_id: int, html: str, *, title: str | None = None,
                   replies: dict[str, Any] | None = None, audience: str | None = None) -> dict[str, Any]:
    """Create of a blog post as the WordPress ActivityPub plugin sends it
    (includes/transformer/class-post.php, includes/activity/class-activity.php).

    ``get_type`` makes it a ``Note`` when the post has no title or 400 characters or
    less (or the blog publishes notes), else an ``Article`` with ``name`` and ``summary``;
    a Note has neither.  The id is ``<home>/?p=<n>``, ``url`` the permalink, ``to``
    Public and ``cc`` the author's followers; the activity id is the object id with
    ``#activity-create-<updated>``; ``replies`` is a Collection with its first page
    embedded (includes/collection/class-replies.php).
    """
    home = base_of(author)
    object_id = f"{home}/?p={post_id}"
    rest = f"{home}/wp-json/activitypub/1.0/posts/{post_id}/replies"
    document: dict[str, Any] = {
        "id": object_id, "type": "Article" if title else "Note", "attributedTo": author.id,
        "content": html, "contentMap": {"en": html}, "url": f"{home}/2026/12/03/post-{post_id}/",
        "to": [PUBLIC], "cc": [author.document["followers"]], "published": "2026-12-03T07:00:00Z",
        "updated": "2026-12-03T07:00:00Z", "mediaType": "text/html", "sensitive": False, "tag": [],
        "attachment": [], "replies": replies or {
            "id": rest, "type": "Collection",
            "first": {"id": f"{rest}?page=0", "type": "CollectionPage", "partOf": rest, "items": []},
        },
    }
    if title:
        document.update(name=title, summary=f"<p>{title}</p>")
    if audience:
        document["audience"] = audience
    return {"@context": [AS_NS, SECURITY_NS], "id": f"{object_id}#activity-create-2026-12-03T07:00:00Z",
            "type": "Create", "actor": author.id, "to": document["to"], "cc": document["cc"],
            "published": document["published"], "object": document}


# --- Mastodon (top-level statuses) ------------------------------------------------------------

def mastodon_status(actor: RemoteActor, html: str, *, replies: bool = True) -> dict[str, Any]:
    """Create(Note) of a top-level Mastodon status (app/serializers/activitypub/note_serializer.rb):
    no ``name``; ``replies`` a Collection whose ``first`` page is embedded, ``next`` on the origin."""
    status_id = f"{actor.id}/statuses/{113000000000000000 + _n()}"
    note: dict[str, Any] = {
        "id": status_id, "type": "Note", "summary": None, "inReplyTo": None, "published": "2026-12-03T07:30:00Z",
        "url": status_id.replace("/users/", "/@").replace("/statuses/", "/"), "attributedTo": actor.id,
        "to": [PUBLIC], "cc": [actor.document["followers"]], "sensitive": False, "content": html,
        "contentMap": {"en": html}, "attachment": [], "tag": [],
    }
    if replies:
        note["replies"] = {"id": f"{status_id}/replies", "type": "Collection", "first": {
            "type": "CollectionPage", "next": f"{status_id}/replies?only_other_accounts=true&page=true",
            "partOf": f"{status_id}/replies", "items": []}}
    return {"@context": [AS_NS, {"ostatus": "http://ostatus.org#", "sensitive": "as:sensitive"}],
            "id": f"{status_id}/activity", "type": "Create", "actor": actor.id, "published": note["published"],
            "to": note["to"], "cc": note["cc"], "object": note}


def mastodon_edit(actor: RemoteActor, note: dict[str, Any], html: str, updated: str) -> dict[str, Any]:
    """Update(Note) of an edited status (Mastodon's ActivityPub::UpdateSerializer): id
    ``<status>#updates/<epoch>``, the whole Note again with ``updated``."""
    edited = {**note, "content": html, "updated": updated}
    return {"@context": AS_NS, "id": f"{note['id']}#updates/1764748800", "type": "Update", "actor": actor.id,
            "published": updated, "to": note["to"], "cc": note.get("cc", []), "object": edited}


def mastodon_delete(actor: RemoteActor, note_id: str) -> dict[str, Any]:
    """Delete of a status (Mastodon's ActivityPub::DeleteSerializer): id ``<status>#delete``, the
    object a ``Tombstone`` with ``atomUri``, to Public."""
    return {"@context": AS_NS, "id": f"{note_id}#delete", "type": "Delete", "actor": actor.id, "to": [PUBLIC],
            "object": {"id": note_id, "type": "Tombstone", "atomUri": note_id}}


# --- Prismo, Plume: actors as lists -----------------------------------------------------------

def prismo_comment(actor: RemoteActor, parent: str, html: str) -> dict[str, Any]:
    """Create(Note) of a Prismo comment: ``actor`` and ``attributedTo`` are lists holding one
    embedded ``{"type": "Person", "id": …}`` (Prismo's serializers, as kept in Pleroma's
    test/fixtures/prismo-url-map.json; Pleroma's Containment.get_actor reads such lists),
    and ``url`` is a ``Link``."""
    comment_id = f"{base_of(actor)}/comments/{900 + _n()}"
    person = [{"type": "Person", "id": actor.id}]
    note = {
        "id": comment_id, "type": "Note", "content": html, "published": "2026-12-03T07:10:05Z",
        "url": {"type": "Link", "mimeType": "text/html", "href": comment_id}, "inReplyTo": parent,
        "attributedTo": person, "to": [PUBLIC], "votes": 1,
    }
    return {"@context": [AS_NS, SECURITY_NS, {"Hashtag": "as:Hashtag"}, {"votes": {"@id": "as:votes", "@type": "@id"}}],
            "id": f"{comment_id}/activity", "type": "Create", "actor": person, "to": [PUBLIC], "object": note}


def plume_author(remote: FakeRemote, username: str = "ana", *, key_index: int = 7) -> RemoteActor:
    """A Plume user (plume-models/src/users.rs): the id is ``<base>/@/<name>/``."""
    return serve_actor(remote, f"/@/{username}/", username, key_index=key_index,
                       followers=f"{remote.base}/@/{username}/followers")


def plume_article(author: RemoteActor, blog: str, slug: str, title: str, html: str) -> dict[str, Any]:
    """Create(Article) of a Plume post (plume-models/src/posts.rs ``to_activity``,
    ``create_activity``): ``attributedTo`` lists the authors and then the blog
    (``authors.push(blog)``), ``source`` is Markdown, the activity id is ``<post>/activity``
    and its actor the first author."""
    post_id = f"{blog}{slug}/"
    article = {
        "id": post_id, "type": "Article", "name": title, "attributedTo": [author.id, blog],
        "content": html, "source": {"content": title, "mediaType": "text/markdown"},
        "published": "2026-12-03T06:00:00Z", "summary": "", "tag": [], "url": post_id,
        "to": [PUBLIC], "cc": [author.document["followers"]], "license": "CC-BY-SA",
    }
    return {"@context": [AS_NS, SECURITY_NS, {"license": "https://w3id.org/fep/c118#license"}],
            "id": f"{post_id}activity", "type": "Create", "actor": author.id, "to": article["to"],
            "cc": article["cc"], "object": article}


# --- members some servers add to any activity -------------------------------------------------

def ld_signature(actor: RemoteActor) -> dict[str, str]:
    """A JSON-LD ``RsaSignature2017`` as Mastodon, Pleroma and Friendica attach (never checked here)."""
    return {"type": "RsaSignature2017", "creator": actor.key_id, "created": "2026-11-24T10:21:25Z",
            "nonce": uuid.uuid4().hex, "signatureValue": "bm90IGEgcmVhbCBzaWduYXR1cmU="}


def data_integrity_proof(actor: RemoteActor) -> dict[str, Any]:
    """A FEP-8b32 ``DataIntegrityProof`` (eddsa-jcs-2022) as Fedify, Mitra and Hubzilla attach."""
    return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
            "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
            "verificationMethod": f"{actor.id}#ed25519-key", "proofPurpose": "assertionMethod",
            "proofValue": "z3sXaxjKs4M3BRicwWA9peyNPJvJqxtGsDmpt1jjoHCjgeUf71TRFz56osPSfDErszyLp5Ks1EhYSgpDaNM977Rg2",
            "created": "2026-11-24T10:00:01Z"}
