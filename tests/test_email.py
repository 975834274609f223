"""E-mail, with a real SMTP server on 127.0.0.1 (aiosmtpd): verification of a new address and password
reset by e-mail, followed by clicking the link in the message; without SMTP, `fednode admin reset-link`."""

from __future__ import annotations

import pytest

from node.members import mail
from tests.fakes.smtp import MailBox, mail_settings, smtp_server
from tests.members_support import PASSWORD, form_token, login, make_member, member_client
from tests.support import make_settings, running_node
from tests.members_support import post_login, signed_in_name

NEW_PASSWORD = "a whole new passphrase here"


@pytest.fixture
async def mailbox():
    async with smtp_server() as box:
        yield box


@pytest.fixture
async def mail_node(tmp_path, mailbox):
    async with running_node(make_settings(tmp_path, registration_mode="open", **mail_settings(mailbox))) as running:
        yield running


async def register(http, node, **fields):
    token = await form_token(http, node.url("/register"))
    data = {"csrf": token, "password": PASSWORD, "password_again": PASSWORD, **fields}
    async with http.post(node.url("/register"), data=data, allow_redirects=False) as response:
        return response.status


async def ask_reset(http, node, login_name: str) -> tuple[int, str]:
    token = await form_token(http, node.url("/reset"))
    async with http.post(node.url("/reset"), data={"csrf": token, "login": login_name}) as response:
        return response.status, await response.text()


async def test_a_new_address_is_confirmed_by_the_link_mailed_to_it(mail_node, mailbox: MailBox):
    """Registering with an address mails it a link; opening the link marks the address confirmed."""
    async with member_client() as http:
        # Given someone who registers with an address
        assert await register(http, mail_node, username="alice", email="alice@example.org") == 303
        # When the message arrives and its link is opened
        [message] = await mailbox.wait_for(1)
        assert message["To"] == "alice@example.org" and message["From"] == "Forum <forum@mail.test>"
        async with http.get(mailbox.link_in(message)) as response:
            status, html = response.status, await response.text()
        # Then the address is confirmed, and the account page says so
        assert status == 200 and "alice@example.org is confirmed" in html
        async with http.get(mail_node.url("/account")) as response:
            assert "alice@example.org (confirmed)" in await response.text()


async def test_a_confirmation_link_works_once(mail_node, mailbox: MailBox):
    async with member_client() as http:
        await register(http, mail_node, username="alice", email="alice@example.org")
        link = mailbox.link_in((await mailbox.wait_for(1))[0])
        async with http.get(link) as response:
            assert response.status == 200
        async with http.get(link) as response:
            assert response.status == 400


async def test_a_forgotten_password_is_reset_with_the_mailed_link(mail_node, mailbox: MailBox):
    """The reset link mailed to the confirmed address lets the member choose a new password and sign in with it."""
    # Given alice, whose address is confirmed
    await make_member(mail_node, "alice", email="alice@example.org", email_verified=True)
    async with member_client() as http:
        # When she asks for a reset and follows the link in the message
        status, _ = await ask_reset(http, mail_node, "alice")
        assert status == 200
        [message] = await mailbox.wait_for(1)
        link = mailbox.link_in(message)
        token = await form_token(http, link)
        async with http.post(mail_node.url("/reset/password"), allow_redirects=False,
                             data={"csrf": token, "token": link.split("token=")[1], "password": NEW_PASSWORD,
                                   "password_again": NEW_PASSWORD}) as response:
            assert (response.status, response.headers["Location"]) == (303, "/login?changed=1")
        # Then the new password signs her in and the old one does not
        assert (await post_login(http, mail_node, "alice", PASSWORD))[0] == 401
        await login(http, mail_node.base, "alice", NEW_PASSWORD)
        assert await signed_in_name(http, mail_node) == "alice"


