"""What applying one received activity came to: a typed outcome instead of a string.

Handlers, the reply path and the crawler return an ``Outcome``; the processor
records it on the activity row (``state`` into ``status``, ``error`` into
``error``), so the text on the row reads as before: ``"ignored: not a post"``,
``"applied: waiting for its parent (...)"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from node.db.states import ActivityState


class Result(Enum):
    """The three ways an activity can end."""

    APPLIED = "applied"  # its effects were written
    WAITING = "waiting"  # kept to finish later (a reply parked until its parent can be fetched)
    IGNORED = "ignored"  # nothing to do; ``reason`` says why


@dataclass(frozen=True)
class Outcome:
    """The result of applying one activity, with the reason when there is one."""

    result: Result
    reason: str | None = None

    @classmethod
    def applied(cls, reason: str | None = None) -> "Outcome":
        return cls(Result.APPLIED, reason)

    @classmethod
    def waiting(cls, reason: str) -> "Outcome":
        return cls(Result.WAITING, reason)

    @classmethod
    def ignored(cls, reason: str) -> "Outcome":
        return cls(Result.IGNORED, reason)

    @property
    def is_applied(self) -> bool:
        """Stored completely (not parked, not ignored)."""
        return self.result is Result.APPLIED

    @property
    def wrote(self) -> bool:
        """Whether it changed the database (deliveries may have been queued)."""
        return self.result is not Result.IGNORED

    @property
    def state(self) -> ActivityState:
        """The activity row's status for this outcome (a parked reply was applied: it is kept)."""
        return ActivityState.IGNORED if self.result is Result.IGNORED else ActivityState.APPLIED

    @property
    def error(self) -> str | None:
        """The text kept in the row's ``error`` column (None for a plain success)."""
        return None if self.result is Result.APPLIED and self.reason is None else str(self)

    def __str__(self) -> str:
        word = "ignored" if self.result is Result.IGNORED else "applied"
        if self.result is Result.WAITING:
            return f"applied: {self.reason}"
        return word if self.reason is None else f"{word}: {self.reason}"
