"""Reading the RFC 3339 timestamps of remote documents (``published``, ``updated``, ``deleted``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from a remote document (Fedify writes nanoseconds), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, _, tail = text.partition(".")
        # Only the digits right after the dot are the fraction; an offset may follow
        # ("…49.794920+02:00"), and its digits must not be swallowed with it.
        count = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:count][:6].ljust(6, '0')}{tail[count:]}"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment.astimezone(timezone.utc)  # 0001-01-01T00:00+01:00 has no UTC time: treat as absent
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