async def test_a_reset_link_works_once(mail_node, mailbox: MailBox):
    await make_member(mail_node, "alice", email="alice@example.org", email_verified=True)
    async with member_client() as http:
        await ask_reset(http, mail_node, "alice")
        link = mailbox.link_in((await mailbox.wait_for(1))[0])
        code = link.split("token=")[1]
        for expected in (303, 400):
            token = await form_token(http, mail_node.url("/login"))
            async with http.post(mail_node.url("/reset/password"), allow_redirects=False,
                                 data={"csrf": token, "token": code, "password": NEW_PASSWORD,
                                       "password_again": NEW_PASSWORD}) as response:
                assert response.status == expected


async def test_a_reset_ends_every_session_of_the_account(mail_node, mailbox: MailBox):
    """Someone signed in with the old password is signed out by the reset."""
    await make_member(mail_node, "alice", email="alice@example.org", email_verified=True)
    async with member_client() as thief, member_client() as http:
        await login(thief, mail_node.base, "alice")
        await ask_reset(http, mail_node, "alice")
        link = mailbox.link_in((await mailbox.wait_for(1))[0])
        token = await form_token(http, link)
        async with http.post(mail_node.url("/reset/password"), allow_redirects=False,
                             data={"csrf": token, "token": link.split("token=")[1], "password": NEW_PASSWORD,
                                   "password_again": NEW_PASSWORD}) as response:
            assert response.status == 303
        assert await signed_in_name(thief, mail_node) is None


async def test_reset_answers_the_same_for_unknown_accounts_and_sends_nothing(mail_node, mailbox: MailBox):
    """No account enumeration: an unknown name gets the same page as a real one, and no mail leaves."""
    await make_member(mail_node, "alice", email="alice@example.org", email_verified=True)
    async with member_client() as http:
        known = await ask_reset(http, mail_node, "alice")
        unknown = await ask_reset(http, mail_node, "nobody")
    await mailbox.wait_for(1)
    await mail.drain()
    assert known[0] == unknown[0] == 200
    assert known[1].replace("alice", "X") == unknown[1].replace("nobody", "X")
    assert len(mailbox.messages) == 1


async def test_an_unconfirmed_address_gets_no_reset_mail(mail_node, mailbox: MailBox):
    """A reset link only goes to an address its owner confirmed."""
    await make_member(mail_node, "alice", email="alice@example.org")
    async with member_client() as http:
        status, _ = await ask_reset(http, mail_node, "alice")
    await mail.drain()
    assert status == 200 and mailbox.messages == []


async def test_reset_mails_are_not_sent_more_than_once_in_five_minutes(mail_node, mailbox: MailBox):
    """Asking again at once sends no second mail (nobody can flood a member's inbox)."""
    await make_member(mail_node, "alice", email="alice@example.org", email_verified=True)
    async with member_client() as http:
        await ask_reset(http, mail_node, "alice")
        await ask_reset(http, mail_node, "alice")
    await mail.drain()
    assert len(mailbox.messages) == 1


async def test_without_smtp_the_reset_page_says_to_ask_an_admin(node, http):
    async with http.get(node.url("/reset")) as response:
        html = await response.text()
    assert "Ask an administrator for a reset link" in html and 'action="/reset"' not in html


def test_the_smtp_password_never_shows_in_the_settings_repr(tmp_path):
    settings = make_settings(tmp_path, smtp_host="127.0.0.1", smtp_username="forum", smtp_password="s3cret-smtp-pass")
    assert "s3cret-smtp-pass" not in repr(settings)


async def test_an_approved_applicant_is_told_by_e_mail(tmp_path, mailbox: MailBox):
    from node.members import accounts
    from node.members.roles import MemberStatus

    async with running_node(make_settings(tmp_path, registration_mode="approval", **mail_settings(mailbox))) as node:
        member = await make_member(node, "alice", email="alice@example.org", status=MemberStatus.PENDING)
        await accounts.approve_member(node.node, member.id)
        [message] = await mailbox.wait_for(1)
    assert message["To"] == "alice@example.org" and mailbox.link_in(message) == node.url("/login")
