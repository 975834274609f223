"""The states of the rows that move: received activities, deliveries and follows.

Each kind of row has an enum of its states and a table of the moves allowed
between them; this module is the one place that says which are.  The models
check every assignment through ``check`` (``@validates`` in ``node/db/models.py``),
so an illegal move raises ``IllegalTransition`` before anything is written;
statements that change many rows at once put ``may_become`` in their WHERE
clause, so a row in a state that may not move that way is left alone (a
delivered row is never made pending again, an applied activity never failed).

The enums are ``StrEnum``: the columns keep plain strings, and a state compares
equal to its string.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping, TypeVar

from sqlalchemy import ColumnElement, or_


class ActivityState(StrEnum):
    """A stored activity: one we received waits, then is applied, ignored or fails; ours are sent."""

    RECEIVED = "received"  # stored before the 202, waiting to be applied
    APPLIED = "applied"    # its effects are in the database
    IGNORED = "ignored"    # nothing to do (the reason is in ``error``)
    FAILED = "failed"      # applying it raised (the error is kept)
    SENT = "sent"          # one of ours, written with its deliveries


class DeliveryState(StrEnum):
    """One POST of an activity to one inbox."""

    PENDING = "pending"      # due at ``next_attempt_at`` (retried until it gives up)
    DELIVERED = "delivered"  # the inbox answered 2xx
    FAILED = "failed"        # gave up (a permanent refusal, or too many attempts)


class FollowState(StrEnum):
    """A follow between two actors, in either direction."""

    PENDING = "pending"    # asked, not answered yet (or waiting for the operator's approval)
    ACCEPTED = "accepted"
    REJECTED = "rejected"


State = TypeVar("State", ActivityState, DeliveryState, FollowState)

# The allowed moves: state -> the states it may become.  Staying put is listed where a
# repeated step is legitimate (a row re-applied after a crash, a retried delivery).
TRANSITIONS: Mapping[type, Mapping[StrEnum, frozenset[StrEnum]]] = {
    ActivityState: {
        ActivityState.RECEIVED: frozenset({ActivityState.APPLIED, ActivityState.IGNORED, ActivityState.FAILED}),
        ActivityState.FAILED: frozenset({ActivityState.RECEIVED}),  # the operator asks for another try
        ActivityState.APPLIED: frozenset(),
        ActivityState.IGNORED: frozenset(),
        ActivityState.SENT: frozenset(),
    },
    DeliveryState: {
        DeliveryState.PENDING: frozenset({DeliveryState.PENDING, DeliveryState.DELIVERED, DeliveryState.FAILED}),
        DeliveryState.FAILED: frozenset({DeliveryState.PENDING}),  # `fednode deliveries retry`
        DeliveryState.DELIVERED: frozenset(),
    },
    FollowState: {
        FollowState.PENDING: frozenset({FollowState.PENDING, FollowState.ACCEPTED, FollowState.REJECTED}),
        # Accepted again (a repeated Accept), refused later (Reject removes a follower), or asked again.
        FollowState.ACCEPTED: frozenset({FollowState.ACCEPTED, FollowState.REJECTED, FollowState.PENDING}),
        FollowState.REJECTED: frozenset({FollowState.REJECTED, FollowState.PENDING, FollowState.ACCEPTED}),
    },
}

# The states a new row may start in.
INITIAL: Mapping[type, frozenset[StrEnum]] = {
    ActivityState: frozenset({ActivityState.RECEIVED, ActivityState.SENT}),
    DeliveryState: frozenset({DeliveryState.PENDING}),
    FollowState: frozenset({FollowState.PENDING, FollowState.ACCEPTED}),
}


class IllegalTransition(ValueError):
    """A row was asked to move between two states its table does not connect."""


def check(machine: type[State], current: str | None, new: str) -> State:
    """``new`` as a ``machine`` state, if a row in ``current`` (None: a new row) may move to it; else raise."""
    try:
        target = machine(new)
    except ValueError:
        raise IllegalTransition(f"{new!r} is not a {machine.__name__}") from None
    if current is None:
        if target not in INITIAL[machine]:
            raise IllegalTransition(f"a new row cannot start as {machine.__name__}.{target.name}")
        return target
    source = machine(current)
    if target not in TRANSITIONS[machine][source]:
        raise IllegalTransition(f"{machine.__name__}: {source.value} -> {target.value} is not allowed")
    return target


def sources(machine: type[State], new: State) -> frozenset[State]:
    """The states from which a row may become ``new``."""
    return frozenset(state for state, targets in TRANSITIONS[machine].items() if new in targets)


def may_become(column: ColumnElement, machine: type[State], new: State) -> ColumnElement[bool]:
    """A WHERE clause for bulk statements: the row's ``column`` is a state that may become ``new``."""
    # Plain comparisons, not IN (an expanding parameter), so an executemany can carry the clause too.
    return or_(*(column == state.value for state in sorted(sources(machine, new))))
