"""Sign-in brute force: after a few failures an account (and an address) is blocked, for longer each time."""

from __future__ import annotations

from datetime import timedelta

from node.db import members as db
from node.db.types import utcnow
from node.members import throttle
from tests.members_support import PASSWORD, make_member, member_client
from tests.members_support import post_login, signed_in_name


def test_the_backoff_doubles_up_to_fifteen_minutes():
    waits = [throttle.backoff(n, 5) for n in range(1, 20)]
    assert waits[:4] == [None] * 4
    assert [w.total_seconds() for w in waits[4:8]] == [2, 4, 8, 16]
    assert waits[-1] == timedelta(minutes=15)


async def test_guessing_an_accounts_password_is_blocked_after_five_failures(node):
    """The sixth try is refused with 429 and Retry-After, even with the right password, until the block ends."""
    await make_member(node, "alice")
    async with member_client() as http:
        statuses = [(await post_login(http, node, "alice", f"guess number {n}"))[0] for n in range(throttle.FREE_ACCOUNT)]
        status, _, html, cookies = await post_login(http, node, "alice", PASSWORD)
    assert statuses == [401] * throttle.FREE_ACCOUNT
    assert status == 429 and "Too many failed sign-ins" in html and "fednode_session" not in cookies


async def test_the_block_grows_with_each_failure(node):
    """Each failure past the free ones doubles the wait."""
    await make_member(node, "alice")
    async with member_client() as http:
        for n in range(throttle.FREE_ACCOUNT):
            await post_login(http, node, "alice", f"guess number {n}")
    async with node.node.sessions() as session:
        member = await db.get_member_by_username(session, "alice")
        [row] = await db.throttles(session, [throttle.account_key(member.id, "alice")])
    first = row.blocked_until - row.last_failure_at
    # When the block has passed and the next guess fails too
    async with node.node.sessions.begin() as session:
        [row] = await db.throttles(session, [throttle.account_key(member.id, "alice")])
        row.blocked_until = utcnow() - timedelta(seconds=1)
    async with member_client() as http:
        await post_login(http, node, "alice", "one more guess")
    async with node.node.sessions() as session:
        [row] = await db.throttles(session, [throttle.account_key(member.id, "alice")])
    assert first == timedelta(seconds=2)
    assert row.blocked_until - row.last_failure_at == timedelta(seconds=4)


async def test_an_unknown_account_is_throttled_like_a_real_one(node):
    """No enumeration through the throttle: guessing at a name nobody has is blocked the same way."""
    async with member_client() as http:
        for n in range(throttle.FREE_ACCOUNT):
            await post_login(http, node, "nobody_here", f"guess number {n}")
        status, _, _, _ = await post_login(http, node, "nobody_here", "another")
    assert status == 429


async def test_a_blocked_account_does_not_block_another(node):
    await make_member(node, "alice")
    await make_member(node, "bob")
    async with member_client() as http:
        for n in range(throttle.FREE_ACCOUNT):
            await post_login(http, node, "alice", f"guess number {n}")
        status, _, _, _ = await post_login(http, node, "bob", PASSWORD)
    assert status == 303


async def test_one_address_guessing_many_accounts_is_blocked(node):
    """An address failing across many names is blocked after FREE_ADDRESS failures (X-Forwarded-For from a trusted proxy)."""
    await make_member(node, "alice")
    spray = {"X-Forwarded-For": "203.0.113.7"}
    async with member_client() as http:
        for n in range(throttle.FREE_ADDRESS):
            await post_login_from(http, node, f"name{n}", "guess", spray)
        status = await post_login_from(http, node, "alice", PASSWORD, spray)
        other = await post_login_from(http, node, "alice", PASSWORD, {"X-Forwarded-For": "198.51.100.9"})
    assert (status, other) == (429, 303)


async def post_login_from(http, node, name, password, headers) -> int:
    from tests.members_support import form_token

    token = await form_token(http, node.url("/login"))
    async with http.post(node.url("/login"), data={"csrf": token, "login": name, "password": password},
                         headers=headers, allow_redirects=False) as response:
        return response.status


async def test_a_successful_sign_in_forgets_the_accounts_failures(node):
    await make_member(node, "alice")
    async with member_client() as http:
        for n in range(throttle.FREE_ACCOUNT - 1):
            await post_login(http, node, "alice", f"guess number {n}")
        assert (await post_login(http, node, "alice", PASSWORD))[0] == 303
        assert await signed_in_name(http, node) == "alice"
    async with node.node.sessions() as session:
        member = await db.get_member_by_username(session, "alice")
        assert await db.throttles(session, [throttle.account_key(member.id, "alice")]) == []


async def test_failures_counted_by_processes_at_once_add_up_on_postgresql(tmp_path):
    """On PostgreSQL (several processes answer sign-ins) concurrent failures are each counted: one upsert each."""
    import asyncio

    from node.app import open_node
    from tests.support import make_settings, postgres_database

    async with postgres_database() as url:
        node = await open_node(make_settings(tmp_path, database_url=url))
        try:
            await asyncio.gather(*(throttle.failed(node, "login:someone", "ip:192.0.2.1") for _ in range(12)))
            async with node.sessions() as session:
                rows = {row.key: row for row in await db.throttles(session, ["login:someone", "ip:192.0.2.1"])}
        finally:
            await node.close()
    assert rows["login:someone"].failures == 12 and rows["ip:192.0.2.1"].failures == 12
    assert rows["login:someone"].blocked_until is not None and rows["ip:192.0.2.1"].blocked_until is None
