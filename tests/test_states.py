"""The states of activities, deliveries and follows move only as node/db/states.py allows."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, update

from node.db.engine import make_engine, make_sessionmaker, upgrade
from node.db.models import Activity, Delivery, Follow
from node.db.states import (
    INITIAL, TRANSITIONS, ActivityState, DeliveryState, FollowState, IllegalTransition, check, may_become, sources,
)
from node.federation.outcomes import Outcome, Result

MACHINES = (ActivityState, DeliveryState, FollowState)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_pair_of_states_is_allowed_exactly_when_the_table_says(machine):
    """Walk the whole table: each listed move is accepted, every other one raises."""
    assert set(TRANSITIONS[machine]) == set(machine)  # every state has a row
    for current, new in itertools.product(machine, machine):
        if new in TRANSITIONS[machine][current]:
            assert check(machine, current.value, new.value) is new
        else:
            with pytest.raises(IllegalTransition):
                check(machine, current.value, new.value)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_a_new_row_starts_only_in_an_initial_state(machine):
    for state in machine:
        if state in INITIAL[machine]:
            assert check(machine, None, state.value) is state
        else:
            with pytest.raises(IllegalTransition):
                check(machine, None, state.value)


def test_an_unknown_state_is_refused():
    with pytest.raises(IllegalTransition):
        check(DeliveryState, "pending", "sent")


def test_sources_is_the_table_read_backwards():
    assert sources(ActivityState, ActivityState.APPLIED) == {ActivityState.RECEIVED}
    assert sources(DeliveryState, DeliveryState.PENDING) == {DeliveryState.PENDING, DeliveryState.FAILED}


def test_the_models_refuse_an_illegal_move_on_assignment():
    """An applied activity cannot be marked failed; a delivered row cannot be created; follows move freely."""
    activity = Activity(ap_id="https://a.example/1", ap_type="Like", actor_ap_id="https://a.example/u",
                        status=ActivityState.RECEIVED, raw={})
    activity.status = ActivityState.APPLIED
    with pytest.raises(IllegalTransition):
        activity.status = ActivityState.FAILED
    with pytest.raises(IllegalTransition):
        Delivery(activity_ap_id="x", signer="forum", inbox="https://b.example/inbox", host="b.example", body="{}",
                 status=DeliveryState.DELIVERED)
    follow = Follow(follower_id=1, followed_id=2, state=FollowState.PENDING)
    follow.state = FollowState.ACCEPTED
    assert follow.state == "accepted"  # a StrEnum: the column keeps the plain string


async def test_a_bulk_statement_leaves_rows_whose_state_may_not_move(tmp_path):
    """``may_become`` in a WHERE clause: marking both rows failed changes only the one still received."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'states.db'}")
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            session.add_all([
                Activity(ap_id="https://a.example/done", ap_type="Like", actor_ap_id="u", status="received", raw={}),
                Activity(ap_id="https://a.example/wait", ap_type="Like", actor_ap_id="u", status="received", raw={}),
            ])
        async with sessions.begin() as session:
            done = await session.scalar(select(Activity).where(Activity.ap_id == "https://a.example/done"))
            done.status = ActivityState.APPLIED
        async with sessions.begin() as session:
            await session.execute(update(Activity).where(may_become(Activity.status, ActivityState, ActivityState.FAILED))
                                  .values(status=ActivityState.FAILED))
        async with sessions() as session:
            states = dict((await session.execute(select(Activity.ap_id, Activity.status))).all())
        assert states == {"https://a.example/done": "applied", "https://a.example/wait": "failed"}
    finally:
        await engine.dispose()


def test_outcomes_record_the_same_text_as_before():
    """The row keeps ``applied`` with no error, or the state and the reason."""
    assert (Outcome.applied().state, Outcome.applied().error) == ("applied", None)
    assert (Outcome.ignored("not a post").state, Outcome.ignored("not a post").error) == ("ignored", "ignored: not a post")
    parked = Outcome.waiting("waiting for its parent (timeout)")
    assert (parked.result, parked.state, parked.error, parked.wrote) == (
        Result.WAITING, "applied", "applied: waiting for its parent (timeout)", True)
    assert not Outcome.ignored("x").wrote
