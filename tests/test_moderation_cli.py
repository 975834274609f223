"""`fednode mod` on a real database: the queue a running node filled, worked from the command line."""

from __future__ import annotations

import aiohttp

from node.content import Draft
from node.db import queries
from node.services.publish import publish_article
from tests.cli_support import fednode
from tests.fakes.remote import fake_remote, signed_post
from tests.support import POLICY_DEFAULTS, make_settings, running_node
from tests.threads_support import create, note


async def test_queue_approve_remove_and_log_from_the_command_line(tmp_path):
    """A held Mastodon reply is listed with the rule that held it, approved, removed with a reason, and logged."""
    settings = make_settings(tmp_path, **POLICY_DEFAULTS)
    async with running_node(settings) as node, fake_remote() as remote, aiohttp.ClientSession() as http:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, settings, Draft("Topic", "topic", "Let us talk."), author)
        alice = remote.add_actor("alice")
        reply = create(alice, note(alice, node.url("/articles/topic"), "<p>Hello from Alice</p>"))
        status, _ = await signed_post(http, node.url("/inbox"), reply, alice)
        assert status == 202
        await node.node.processor.drain()
    env = {"FEDNODE_DATABASE_URL": settings.database_url, "FEDNODE_KEYS_DIR": settings.keys_dir,
           "FEDNODE_BASE_URL": settings.base_url}

    queue = fednode(tmp_path, "mod", "queue", env=env)
    assert queue.returncode == 0, queue.stderr
    assert "@alice@" in queue.stdout and "first-comments" in queue.stdout and "Hello from Alice" in queue.stdout
    number = queue.stdout.split()[0]

    approved = fednode(tmp_path, "mod", "approve", number, "--as", "mia", env=env)
    assert approved.returncode == 0 and f"approved comment {number}" in approved.stdout, approved.stderr
    assert "no held comments" in fednode(tmp_path, "mod", "queue", env=env).stdout
    again = fednode(tmp_path, "mod", "approve", number, env=env)
    assert again.returncode == 2 and "published, not held" in again.stderr

    removed = fednode(tmp_path, "mod", "remove", reply["object"]["id"], "--reason", "off topic", "--as", "mia", env=env)
    assert removed.returncode == 0, removed.stderr
    log = fednode(tmp_path, "mod", "log", env=env).stdout.splitlines()
    assert [line.split()[3] for line in log[:3]] == ["remove", "approve", "hold"]
    assert "off topic" in log[0] and "mia" in log[0] and "[first-comments]" in log[2]
    rules = fednode(tmp_path, "mod", "rules", env=env).stdout
    assert "first-comments" in rules and "1 hit(s)" in rules
