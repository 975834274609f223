"""A member of one Fednode replies on a thread another Fednode originated, and it nests there.

Two real nodes on 127.0.0.1, each with its own database and keys: B's site follows A's site, so B
holds A's article and (through A's Group announce) bob's comment on it.  Alice, a member of B,
answers bob: her Note goes to A (bob's and the article's author's server), signed with her key,
and A stores it under bob's comment and shows it there.
"""

from __future__ import annotations

from node.db import queries
from node.members.posting import post_comment
from tests.followed_sites_support import site_follows_site
from tests.members_fed_support import make_person, publish
from tests.support import make_settings, running_node, wait_for
from tests.threads_support import comment as object_of


async def test_a_members_reply_on_another_fednodes_thread_nests_there(tmp_path, http):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running_node(make_settings(tmp_path / "a")) as a, running_node(make_settings(tmp_path / "b")) as b:
        # Given B's site follows A's site, and A's article with bob's comment (bob is A's member) reached B
        await site_follows_site(b, a, 20)
        article = await publish(a, "across", "Across")
        a.node.wake_delivery()
        await wait_for(lambda: object_of(b, article), 20, what="A's article on B")
        bob = await make_person(a, "bob")
        bobs = await post_comment(a.node, bob, article, "The view of bob, from A")
        await wait_for(lambda: object_of(b, bobs.ap_id), 20, what="bob's comment on B")

        # When alice, a member of B, replies to bob's comment from B
        alice = await make_person(b, "alice")
        reply = await post_comment(b.node, alice, bobs.ap_id, "Alice answers, from B")
        # addressed (FEP-11dd) to bob, the thread's owner (A's editor) and the forum A's article names as audience
        assert reply.raw["cc"] == [b.url("/actors/alice/followers"), a.url("/actors/bob"), a.url("/actors/editor"),
                                   a.url("/actors/forum")]

        # Then A holds her reply under bob's comment, by B's alice, and shows it on the article's page
        on_a = await wait_for(lambda: object_of(a, reply.ap_id), 20, what="alice's reply on A")
        assert (on_a.parent_id, on_a.root_id, on_a.is_local) == (bobs.id, bobs.root_id, False)
        async with a.node.sessions() as session:
            assert (await queries.get_object_by_id(session, on_a.id)).actor.ap_id == b.url("/actors/alice")
        async with http.get(article, headers={"Accept": "text/html"}) as response:
            page = await response.text()
        assert page.index("The view of bob, from A") < page.index("Alice answers, from B")
