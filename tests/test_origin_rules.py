"""The origin rules (node.federation.origin), as tables: each rule called directly on activities as
Mastodon, Lemmy, Misskey, GoToSocial, Pleroma, Prismo and Plume send them.

The rules are pure functions over parsed JSON, so no node, network or database is needed: a case is
an activity, the actor it is read for and what the rule answers (a value, or the typed error whose
reason goes back to the sender).  The inbox tests (tests/test_inbox.py, tests/test_hostile.py) check
the same rules end to end; these say which rule answers what.
"""

from __future__ import annotations

import copy

import pytest

from node.errors import InvalidDocument, KeyMismatch, OriginMismatch
from node.federation.origin import (MAX_ID_LENGTH, activity_basics, check_activity_origin, check_signer_is_actor,
                                    normalize_actors, strip_foreign_embeds)
from node.federation.vocab import AS_NS, PUBLIC

# Actors on the servers whose shapes the cases use (each software's URL scheme).
MASTODON = "https://mastodon.social/users/alice"
MASTODON_OTHER = "https://mastodon.social/users/mallory"
LEMMY = "https://lemmy.ml/u/bob"
LEMMY_COMMUNITY = "https://lemmy.ml/c/fediverse"
LEMMY_WORLD = "https://lemmy.world/u/dana"
MISSKEY = "https://misskey.io/users/9h6tuvnbx4"
GTS = "https://gts.example.org/users/carol"
PLEROMA = "https://pleroma.example/users/erin"
PRISMO = "https://prismo.news/@frank"
PLUME = "https://plume.example/@/ana/"
PLUME_BLOG = "https://plume.example/~/notes/"
OURS = "https://forum.example/articles/topic"


def mastodon_create(note_id: str = MASTODON + "/statuses/111", **note: object) -> dict:
    """Mastodon's Create of a reply (ActivityPub::ActivitySerializer, StatusSerializer)."""
    return {
        "@context": [AS_NS, {"ostatus": "http://ostatus.org#"}],
        "id": note_id + "/activity",
        "type": "Create",
        "actor": MASTODON,
        "published": "2026-12-01T10:00:00Z",
        "to": [PUBLIC],
        "cc": [MASTODON + "/followers"],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": MASTODON,
            "inReplyTo": OURS,
            "content": "<p>Hello</p>",
            "to": [PUBLIC],
            "cc": [MASTODON + "/followers"],
            **note,
        },
    }


def lemmy_create(actor: str = LEMMY, comment: str = "https://lemmy.ml/comment/42") -> dict:
    """Lemmy's Create of a comment (crates/apub/src/activities/create_or_update/comment.rs)."""
    return {
        "id": f"{actor.split('/u/')[0]}/activities/create/6a7f0c1e-2b3c-4d5e-8f90-123456789abc",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "cc": [LEMMY_COMMUNITY],
        "audience": LEMMY_COMMUNITY,
        "object": {
            "id": comment,
            "type": "Note",
            "attributedTo": actor,
            "to": [PUBLIC],
            "cc": [LEMMY_COMMUNITY],
            "content": "<p>A comment</p>",
            "mediaType": "text/html",
            "inReplyTo": OURS,
            "audience": LEMMY_COMMUNITY,
            "published": "2026-12-01T10:00:00.123456+00:00",
        },
    }


def lemmy_announce(inner: dict) -> dict:
    """A Lemmy community's Announce of an activity it relays (FEP-1b12), the activity embedded."""
    return {
        "id": "https://lemmy.ml/activities/announce/create/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        "type": "Announce",
        "actor": LEMMY_COMMUNITY,
        "to": [PUBLIC],
        "cc": [LEMMY_COMMUNITY + "/followers"],
        "object": inner,
    }


def misskey_like(target: str = OURS) -> dict:
    """Misskey's Like of a post with a reaction (packages/backend/src/core/activitypub/ApRendererService.ts)."""
    return {"id": "https://misskey.io/likes/9h7abcdef0", "type": "Like", "actor": MISSKEY,
            "object": target, "content": "👍", "_misskey_reaction": "👍"}


