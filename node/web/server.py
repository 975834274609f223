"""The HTTP server around the application, guarded against cheap denial of service.

aiohttp keeps a connection that never sends a request for an hour, reads up to
128 header lines of 8 KiB each (about 1 MiB per connection) for as long as the
client takes, and accepts connections until the process runs out of file
descriptors.  A few hundred idle or half-sent connections were enough to make a
node unreachable or to add half a gigabyte of memory.  So every connection of
``fednode serve`` (and of the test servers) gets:

- an idle timeout (``idle_timeout``): before the first request and between
  keep-alive requests;
- a header deadline (``header_timeout``): from a request's first byte to the
  end of its headers; a slower client gets 408 and is closed;
- a header budget (``max_header_bytes``): request line plus headers; more gets
  431 and is closed, so at most one read buffer per connection is ever held;
- a connection cap (``max_connections``): one more connection is answered 503
  with ``Retry-After`` and closed at once.

The reverse proxy should still limit connections and request rates per client
address (docs/operations.md): the node sees only the proxy's address.

The guard hooks into aiohttp's ``RequestHandler`` (the protocol of one
connection); ``tests/test_hostile.py`` pins down the behaviour, so an aiohttp
upgrade that changes those internals fails there, not in production.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from node.config import Settings

log = logging.getLogger("fednode.server")
HTTP_LOG = logging.getLogger("fednode.http")


@dataclass(frozen=True)
class ConnectionLimits:
    """The limits every connection is held to (from the settings of the same names)."""

    idle_timeout: float
    header_timeout: float
    max_header_bytes: int
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> "ConnectionLimits":
        return cls(settings.idle_timeout, settings.header_timeout, settings.max_header_bytes, settings.max_connections)


def _plain_response(status: str, body: str, extra: str = "") -> bytes:
    data = body.encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(data)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + data


TOO_MANY_CONNECTIONS = _plain_response("503 Service Unavailable", "too many connections; retry later\n",
                                       "Retry-After: 10\r\n")
HEADERS_TOO_LARGE = _plain_response("431 Request Header Fields Too Large", "request headers are too large\n")
HEADERS_TOO_SLOW = _plain_response("408 Request Timeout", "request headers took too long\n")


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection protocol, with the idle, header and connection limits applied.

    The common request arrives with all its headers in one read and costs two
    attribute checks; only headers that arrive in pieces start a deadline.
    """

    def __init__(self, manager: web.Server, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._idle_deadline: asyncio.TimerHandle | None = None
        self._received_any = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if manager is not None and len(manager.connections) > self._limits.max_connections:
            log.warning("refusing a connection: %d open (max_connections)", len(manager.connections) - 1)
            self._refuse(TOO_MANY_CONNECTIONS)
            return
        # Closes a connection that never sends a byte (aiohttp's keep-alive timer
        # covers the time between requests).
        self._idle_deadline = self._loop.call_later(self._limits.idle_timeout, self._idle_expired)

    def data_received(self, data: bytes) -> None:
        if self._force_close or self._close:
            return
        self._received_any = True
        reading_headers = self._awaiting_request()
        super().data_received(data)
        if not reading_headers:
            return  # a body, or bytes behind a request being handled
        if not self._awaiting_request():  # this read completed a request's headers
            if self._header_bytes:
                self._header_bytes = 0
                self._cancel_header_deadline()
            return
        if not self._header_bytes:  # the first piece of unfinished headers: the clock starts
            self._header_deadline = self._loop.call_later(self._limits.header_timeout, self._headers_expired)
        self._header_bytes += len(data)
        if self._header_bytes > self._limits.max_header_bytes:
            log.info("closing a connection that sent over %d bytes of headers", self._limits.max_header_bytes)
            self._refuse(HEADERS_TOO_LARGE)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_deadline()
        if self._idle_deadline is not None:
            self._idle_deadline.cancel()
            self._idle_deadline = None
        super().connection_lost(exc)

    def _awaiting_request(self) -> bool:
        """True while no request is being handled and none is queued: incoming bytes are headers."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def _idle_expired(self) -> None:
        self._idle_deadline = None
        if not self._received_any:
            self._refuse(b"")

    def _headers_expired(self) -> None:
        self._header_deadline = None
        if self._header_bytes and self._awaiting_request():
            log.info("closing a connection whose headers took over %ss", self._limits.header_timeout)
            self._refuse(HEADERS_TOO_SLOW)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._cancel_header_deadline()
        transport = self.transport
        if transport is not None and answer:
            transport.write(answer)  # flushed before the close takes effect
        self.force_close()


class GuardedServer(web.Server):
    """An aiohttp ``Server`` whose connections are ``GuardedRequestHandler``s."""

    limits: ConnectionLimits

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, limits=self.limits, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` serving ``app`` with the connection limits of ``settings``."""

    def __init__(self, app: web.Application, settings: Settings, **kwargs: Any) -> None:
        kwargs.setdefault("access_log", None)
        # aiohttp's errors about our connections (a handler that raised past every middleware)
        # under our own name, apart from any other aiohttp server in the process.
        kwargs.setdefault("logger", HTTP_LOG)
        # aiohttp's keep-alive timer: between requests, and (since 3.10) before the first.
        kwargs.setdefault("keepalive_timeout", settings.idle_timeout)
        super().__init__(app, **kwargs)
        self.limits = ConnectionLimits.of(settings)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds a plain Server; only how it makes connections changes.
        server.__class__ = GuardedServer
        server.limits = self.limits
        return server


def serve(app: web.Application, settings: Settings, on_ready: Callable[[], None],
          sock: socket.socket | None = None) -> None:
    """Serve ``app`` on ``sock`` (else ``listen_host:listen_port``) until SIGINT or SIGTERM, then shut down cleanly."""

    from node.app import freeze_startup_heap

    async def run() -> None:
        runner = GuardedRunner(app, settings, handle_signals=False)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            site = (web.SockSite(runner, sock) if sock is not None
                    else web.TCPSite(runner, settings.listen_host, settings.listen_port))
            await site.start()
            freeze_startup_heap()  # the node is open and its workers started: what exists now lives on
            on_ready()
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
