"""What must hold of an activity before the inbox acknowledges it: that it can be stored.

A 202 promises the activity is kept.  JSON parsing already refuses strings
that cannot be encoded (lone surrogates, ``jsonlimits``); this checks the
timestamps the processor will store.  ``0001-01-01T00:00:00+01:00`` and
``9999-12-31T23:59:59-01:00`` are valid RFC 3339 but fall outside what a
datetime can hold once converted to UTC, so storing them would fail after the
202.  We refuse them with 400 instead of clamping: a date outside years
1-9999 is a bug or an attack on the sender's side, and a refusal tells it so.
A ``published`` that is not a timestamp at all is still accepted (the
processor falls back to the time of arrival, as before).
"""

from __future__ import annotations

import re
from typing import Any

from node.errors import InvalidDocument
from node.federation.timestamps import parse_time

TIMESTAMP_FIELDS = ("published", "updated", "deleted")
# Looks like an RFC 3339 date-time; only such strings are held to the range check.
_TIMESTAMP = re.compile(r"\s*[+-]?\d{4,}-\d{2}-\d{2}[Tt ]")


def check_timestamps(activity: dict[str, Any]) -> None:
    """InvalidDocument when a timestamp of the activity or of its embedded object cannot be stored."""
    documents = [activity]
    if isinstance(activity.get("object"), dict):
        documents.append(activity["object"])
    for document in documents:
        for name in TIMESTAMP_FIELDS:
            value = document.get(name)
            if isinstance(value, str) and _TIMESTAMP.match(value) and not _storable(value):
                raise InvalidDocument(f"{name} {value[:40]!r} is not a valid date (years 1 to 9999, in UTC)")


def _storable(value: str) -> bool:
    return parse_time(value) is not None