def gts_delete(status: str = GTS + "/statuses/01HQZ8Y4C3K5W6R7T8V9X0A1B2") -> dict:
    """GoToSocial's Delete of a status: the object by id only (internal/typeutils/internaltoas.go)."""
    return {"id": status + "#delete", "type": "Delete", "actor": GTS, "object": status,
            "to": [PUBLIC], "cc": [GTS + "/followers"]}


# --- R1: the signer is the actor ------------------------------------------------------------------


@pytest.mark.parametrize("signer, actor", [
    (MASTODON, MASTODON),
    (LEMMY_COMMUNITY, LEMMY_COMMUNITY),
], ids=["mastodon-person", "lemmy-community"])
def test_signer_who_is_the_actor_passes(signer, actor):
    """A request signed with the actor's own key is the actor speaking."""
    # Given the key's owner and the activity's actor, the same id
    # When R1 is checked
    # Then nothing is raised
    assert check_signer_is_actor(signer, actor) is None


@pytest.mark.parametrize("signer, actor", [
    (MASTODON_OTHER, MASTODON),                 # another account on the same server
    ("https://evil.example/users/alice", MASTODON),  # the same name on another server (Fedify CVE-2025-54888)
    (MASTODON + "/", MASTODON),                 # not the same id, even if it looks alike
], ids=["same-server", "other-server", "trailing-slash"])
def test_signer_who_is_not_the_actor_is_a_key_mismatch(signer, actor):
    """A key of anyone else cannot sign for the actor, whatever the two ids share."""
    # Given a signer that is not the activity's actor
    # When R1 is checked
    # Then it is refused as a key mismatch
    with pytest.raises(KeyMismatch):
        check_signer_is_actor(signer, actor)


# --- the basics: id, type and actor ---------------------------------------------------------------


@pytest.mark.parametrize("activity, expected", [
    (mastodon_create(), (MASTODON + "/statuses/111/activity", "Create", MASTODON)),
    (lemmy_create(), ("https://lemmy.ml/activities/create/6a7f0c1e-2b3c-4d5e-8f90-123456789abc", "Create", LEMMY)),
    (misskey_like(), ("https://misskey.io/likes/9h7abcdef0", "Like", MISSKEY)),
    # Prismo names its actor in a list of one embedded Person.
    ({"id": PRISMO + "/likes/1", "type": "Like", "actor": [{"type": "Person", "id": PRISMO}], "object": OURS},
     (PRISMO + "/likes/1", "Like", PRISMO)),
    # Pleroma may list the Person with a collection beside it; the Person is the actor.
    ({"id": PLEROMA + "/activities/1", "type": "Like", "object": OURS,
      "actor": [{"type": "Person", "id": PLEROMA}, {"type": "OrderedCollection", "id": PLEROMA + "/followers"}]},
     (PLEROMA + "/activities/1", "Like", PLEROMA)),
], ids=["mastodon-create", "lemmy-create", "misskey-like", "prismo-actor-list", "pleroma-person-among-others"])
def test_basics_read_id_type_and_the_one_actor(activity, expected):
    """``activity_basics`` gives (id, type, actor id), reading an actor list that names one actor."""
    # Given an activity as its software sends it
    # When its basics are read
    # Then they are its id, its type and the one actor
    assert activity_basics(activity) == expected


def test_basics_key_a_transient_create_by_its_object():
    """A Create sent without an id (transient, ActivityPub §3.1) is keyed ``<object id>#create``."""
    # Given a Create without an id
    activity = mastodon_create()
    del activity["id"]
    # When its basics are read
    ident, kind, actor = activity_basics(activity)
    # Then its key is its object's id with #create
    assert (ident, kind, actor) == (MASTODON + "/statuses/111#create", "Create", MASTODON)


