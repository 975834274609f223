"""Sending the node's e-mail (verification and password-reset links) through the configured SMTP server.

E-mail is optional: without ``smtp_host`` nothing is sent and the pages say how else to get a
link (an admin runs ``fednode admin reset-link``).  Mail goes out with aiosmtplib, never inside
a database transaction, and in a background task of its own (``send_later``), so a slow mail
server delays no answer and the answer to "reset my password" takes as long whether or not an
account matched.  The SMTP password is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import TYPE_CHECKING

import aiosmtplib

if TYPE_CHECKING:
    from node.config import Settings

log = logging.getLogger("fednode.mail")
TIMEOUT = 30  # seconds for the whole conversation with the SMTP server
_PENDING: set[asyncio.Task] = set()  # keeps background sends alive until they finish


def mail_enabled(settings: "Settings") -> bool:
    """Whether the node can send e-mail (an SMTP server is configured)."""
    return bool(settings.smtp_host)


def sender(settings: "Settings") -> str:
    return settings.smtp_from or formataddr((settings.site_name, f"noreply@{settings.host.split(':')[0]}"))


def message(settings: "Settings", to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from the site to ``to``."""
    mail = EmailMessage()
    mail["From"] = sender(settings)
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=settings.host.split(":")[0])
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    mail.set_content(body)
    return mail


async def send(settings: "Settings", to: str, subject: str, body: str) -> bool:
    """Send one message now; True when the server took it.  Failures are logged (without secrets), not raised."""
    if not mail_enabled(settings):
        return False
    try:
        await aiosmtplib.send(
            message(settings, to, subject, body), hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_username or None, password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls", start_tls=settings.smtp_security == "starttls",
            timeout=TIMEOUT,
        )
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        # The exception's text is the server's reply or the socket error; never the password.
        log.warning("could not send mail %r via %s:%d: %s", subject, settings.smtp_host, settings.smtp_port,
                    exc.__class__.__name__)
        return False
    log.info("sent mail %r", subject)
    return True


def send_later(settings: "Settings", to: str, subject: str, body: str) -> asyncio.Task:
    """Send one message in the background; the caller answers at once."""
    task = asyncio.get_running_loop().create_task(send(settings, to, subject, body))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    return task


async def drain() -> None:
    """Wait for the messages still being sent (at shutdown, and in tests)."""
    if _PENDING:
        await asyncio.gather(*list(_PENDING), return_exceptions=True)
