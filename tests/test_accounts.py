"""Accounts: usernames by Mastodon's rules, argon2id passwords with a minimum strength, each member a
local Person actor with its key pair, and `fednode admin create` for the first admin."""

from __future__ import annotations

import hashlib
import os

import pytest

from node import keys
from node.db import members as db
from node.db import queries
from node.members import accounts, passwords, usernames
from node.members.roles import MemberStatus, Role
from tests.cli_support import run_fednode
from tests.members_support import PASSWORD, make_member
from tests.support import make_settings


async def test_a_new_member_is_a_local_person_actor_with_a_key_pair(node):
    """create_member makes the account, its local Person actor (ids under /actors/) and a 0600 key file."""
    # Given a node
    # When an account is created
    member = await make_member(node, "alice", display_name="Alice A.")
    # Then its actor is a local Person with our URLs and a public key matching the key on disk
    async with node.node.sessions() as session:
        actor = await queries.get_local_actor(session, "alice")
    assert (actor.id, actor.ap_type, actor.is_local, actor.name) == (member.actor_id, "Person", True, "Alice A.")
    assert actor.ap_id == node.url("/actors/alice") and actor.inbox == node.url("/actors/alice/inbox")
    key_file = keys.key_path(node.settings.keys_dir, "alice")
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    assert keys.public_pem(keys.load_private_key(node.settings.keys_dir, "alice")) == actor.public_key_pem


async def test_the_password_is_stored_as_an_argon2id_hash(node):
    """Only an argon2id hash of the password is stored, and it verifies the password."""
    # Given a new member
    member = await make_member(node, "alice")
    # When its row is read
    async with node.node.sessions() as session:
        stored = (await db.get_member(session, member.id)).password_hash
    # Then it is an argon2id PHC string, not the password
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert await passwords.verify_password(stored, PASSWORD)
    assert not await passwords.verify_password(stored, PASSWORD + "!")


@pytest.mark.parametrize("name, problem", [
    ("", "Choose a username"),
    ("a-b", "only have letters"),
    ("with space", "only have letters"),
    ("jürgen", "only have letters"),
    ("a" * 31, "at most 30"),
    ("admin", "reserved"),
    ("login", "reserved"),
    ("inbox", "reserved"),
    ("actor", "reserved"),
    ("api", "reserved"),
])
def test_usernames_follow_mastodons_rules(name, problem):
    """Only a-z, 0-9 and _, at most 30 characters, and not a reserved name."""
    with pytest.raises(usernames.UsernameError, match=problem):
        usernames.check(name)


def test_a_username_is_kept_lowercase():
    """Usernames are case-insensitive: "Alice" is stored as "alice" (a leading @ is dropped)."""
    assert usernames.check("@Alice_1") == "alice_1"


async def test_a_username_is_unique_whatever_its_case(node):
    """After "alice", "ALICE" is taken."""
    # Given alice
    await make_member(node, "alice")
    # When someone registers "ALICE"
    with pytest.raises(accounts.AccountError, match="taken") as caught:
        await make_member(node, "ALICE")
    # Then it is refused, pointing at the username field
    assert caught.value.field == "username"


async def test_names_of_the_sites_own_actors_are_taken(node):
    """The site Group's name and an existing author's name cannot become accounts."""
    for name in (node.settings.site_username, node.settings.default_author):
        with pytest.raises(accounts.AccountError):
            await make_member(node, name)


@pytest.mark.parametrize("password, problem", [
    ("short", "at least 10"),
    ("password123", "most common"),
    ("qwertyuiop", "most common"),
    ("aaaaaaaaaaaa", "too few"),
    ("alice-is-great", "username"),
])
def test_weak_passwords_are_refused(password, problem):
    """Too short, common, repetitive, or containing the username."""
    with pytest.raises(passwords.WeakPassword, match=problem):
        passwords.check_strength(password, username="alice")


def test_a_long_passphrase_is_accepted():
    """A long passphrase of common words passes the strength check (it raises WeakPassword otherwise)."""
    try:
        passwords.check_strength(PASSWORD, username="alice")
    except passwords.WeakPassword as refused:
        pytest.fail(f"a long passphrase was refused: {refused}")


async def test_an_e_mail_address_belongs_to_one_account(node):
    """A second account with the same address (in any case) is refused."""
    await make_member(node, "alice", email="alice@example.org")
    with pytest.raises(accounts.AccountError, match="e-mail") as caught:
        await make_member(node, "bob", email="Alice@Example.org")
    assert caught.value.field == "email"


async def test_an_application_is_approved_or_rejected_once(node):
    """approve_member makes a pending member active; a second decision is refused."""
    # Given two pending applicants
    ann = await make_member(node, "ann", status=MemberStatus.PENDING)
    bea = await make_member(node, "bea", status=MemberStatus.PENDING)
    # When one is approved and the other rejected
    approved = await accounts.approve_member(node.node, ann.id)
    rejected = await accounts.reject_member(node.node, bea.id)
    # Then their states say so, and deciding again is an error
    assert (approved.status, rejected.status) == ("active", "rejected") and approved.approved_at is not None
    with pytest.raises(accounts.AccountError, match="not pending"):
        await accounts.approve_member(node.node, bea.id)


def test_admin_create_makes_the_first_admin_with_a_password_from_stdin(tmp_path):
    """`fednode admin create NAME --password-stdin` creates an admin account that can sign in."""
    # Given an initialised node folder
    settings = make_settings(tmp_path)
    flags = ["--database-url", settings.database_url, "--keys-dir", settings.keys_dir,
             "--base-url", settings.base_url]
    # When the admin is created with the password piped in
    result = run_fednode(tmp_path, "admin", "create", "Root_Admin", *flags, "--password-stdin", stdin=PASSWORD + "\n")
    # Then it says so, and the account is an active admin whose password works
    assert result.returncode == 0, result.stderr
    assert "created admin @root_admin@" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr

    async def check():
        from node.app import opened_node

        async with opened_node(settings) as node:
            member = await accounts.authenticate(node, "root_admin", PASSWORD)
            return member.role, member.status
    import asyncio

    assert asyncio.run(check()) == (Role.ADMIN, MemberStatus.ACTIVE)


def test_admin_create_refuses_a_weak_password_and_says_why(tmp_path):
    """A weak password is refused with exit status 2 and the reason; nothing is created."""
    settings = make_settings(tmp_path)
    result = run_fednode(tmp_path, "admin", "create", "chief", "--database-url", settings.database_url,
                         "--keys-dir", settings.keys_dir, "--password-stdin", stdin="short\n")
    assert result.returncode == 2
    assert "at least 10 characters" in result.stderr


def test_admin_create_without_a_terminal_asks_for_password_stdin(tmp_path):
    """Without a terminal and without --password-stdin, the command explains how to give the password."""
    settings = make_settings(tmp_path)
    result = run_fednode(tmp_path, "admin", "create", "chief", "--database-url", settings.database_url,
                         "--keys-dir", settings.keys_dir)
    assert result.returncode == 2 and "--password-stdin" in result.stderr


def test_session_tokens_are_stored_as_sha256():
    """What the database keeps of a session token is its SHA-256, never the token."""
    from node.members.sessions import new_token, token_hash

    token = new_token()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest() != token
    assert len(token) >= 43  # 256 bits