@pytest.mark.parametrize("activity", [
    ["not", "an", "object"],
    {"type": "Like", "actor": MISSKEY, "object": OURS},                       # no id (and not a Create)
    {"id": "", "type": "Like", "actor": MISSKEY, "object": OURS},             # an empty id
    {"id": 42, "type": "Like", "actor": MISSKEY, "object": OURS},             # an id that is not a string
    {"id": "https://misskey.io/" + "a" * MAX_ID_LENGTH, "type": "Like", "actor": MISSKEY, "object": OURS},
    {"id": "https://misskey.io/likes/1", "actor": MISSKEY, "object": OURS},   # no type
    {"id": "https://misskey.io/likes/1", "type": ["Like"], "actor": MISSKEY, "object": OURS},  # type as a list
    {"id": "https://misskey.io/likes/1", "type": "Like", "object": OURS},     # no actor
    {"id": "https://misskey.io/likes/1", "type": "Like", "actor": "https://misskey.io/" + "u" * MAX_ID_LENGTH,
     "object": OURS},
    # A transient Create whose object id already carries #create: no key can be made for it.
    {"type": "Create", "actor": MASTODON, "object": {"id": MASTODON + "/statuses/1#create", "type": "Note"}},
    # A transient Create with nothing to key it by.
    {"type": "Create", "actor": MASTODON, "object": {"type": "Note", "content": "x"}},
], ids=["not-an-object", "no-id", "empty-id", "numeric-id", "id-too-long", "no-type", "type-list", "no-actor",
        "actor-too-long", "transient-create-of-a-create-key", "transient-create-without-object-id"])
def test_basics_refuse_an_activity_without_a_usable_id_type_or_actor(activity):
    """What cannot be keyed, typed or attributed is an invalid document, refused before anything else."""
    # Given an activity missing something the inbox needs
    # When its basics are read
    # Then it is refused as invalid
    with pytest.raises(InvalidDocument):
        activity_basics(activity)


def test_basics_refuse_an_actor_list_naming_several_people():
    """Two different Persons in ``actor`` (none stands out): who did this cannot be told."""
    # Given a Like whose actor list names two people
    activity = {"id": PLEROMA + "/activities/2", "type": "Like", "object": OURS,
                "actor": [{"type": "Person", "id": PLEROMA}, {"type": "Person", "id": PLEROMA + "2"}]}
    # When its basics are read
    # Then it is refused
    with pytest.raises(InvalidDocument, match="several different actors"):
        activity_basics(activity)


# --- R3/R11: the activity, and what it creates, updates or deletes, are on the actor's server ----


@pytest.mark.parametrize("activity, actor", [
    (mastodon_create(), MASTODON),
    (lemmy_create(), LEMMY),
    (misskey_like(), MISSKEY),                       # a Like's object is someone else's post: allowed
    (gts_delete(), GTS),                             # Delete by id, on the actor's server
    # A Lemmy community announces a comment written on another instance: Announce owns nothing.
    (lemmy_announce(lemmy_create(LEMMY_WORLD, "https://lemmy.world/comment/7")), LEMMY_COMMUNITY),
    # Hosts compare after normalisation: case and the default port do not matter.
    ({**mastodon_create(), "id": "https://MASTODON.social:443/users/alice/statuses/111/activity"}, MASTODON),
    # Plume attributes an article to its author, then its blog; the author is the actor.
    ({"id": PLUME + "activity/1", "type": "Create", "actor": PLUME,
      "object": {"id": "https://plume.example/~/notes/hello/", "type": "Article", "attributedTo": [PLUME, PLUME_BLOG]}},
     PLUME),
    # A moderator of the same server deletes someone else's post: Delete may name another author.
    ({"id": MASTODON_OTHER + "#delete/1", "type": "Delete", "actor": MASTODON_OTHER,
      "object": {"id": MASTODON + "/statuses/111", "type": "Note", "attributedTo": MASTODON}}, MASTODON_OTHER),
], ids=["mastodon-create", "lemmy-create", "misskey-like-of-ours", "gotosocial-delete-by-id",
        "lemmy-announce-of-foreign-create", "host-case-and-default-port", "plume-author-then-blog",
        "delete-of-a-neighbours-post"])
