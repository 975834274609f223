"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives, for the e-mail tests."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import AsyncIterator

from aiosmtpd.smtp import SMTP

_LINK = re.compile(r"https?://\S+")


@dataclass
class MailBox:
    """What the fake server received, and the port it listens on."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        async with self.arrived:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        """Wait until ``count`` messages have arrived; return them all."""
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.messages) >= count), timeout)
        return list(self.messages)

    @staticmethod
    def link_in(message: EmailMessage) -> str:
        """The first http(s) link in a message's text."""
        found = _LINK.search(message.get_content())
        assert found, "the message has no link"
        return found.group(0)


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[MailBox]:
    """An SMTP server on a free port of 127.0.0.1, plain (no TLS, no AUTH), for as long as the block runs."""
    box = MailBox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


def mail_settings(box: MailBox) -> dict:
    """The settings that make a test node send its mail to ``box``."""
    return {"smtp_host": "127.0.0.1", "smtp_port": box.port, "smtp_security": "none",
            "smtp_from": "Forum <forum@mail.test>"}
