"""ActivityStreams vocabulary: constants and small helpers for reading documents."""

from __future__ import annotations

from typing import Any

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


def is_public(document: dict[str, Any]) -> bool:
    """Whether the Public collection is among the document's to/cc (any of its spellings)."""
    audience = as_list(document.get("to")) + as_list(document.get("cc"))
    return any(get_id(item) in PUBLIC_FORMS for item in audience)