def test_activities_on_the_actors_own_server_pass(activity, actor):
    """Ids on the actor's origin pass R3/R11, and only Create/Update/Delete are held to own their object."""
    # Given an activity whose ids are on its actor's server (or whose object it need not own)
    # When the origin rule is checked
    # Then nothing is raised
    assert check_activity_origin(activity, actor) is None


def test_a_transient_create_is_checked_by_the_key_it_was_given():
    """A Create without an id is checked by the key ``activity_basics`` made from its object."""
    # Given a transient Create and its key
    activity = mastodon_create()
    del activity["id"]
    key, _, _ = activity_basics(activity)
    # When the origin rule is checked with that key
    # Then it passes: the key is on the actor's server
    assert check_activity_origin(activity, MASTODON, key) is None


@pytest.mark.parametrize("activity, actor, reason", [
    # The activity's id is on another server.
    ({**misskey_like(), "id": "https://evil.example/likes/1"}, MISSKEY, "activity id"),
    # The same host on another port is another origin.
    ({**mastodon_create(), "id": "https://mastodon.social:8443/users/alice/statuses/111/activity"}, MASTODON,
     "activity id"),
    # http is not https.
    ({**mastodon_create(), "id": "http://mastodon.social/users/alice/statuses/111/activity"}, MASTODON, "activity id"),
    # A Create of a Note that lives on another server (a forged post).
    ({**mastodon_create(note_id="https://lemmy.ml/comment/42"), "id": MASTODON + "/statuses/111/activity"}, MASTODON,
     "object on another server"),
    # An Update of someone else's account elsewhere, by reference.
    ({"id": GTS + "/updates/1", "type": "Update", "actor": GTS, "object": "https://mastodon.social/users/alice"}, GTS,
     "object on another server"),
    # A Delete of a post on another server.
    ({**gts_delete(status="https://mastodon.social/users/alice/statuses/111"), "id": GTS + "/statuses/01HQ#delete"}, GTS,
     "object on another server"),
    # A Create of a Note on the same server, attributed to another account there.
    (mastodon_create(attributedTo=MASTODON_OTHER), MASTODON, "attributed to someone else"),
    # An Update the same way (Mastodon's edit, rewritten to speak for a neighbour).
    ({**mastodon_create(attributedTo=MASTODON_OTHER), "type": "Update"}, MASTODON, "attributed to someone else"),
], ids=["foreign-activity-id", "other-port", "http-not-https", "create-of-foreign-note", "update-by-foreign-id",
        "delete-of-foreign-post", "create-attributed-to-neighbour", "update-attributed-to-neighbour"])
def test_activities_speaking_for_another_origin_or_author_are_origin_mismatches(activity, actor, reason):
    """An activity may only speak for its own server, and Create/Update only for its own actor."""
    # Given an activity that reaches beyond its actor
    # When the origin rule is checked
    # Then it is refused with a reason saying which rule
    with pytest.raises(OriginMismatch, match=reason):
        check_activity_origin(activity, actor)


@pytest.mark.parametrize("kind", ["Create", "Update", "Delete"])
def test_owned_activities_without_an_object_id_are_invalid(kind):
    """Create, Update and Delete must name what they own: without an object id nothing can be checked."""
    # Given one of them whose object has no id
    activity = {"id": MASTODON + "/x/1", "type": kind, "actor": MASTODON, "object": {"type": "Note", "content": "x"}}
    # When the origin rule is checked
    # Then it is an invalid document
    with pytest.raises(InvalidDocument, match="no object id"):
        check_activity_origin(activity, MASTODON)


# --- actors as plain ids -------------------------------------------------------------------------


