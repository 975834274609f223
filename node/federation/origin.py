"""Origin rules: an activity may only speak for its own server (rules R1–R11 below; ActivityPub §B.1 "Security
Considerations", after Mastodon's and Akkoma's origin containment checks).

Pure functions over parsed JSON; each raises a typed error whose reason goes
back to the sender.  They run after the signature verified and before anything
is stored.
"""

from __future__ import annotations

from typing import Any

from node.errors import InvalidDocument, KeyMismatch, OriginMismatch
from node.federation.netguard import same_origin
from node.federation.vocab import attributed_author, get_id, sole_actor

# Activities whose object must belong to the actor (FEP-fe34: the creator is the owner).
OWNED_OBJECT_TYPES = frozenset({"Create", "Update", "Delete"})
MAX_ID_LENGTH = 2048


def activity_basics(activity: Any) -> tuple[str, str, str]:
    """(id, type, actor id) of an activity, or InvalidDocument saying what is missing.

    ``actor`` may be a list naming one actor (``vocab.sole_actor``).  A ``Create``
    without an id is transient (ActivityPub §3.1): its object carries the identity,
    so it is keyed ``<object id>#create``, as Mastodon names its own transient
    activities; ``check_activity_origin`` then holds that object to the actor's server.
    """
    if not isinstance(activity, dict):
        raise InvalidDocument("an activity must be a JSON object")
    ident, kind = activity.get("id"), activity.get("type")
    actor = sole_actor(activity.get("actor"))
    if ident is None and kind == "Create":
        ident = transient_id(activity)
    if not isinstance(ident, str) or not ident or len(ident) > MAX_ID_LENGTH:
        raise InvalidDocument("the activity has no usable id")
    if not isinstance(kind, str) or not kind:
        raise InvalidDocument("the activity has no type")
    if not actor or len(actor) > MAX_ID_LENGTH:
        raise InvalidDocument("the activity has no actor")
    return ident, kind, actor


def transient_id(activity: dict[str, Any]) -> str | None:
    """The key of a ``Create`` sent without an id: its object's id and ``#create`` (None without one)."""
    object_id = get_id(activity.get("object"))
    if not isinstance(object_id, str) or not object_id or "#create" in object_id:
        return None
    return f"{object_id}#create"


def normalize_actors(activity: dict[str, Any], actor: str) -> dict[str, Any]:
    """The activity with ``actor`` (and its embedded object's ``attributedTo``) as plain ids.

    Run after ``check_activity_origin`` accepted the lists (``vocab.sole_actor``), so
    that what is stored, and every handler, reads one id.
    """
    changed = dict(activity)
    if changed.get("actor") != actor:
        changed["actor"] = actor
    embedded = changed.get("object")
    if (activity.get("type") in OWNED_OBJECT_TYPES and isinstance(embedded, dict)
            and isinstance(embedded.get("attributedTo"), (list, dict))):
        author = attributed_author(embedded, actor)
        if author is not None:
            changed["object"] = {**embedded, "attributedTo": author}
    return changed


def check_signer_is_actor(signer: str, actor: str) -> None:
    """R1: the key's owner must be the activity's actor (Fedify CVE-2025-54888)."""
    if signer != actor:
        raise KeyMismatch("the signer and the actor do not match")


def check_activity_origin(activity: dict[str, Any], actor: str, activity_id: str | None = None) -> None:
    """R3/R11: the activity id, and for Create/Update/Delete the object id, are on the actor's origin.

    ``activity_id``: the id ``activity_basics`` gave it (a transient Create's key).
    """
    if not same_origin(activity_id or activity.get("id") or "", actor):
        raise OriginMismatch("the activity id is not on the actor's server")
    if activity.get("type") in OWNED_OBJECT_TYPES:
        object_id = get_id(activity.get("object"))
        if object_id is None:
            raise InvalidDocument(f"{activity['type']} has no object id")
        if not same_origin(object_id, actor):
            raise OriginMismatch(f"{activity['type']} of an object on another server")
        embedded = activity.get("object")
        if isinstance(embedded, dict) and "attributedTo" in embedded:
            author = attributed_author(embedded, actor)
            if author is not None and author != actor and activity["type"] != "Delete":
                raise OriginMismatch(f"{activity['type']} of an object attributed to someone else")


def strip_foreign_embeds(activity: dict[str, Any], actor: str) -> dict[str, Any]:
    """R6: an embedded object from another origin is reduced to its id, to be fetched from its origin.

    LD signatures (``signature``) and proofs are kept as received but never trusted (R9).
    """
    embedded = activity.get("object")
    if isinstance(embedded, dict):
        object_id = get_id(embedded)
        if object_id is None:
            if activity.get("type") in OWNED_OBJECT_TYPES:
                raise InvalidDocument("the embedded object has no id")
        elif not same_origin(object_id, actor):
            inner = embedded.get("object")
            if embedded.get("type") in OWNED_OBJECT_TYPES and get_id(inner):
                # A Group's Announce of someone's Create, Update or Delete (FEP-1b12): keep
                # only the ids, the post itself is fetched from its own server.
                return {**activity, "object": {"id": object_id, "type": embedded["type"], "object": get_id(inner)}}
            return {**activity, "object": object_id}
    return activity
