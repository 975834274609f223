"""The account pages: sign in, sign out (here or everywhere), register in each mode, e-mail
verification, password reset, the member's account page and admins' invite links (docs/members.md).

Every form carries a CSRF token (``node.web.csrf``); the sign-in and registration forms accept
only a browser-bound one.  Signing in always starts a new session with a new token (a cookie
the browser had before, planted or not, is ended, never adopted: no session fixation), and
``next`` may only name a path on this site (no open redirect).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from node.app import NODE
from node.members import accounts, links, mail, sessions, signin
from node.db import members as db
from node.db.types import utcnow
from node.members.roles import MemberStatus, Role
from node.web import csrf
from node.web.client import client_address
from node.web.guards import require_member, require_role
from node.web.render import render
from node.web.request_keys import MEMBER, SESSION
from node.web.session import clear_session_cookie, session_token, set_session_cookie
from node import site

log = logging.getLogger("fednode.members")

MAX_NEXT = 2048
MAX_FIELD = 2048  # characters of any single-line field read from these forms
WRONG = "Wrong username or password."  # the same for unknown accounts and wrong passwords


def _common(request: web.Request) -> dict:
    node = request.app[NODE]
    settings, current = node.settings, site.current(node)  # what admins saved at /admin/site wins
    return {"site_name": current.name, "site_handle": f"@{settings.site_username}@{settings.host}",
            "registration_mode": current.registration_mode, "rules": current.rule_list}


def safe_next(value: object) -> str:
    """Where to go after signing in: ``value`` if it is a path on this site, else ``/``.

    Refused: absolute URLs (``https://evil``), scheme-relative ones (``//evil``), backslashes
    (browsers read ``/\\evil`` as ``//evil``), control characters and whitespace.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_NEXT:
        return "/"
    if value.startswith("//") or "\\" in value or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _field(form, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def redirect(location: str) -> web.Response:
    """A 303 to ``location`` (a local path), as a response that can carry cookies."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


async def sign_in(request: web.Request, member_id: int, location: str) -> web.Response:
    """Start a new session for ``member_id`` and send the browser to ``location`` with its cookie.

    The session the browser had (if any) ends here: its token is never reused, so a token an
    attacker planted before sign-in opens nothing after it.
    """
    node = request.app[NODE]
    old = session_token(request)
    if old:
        await sessions.end_session(node, old)
    token = await sessions.open_session(node, member_id, user_agent=request.headers.get("User-Agent"))
    response = redirect(location)
    set_session_cookie(request, response, token)
    csrf.drop_form_cookie(request, response)
    return response


# --- sign in ------------------------------------------------------------------------------------


def _login_page(request: web.Request, *, next_path: str, login: str = "", error: str | None = None,
                status: int = 200) -> web.Response:
    csrf.use_form_cookie(request)
    notice = "Your password was changed. Sign in with the new one." if request.query.get("changed") else None
    return render("login.html", status=status, next_path=next_path, login=login, error=error, notice=notice,
                  headers={"Cache-Control": "no-store"}, **_common(request))


async def login_form(request: web.Request) -> web.Response:
    """``GET /login``: the sign-in form (a signed-in member goes straight on to ``next``)."""
    next_path = safe_next(request.query.get("next"))
    if request.get(MEMBER) is not None:
        return redirect(next_path)
    return _login_page(request, next_path=next_path)


async def login_submit(request: web.Request) -> web.Response:
    """``POST /login``: sign in (``members.signin``: throttle, password, account state), start a session."""
    form = await csrf.checked_form(request, signin=True)
    node = request.app[NODE]
    next_path = safe_next(form.get("next"))
    login = _field(form, "login", 320).strip()
    password = _field(form, "password", 4096)
    if not login or not password:
        return _login_page(request, next_path=next_path, login=login, error="Enter your username and password.",
                           status=400)
    result = await signin.sign_in(node, login, password, client_address(request))
    if result.refusal is signin.Refusal.THROTTLED:
        response = _login_page(request, next_path=next_path, login=login, status=429,
                               error=f"Too many failed sign-ins. Try again in {_duration(result.retry_after)}.")
        response.headers["Retry-After"] = str(result.retry_after)
        return response
    if result.refusal is signin.Refusal.WRONG:
        return _login_page(request, next_path=next_path, login=login, error=WRONG, status=401)
    if result.refusal is signin.Refusal.NOT_ACTIVE:
        # Only said to someone who knows the password.
        message = {MemberStatus.PENDING: "Your application is waiting for an administrator's approval.",
                   MemberStatus.SUSPENDED: "This account is suspended.",
                   MemberStatus.REJECTED: "This application was not accepted."}[result.status]
        return _login_page(request, next_path=next_path, login=login, error=message, status=403)
    member = result.member
    log.info("member @%s signed in", member.username)
    return await sign_in(request, member.id, next_path)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def logout(request: web.Request) -> web.Response:
    """``POST /logout``: end this browser's session."""
    await csrf.checked_form(request)
    token = session_token(request)
    if token:
        await sessions.end_session(request.app[NODE], token)
    response = redirect("/")
    clear_session_cookie(request, response)
    return response


# --- register -----------------------------------------------------------------------------------


def _register_page(request: web.Request, *, values: dict | None = None, error: str | None = None,
                   field: str | None = None, status: int = 200, invite: str = "") -> web.Response:
    csrf.use_form_cookie(request)
    values = {"username": "", "email": "", "display_name": "", "application": "", **(values or {})}
    settings = request.app[NODE].settings
    return render("register.html", status=status, values=values, error=error, error_field=field, closed=False,
                  invite=invite, mail=mail.mail_enabled(settings), next_path=safe_next(request.query.get("next")),
                  headers={"Cache-Control": "no-store"}, **_common(request))


def _closed_page(request: web.Request, reason: str | None = None) -> web.Response:
    return render("register.html", status=403, values={}, error=None, error_field=None, next_path="/",
                  closed=True, reason=reason, invite="", mail=False, **_common(request))


async def _invite_of(request: web.Request, code: str) -> tuple[int | None, web.Response | None]:
    """(the invite's id, None), or (None, the page refusing) in invite mode; (None, None) in other modes."""
    mode = site.current(request.app[NODE]).registration_mode
    if mode in ("open", "approval"):
        return None, None
    if mode == "closed":
        return None, _closed_page(request)
    if not code:
        return None, _closed_page(request, "This forum is invitation only: open the invite link you were sent.")
    invite = await links.find_invite(request.app[NODE], code)
    if invite is None:
        return None, _closed_page(request, "This invite link is not valid: it was used already or has expired. "
                                           "Ask whoever sent it for a new one.")
    return invite.id, None


async def register_form(request: web.Request) -> web.Response:
    """``GET /register``: the registration form for the mode (open, approval, ``?invite=``), or why not."""
    if request.get(MEMBER) is not None:
        return redirect("/")
    code = request.query.get("invite", "")[:links.MAX_CODE + 1]
    _, refused = await _invite_of(request, code)
    return refused or _register_page(request, invite=code)


async def register_submit(request: web.Request) -> web.Response:
    """``POST /register``: make the account; sign it in (open, invite) or file the application (approval)."""
    form = await csrf.checked_form(request, signin=True)
    node = request.app[NODE]
    code = _field(form, "invite", links.MAX_CODE + 1)
    invite_id, refused = await _invite_of(request, code)
    if refused is not None:
        return refused
    approval = site.current(node).registration_mode == "approval"
    values = {"username": _field(form, "username", 100).strip(), "email": _field(form, "email", 400).strip(),
              "display_name": _field(form, "display_name", 200).strip(),
              "application": _field(form, "application", accounts.MAX_APPLICATION + 100).strip()}
    password = _field(form, "password", 4096)

    def again(error: str, field: str | None) -> web.Response:
        return _register_page(request, values=values, error=error, field=field, status=400, invite=code)

    if password != _field(form, "password_again", 4096):
        return again("The two passwords differ.", "password")
    if approval and not values["application"]:
        return again("Tell the admins why you want to join: they read it to approve your account.", "application")
    if len(values["application"]) > accounts.MAX_APPLICATION:
        return again(f"Keep your answer under {accounts.MAX_APPLICATION} characters.", "application")
    try:
        member = await accounts.create_member(
            node, values["username"], password, values["email"] or None,
            status=MemberStatus.PENDING if approval else MemberStatus.ACTIVE,
            display_name=values["display_name"] or None, application=values["application"] if approval else None,
            invite_id=invite_id)
    except accounts.AccountError as exc:
        return again(exc.message, exc.field)
    await send_verification(request, member)
    if approval:
        log.info("@%s applied to join", member.username)
        return _message(request, "Application received",
                        "Thanks! An administrator will read your application. Once it is approved you can sign in"
                        + (" (we will tell you by e-mail)." if member.email and mail.mail_enabled(node.settings) else "."))
    log.info("member @%s registered", member.username)
    return await sign_in(request, member.id, safe_next(form.get("next")))


def _message(request: web.Request, title: str, text: str, *, status: int = 200, link: tuple[str, str] | None = None) -> web.Response:
    return render("account_message.html", status=status, title=title, text=text, link=link,
                  headers={"Cache-Control": "no-store"}, **_common(request))


# --- e-mail: verification and password reset --------------------------------------------------


async def send_verification(request: web.Request, member) -> None:
    """E-mail a verification link to a new (or changed) address, when the node sends mail."""
    settings = request.app[NODE].settings
    if not member.email or member.email_verified_at is not None or not mail.mail_enabled(settings):
        return
    url = await links.make_token(request.app[NODE], member, links.VERIFY, timedelta(days=links.VERIFY_DAYS),
                                 email=member.email)
    mail.send_later(settings, member.email, f"Confirm your e-mail address for {site.current(request.app[NODE]).name}",
                    f"Hello {member.username},\n\nto confirm that this address is yours, open this link "
                    f"(valid for {links.VERIFY_DAYS} days):\n\n{url}\n\n"
                    "If you did not make an account, ignore this message.\n")


async def verify(request: web.Request) -> web.Response:
    """``GET /verify?token=``: the address the link was sent to is verified."""
    member = await links.verify_email(request.app[NODE], request.query.get("token", ""))
    if member is None:
        return _message(request, "This link does not work", "It was used already, has expired, or was copied "
                        "incompletely. Sign in and ask for a new one from your account page.", status=400)
    return _message(request, "Address confirmed", f"Thanks, {member.email} is confirmed.", link=("/", "Go to the forum"))


def _reset_request_page(request: web.Request, *, sent: bool = False, login: str = "", status: int = 200) -> web.Response:
    csrf.use_form_cookie(request)
    return render("reset_request.html", status=status, sent=sent, login=login,
                  mail=mail.mail_enabled(request.app[NODE].settings), headers={"Cache-Control": "no-store"},
                  **_common(request))


async def reset_request_form(request: web.Request) -> web.Response:
    """``GET /reset``: ask for a reset link by e-mail (or, without mail, how to get one)."""
    return _reset_request_page(request)


async def reset_request_submit(request: web.Request) -> web.Response:
    """``POST /reset``: e-mail a reset link to the account's verified address.

    The answer is the same whether or not an account matched (no enumeration), and the mail is
    sent in the background so the answer takes no longer when it did.
    """
    form = await csrf.checked_form(request, signin=True)
    node = request.app[NODE]
    login = _field(form, "login", 320).strip()
    if not mail.mail_enabled(node.settings):
        return _reset_request_page(request, status=400)
    if not login:
        return _reset_request_page(request, login=login, status=400)
    member = await accounts.find_login(node, login)
    if (member is not None and member.status == MemberStatus.ACTIVE and member.email
            and member.email_verified_at is not None and not await links.recent_reset_sent(node, member.id)):
        url = await links.make_token(node, member, links.RESET, timedelta(hours=links.RESET_HOURS))
        settings = node.settings
        mail.send_later(settings, member.email, f"Reset your password on {site.current(node).name}",
                        f"Hello {member.username},\n\nsomeone (we hope you) asked to reset your password. "
                        f"To choose a new one, open this link within {links.RESET_HOURS} hour:\n\n{url}\n\n"
                        "If it was not you, ignore this message: your password stays as it is.\n")
    return _reset_request_page(request, sent=True, login=login)


def _new_password_page(request: web.Request, token: str, *, error: str | None = None, status: int = 200) -> web.Response:
    csrf.use_form_cookie(request)
    return render("reset_password.html", status=status, token=token, error=error,
                  headers={"Cache-Control": "no-store"}, **_common(request))


async def new_password_form(request: web.Request) -> web.Response:
    """``GET /reset/password?token=``: choose a new password with a reset link."""
    token = request.query.get("token", "")
    if await links.find_token(request.app[NODE], links.RESET, token) is None:
        return _message(request, "This link does not work", "It was used already, has expired, or was copied "
                        "incompletely.", status=400, link=("/reset", "Ask for a new link"))
    return _new_password_page(request, token)


async def new_password_submit(request: web.Request) -> web.Response:
    """``POST /reset/password``: set the new password; every session of the account ends."""
    form = await csrf.checked_form(request, signin=True)
    node = request.app[NODE]
    code = _field(form, "token", links.MAX_CODE + 1)
    token = await links.find_token(node, links.RESET, code)
    if token is None:
        return _message(request, "This link does not work", "It was used already or has expired.", status=400,
                        link=("/reset", "Ask for a new link"))
    password = _field(form, "password", 4096)
    if password != _field(form, "password_again", 4096):
        return _new_password_page(request, code, error="The two passwords differ.", status=400)
    try:
        member = await accounts.set_password(node, token.member_id, password, reset_token_id=token.id)
    except accounts.AccountError as exc:
        return _new_password_page(request, code, error=exc.message, status=400)
    log.info("member @%s reset their password", member.username)
    response = redirect("/login?changed=1")
    clear_session_cookie(request, response)
    return response


# --- the member's own account: sessions, password, sign out everywhere -------------------------


async def account_page(request: web.Request, *, error: str | None = None, notice: str | None = None,
                       status: int = 200) -> web.Response:
    """``GET /account``: the member's sign-ins and password, with "sign out everywhere"."""
    current = require_member(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        member = await db.get_member(session, current.member_id)
        open_sessions = await db.list_member_sessions(session, current.member_id, utcnow())
    this = request[SESSION].id
    open_sessions = [(row, describe_agent(row.user_agent)) for row in open_sessions]
    return render("account.html", status=status, member=member, open_sessions=open_sessions, this_session=this,
                  error=error, notice=notice or _NOTICES.get(request.query.get("done", "")),
                  mail=mail.mail_enabled(node.settings), headers={"Cache-Control": "no-store"}, **_common(request))


def describe_agent(user_agent: str | None) -> str:
    """A browser's User-Agent as people say it: "Firefox on Android", or "an unknown browser"."""
    text = user_agent or ""
    browser = next((name for token, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"),
                                             ("curl/", "curl"), ("python", "a script"))
                    if token.lower() in text.lower()), None)
    system = next((name for token, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                            ("Linux", "Linux")) if token in text), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "an unknown browser"


_NOTICES = {"password": "Your password was changed; your other sign-ins have ended.",
            "others": "Your other sign-ins have ended."}


async def logout_everywhere(request: web.Request) -> web.Response:
    """``POST /account/logout-everywhere``: end every session of the member, this one too (``others``: all but this)."""
    current = require_member(request)
    form = await csrf.checked_form(request)
    node = request.app[NODE]
    if form.get("keep") == "this":
        ended = await sessions.end_all_sessions(node, current.member_id, keep=request[SESSION].id)
        log.info("member @%s ended %d other sessions", current.username, ended)
        return redirect("/account?done=others")
    ended = await sessions.end_all_sessions(node, current.member_id)
    log.info("member @%s signed out everywhere (%d sessions)", current.username, ended)
    response = redirect("/login")
    clear_session_cookie(request, response)
    return response


async def change_password(request: web.Request) -> web.Response:
    """``POST /account/password``: a new password (the current one is asked); other sessions end."""
    current = require_member(request)
    form = await csrf.checked_form(request)
    node = request.app[NODE]
    async with node.sessions() as session:
        member = await db.get_member(session, current.member_id)
    if await accounts.check_password(node, member, _field(form, "current", 4096)) is None:
        return await account_page(request, error="Your current password is not right.", status=400)
    new = _field(form, "password", 4096)
    if new != _field(form, "password_again", 4096):
        return await account_page(request, error="The two new passwords differ.", status=400)
    try:
        await accounts.set_password(node, current.member_id, new)
    except accounts.AccountError as exc:
        return await account_page(request, error=exc.message, status=400)
    # set_password ended every session, this one too: this browser gets a new one.
    return await sign_in(request, current.member_id, "/account?done=password")


# --- invites (admins) ---------------------------------------------------------------------------


async def invites_page(request: web.Request) -> web.Response:
    """``GET /account/invites``: admins make invite links (invite-only registration)."""
    require_role(request, Role.ADMIN)
    return render("invites.html", link=None, days=request.app[NODE].settings.invite_days,
                  headers={"Cache-Control": "no-store"}, **_common(request))


async def make_invite(request: web.Request) -> web.Response:
    """``POST /account/invites``: a new single-use invite link, shown once."""
    current = require_role(request, Role.ADMIN)
    await csrf.checked_form(request)
    node = request.app[NODE]
    link = await links.make_invite(node, created_by=current.member_id)
    log.info("admin @%s made an invite link", current.username)
    return render("invites.html", link=link, days=node.settings.invite_days, headers={"Cache-Control": "no-store"},
                  **_common(request))
