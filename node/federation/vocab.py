"""ActivityStreams vocabulary: constants and small helpers for reading documents."""

from __future__ import annotations

from typing import Any

from node.errors import InvalidDocument

AS_NS = "https://www.w3.org/ns/activitystreams"
SECURITY_NS = "https://w3id.org/security/v1"
PUBLIC = AS_NS + "#Public"
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})

ACTIVITY_JSON = "application/activity+json"
LD_JSON_AS = f'application/ld+json; profile="{AS_NS}"'
AP_ACCEPT = f"{ACTIVITY_JSON}, {LD_JSON_AS}"
JRD_JSON = "application/jrd+json"

# The @context of every document we publish: ActivityStreams, the security
# vocabulary (keys; Smithereen and NodeBB reject actors without it) and the few
# extension terms Mastodon and the FEPs use that AS2 does not define.
CONTEXT: list[Any] = [
    AS_NS,
    SECURITY_NS,
    {
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "fep": "https://w3id.org/fep/",
        "context": {"@id": "as:context", "@type": "@id"},
    },
]

ACTOR_TYPES = frozenset({"Person", "Group", "Service", "Application", "Organization"})
# The actors that act for themselves; in a list of several, the one of these is "the" actor
# (Pleroma's Containment.get_actor reads an ``actor`` list the same way).
PERSON_TYPES = frozenset({"Person", "Service", "Application"})


def as_list(value: Any) -> list[Any]:
    """A property that may be absent, a single value or a list, always as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def get_id(value: Any) -> str | None:
    """The id of a property that may be an URL string or an embedded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    return None


def has_type(value: Any, types: frozenset[str]) -> bool:
    """Whether ``value`` (a document's ``type``) is one of ``types``.

    Only a plain string counts: JSON-LD lets ``type`` be a list, and a list (or an object) is
    unhashable, so ``value in types`` would raise TypeError on whatever a remote server sends.
    """
    return isinstance(value, str) and value in types


def is_public(document: dict[str, Any]) -> bool:
    """Whether the Public collection is among the document's to/cc (any of its spellings)."""
    audience = as_list(document.get("to")) + as_list(document.get("cc"))
    return any(get_id(item) in PUBLIC_FORMS for item in audience)


def sole_actor(value: Any) -> str | None:
    """The one actor a property names (``actor``, ``attributedTo``), even when it is a list.

    A plain id or an embedded actor is that actor.  A list naming one actor (Prismo's
    ``actor: [{"type": "Person", "id": …}]``, Plume's ``attributedTo: ["…/@/name/"]``) is
    that actor; so is a list of one Person (or Service, Application) among other things
    (Pleroma).  None when nothing usable is named; InvalidDocument when the list names
    several different actors and none stands out: who did this cannot be told.
    """
    if not isinstance(value, list):
        return get_id(value)
    ids = list(dict.fromkeys(ident for ident in (get_id(item) for item in value) if ident))
    if len(ids) <= 1:
        return ids[0] if ids else None
    persons = list(dict.fromkeys(
        get_id(item) for item in value
        if isinstance(item, dict) and has_type(item.get("type"), PERSON_TYPES) and get_id(item)
    ))
    if len(persons) == 1:
        return persons[0]
    raise InvalidDocument("the list names several different actors")


def attributed_author(document: dict[str, Any], actor: str | None = None) -> str | None:
    """Whom ``document`` is attributed to (``sole_actor`` of ``attributedTo``).

    Plume attributes an article to its authors and then its blog (a Group):
    ``["…/@/alice/", "…/~/blog/"]``.  Such a list of plain ids is read as its first
    entry, the author, when that is the activity's ``actor`` (the signer), or when the
    document was fetched from its own origin (``actor`` None, the caller checks that the
    author shares the document's origin); any other list of several actors is refused.
    """
    value = document.get("attributedTo")
    try:
        return sole_actor(value)
    except InvalidDocument:
        first = value[0] if isinstance(value, list) and value else None
        if isinstance(first, str) and (actor is None or first == actor):
            return first
        raise