@pytest.mark.parametrize("activity, actor, expected_actor, expected_author", [
    # Prismo: actor a list of one Person, object attributed the same way.
    ({"id": PRISMO + "/comments/1/activity", "type": "Create", "actor": [{"type": "Person", "id": PRISMO}],
      "object": {"id": PRISMO + "/comments/1", "type": "Note", "attributedTo": [{"type": "Person", "id": PRISMO}]}},
     PRISMO, PRISMO, PRISMO),
    # Plume: attributedTo lists the author then the blog.
    ({"id": PLUME + "activity/1", "type": "Create", "actor": PLUME,
      "object": {"id": "https://plume.example/~/notes/hello/", "type": "Article", "attributedTo": [PLUME, PLUME_BLOG]}},
     PLUME, PLUME, PLUME),
    # An embedded author object (Pleroma's Update of a post).
    ({"id": PLEROMA + "/activities/3", "type": "Update", "actor": PLEROMA,
      "object": {"id": PLEROMA + "/objects/3", "type": "Note", "attributedTo": {"type": "Person", "id": PLEROMA}}},
     PLEROMA, PLEROMA, PLEROMA),
], ids=["prismo-lists", "plume-author-and-blog", "pleroma-embedded-author"])
def test_normalize_makes_actor_and_author_plain_ids(activity, actor, expected_actor, expected_author):
    """What is stored and what every handler reads names the actor and the author by one id."""
    # Given an activity naming its actor or author in a list or an object
    original = copy.deepcopy(activity)
    # When it is normalised for its actor
    result = normalize_actors(activity, actor)
    # Then actor and author are plain ids, and the received activity is left as it was
    assert (result["actor"], result["object"]["attributedTo"]) == (expected_actor, expected_author)
    assert activity == original


@pytest.mark.parametrize("activity, actor", [
    (mastodon_create(), MASTODON),
    (lemmy_create(), LEMMY),
    # An Announce is not an owned type: its embedded object is not rewritten.
    (lemmy_announce({"id": PLUME + "a", "type": "Create", "actor": PLUME,
                     "object": {"id": "https://plume.example/~/n/", "attributedTo": [PLUME, PLUME_BLOG]}}),
     LEMMY_COMMUNITY),
], ids=["mastodon", "lemmy", "announce-left-alone"])
def test_normalize_leaves_plain_activities_as_they_are(activity, actor):
    """Activities that already name one actor (or whose object is not theirs) come back equal."""
    # Given an activity with plain ids (or an Announce)
    # When it is normalised
    result = normalize_actors(activity, actor)
    # Then nothing changed
    assert result == activity


# --- R6: foreign embeds are reduced to ids -------------------------------------------------------


@pytest.mark.parametrize("activity, actor", [
    (mastodon_create(), MASTODON),
    (lemmy_create(), LEMMY),
    (misskey_like(), MISSKEY),                        # object by id already
    (gts_delete(), GTS),
    # The community relays a comment written on its own server: same origin, kept embedded.
    (lemmy_announce(lemmy_create()), LEMMY_COMMUNITY),
], ids=["mastodon-create", "lemmy-create", "misskey-like", "gotosocial-delete", "lemmy-announce-same-server"])
def test_embeds_from_the_actors_own_server_are_kept(activity, actor):
    """An embedded object on the actor's origin can be trusted as sent."""
    # Given an activity whose embedded object (if any) is on its actor's server
    # When foreign embeds are stripped
    result = strip_foreign_embeds(activity, actor)
    # Then it is unchanged
    assert result == activity


def test_a_groups_announce_of_a_foreign_create_keeps_only_ids():
    """FEP-1b12: a Lemmy community's Announce of a Create from another instance keeps the Create's id,
    type and object id; the comment itself is fetched from its own server."""
    # Given lemmy.ml's community announcing dana@lemmy.world's comment
    inner = lemmy_create(LEMMY_WORLD, "https://lemmy.world/comment/7")
    activity = lemmy_announce(inner)
    # When foreign embeds are stripped
    result = strip_foreign_embeds(activity, LEMMY_COMMUNITY)
    # Then only the ids remain, everything else about the announce is kept
    assert result["object"] == {"id": inner["id"], "type": "Create", "object": "https://lemmy.world/comment/7"}
    assert {k: v for k, v in result.items() if k != "object"} == {k: v for k, v in activity.items() if k != "object"}


