"""JSON-LD lets a document's ``type`` be an array: such an actor is refused with a 4xx, never a 500.

A signing actor whose document says ``"type": ["Person"]`` is not one of the actor types the node
reads as a plain string (``vocab.has_type``), so its key cannot be proven and the request is a
401 with a reason (the document is read as a key document with no owner); before, testing the list against the set of actor types raised TypeError
while the key was resolved, before the 202.  The same rule in the pure functions is in
tests/test_converters.py and tests/test_origin_rules.py.
"""

from __future__ import annotations

from tests import payloads
from tests.fakes.remote import fake_remote, signed_post


async def test_a_signer_whose_actor_type_is_an_array_is_refused_with_a_reason(node, http):
    """A Misskey-shaped Like from an actor typed ``["Person"]``: 401 with a reason, not a 500."""
    async with fake_remote() as remote:
        # Given an actor served with its type as a JSON-LD array
        actor = payloads.serve_actor(remote, "/users/9h6tuvnbx4", "listy", kind=["Person"])
        like = payloads.misskey_like(actor, node.url("/actors/forum"), "👍")
        # When it signs a Like to the node's inbox
        status, body = await signed_post(http, node.url("/inbox"), like, actor)
    # Then the key is not proven: a 401 saying why (and the autouse check finds no 5xx)
    assert (status, body["status"], body["reason"]) == (401, "key mismatch", "key document has no owner")