@pytest.mark.parametrize("activity, actor, expected", [
    # Misskey's renote (Announce) embedding the renoted Note from another server.
    ({"id": "https://misskey.io/notes/9h8/activity", "type": "Announce", "actor": MISSKEY,
      "object": {"id": MASTODON + "/statuses/111", "type": "Note", "attributedTo": MASTODON, "content": "<p>forged?</p>"}},
     MISSKEY, MASTODON + "/statuses/111"),
    # A Like embedding our own article (it is not the actor's to describe).
    ({**misskey_like(), "object": {"id": OURS, "type": "Article", "name": "Not our title"}}, MISSKEY, OURS),
    # A Lemmy community's Announce of a Like (not Create/Update/Delete) from another instance.
    (lemmy_announce({"id": "https://lemmy.world/activities/like/1", "type": "Like", "actor": LEMMY_WORLD,
                     "object": OURS}), LEMMY_COMMUNITY, "https://lemmy.world/activities/like/1"),
], ids=["misskey-renote", "like-embedding-our-article", "lemmy-announce-of-foreign-like"])
def test_other_foreign_embeds_become_their_id(activity, actor, expected):
    """Whatever an actor embeds from another server is reduced to its id, to be fetched from its origin."""
    # Given an activity embedding an object from another origin
    # When foreign embeds are stripped
    result = strip_foreign_embeds(activity, actor)
    # Then the object is its id alone
    assert result["object"] == expected


@pytest.mark.parametrize("kind", ["Create", "Update", "Delete"])
def test_an_owned_embed_without_id_is_invalid(kind):
    """Create, Update or Delete of an embedded object that has no id: nothing to check it against."""
    # Given such an activity
    activity = {"id": GTS + "/x/1", "type": kind, "actor": GTS, "object": {"type": "Note", "content": "x"}}
    # When foreign embeds are stripped
    # Then it is invalid
    with pytest.raises(InvalidDocument, match="no id"):
        strip_foreign_embeds(activity, GTS)


def test_an_announce_of_an_embed_without_id_is_left_alone():
    """An Announce owns nothing, so an id-less embed is not refused here (the handler finds nothing to take)."""
    # Given an Announce embedding an object without id
    activity = {"id": MISSKEY + "/a/1", "type": "Announce", "actor": MISSKEY, "object": {"type": "Note"}}
    # When foreign embeds are stripped
    # Then it is unchanged
    assert strip_foreign_embeds(activity, MISSKEY) == activity


def test_ld_signatures_are_kept_as_received():
    """R9: Mastodon's LD signature stays on the activity (stored as received), never trusted nor stripped."""
    # Given Mastodon's Create carrying an RsaSignature2017
    signature = {"type": "RsaSignature2017", "creator": MASTODON + "#main-key",
                 "created": "2026-12-01T10:00:00Z", "signatureValue": "c2lnbmF0dXJl"}
    activity = {**mastodon_create(), "signature": signature}
    # When foreign embeds are stripped
    result = strip_foreign_embeds(activity, MASTODON)
    # Then the signature is still there, unchanged
    assert result["signature"] == signature


def test_basics_refuse_an_actor_list_whose_types_are_lists():
    """JSON-LD lets ``type`` be a list: in an actor list it is no Person, so who did this cannot be told
    (an invalid document, not a TypeError from testing a list against a set of types)."""
    # Given a Like whose actor list names two actors typed with lists
    activity = {"id": PLEROMA + "/activities/4", "type": "Like", "object": OURS,
                "actor": [{"type": ["Person"], "id": PLEROMA}, {"type": ["Person"], "id": PLEROMA + "2"}]}
    # When its basics are read
    # Then it is refused as invalid
    with pytest.raises(InvalidDocument, match="several different actors"):
        activity_basics(activity)
