"""The listening socket of ``fednode serve``: bound before anything claims the node is ready.

Binding first means a busy port is reported as what it is, with what to do about it, instead
of the server announcing itself and then dying with ``OSError: [Errno 98]``; and one bound
socket can be handed to the web server (and shared by worker processes) as it is.
"""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit

from node.config import LOOPBACK_OR_ANY, Settings, listening_url
from node.errors import NodeError


class ListenError(NodeError):
    """The server cannot listen where the settings say; the reason says what to do instead."""


def bind_listener(settings: Settings) -> socket.socket:
    """A TCP socket listening on ``listen_host:listen_port``, or ListenError explaining why not."""
    host, port = settings.listen_host, settings.listen_port
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: listen_host {host!r} is not an address ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=1024)
    except OSError as exc:
        raise ListenError(f"cannot listen on {where}: {_advice(exc, settings)}") from None


def _advice(exc: OSError, settings: Settings) -> str:
    port = settings.listen_port
    if exc.errno == errno.EADDRINUSE:
        follow = (" (the public URL of a development node follows the port)" if settings.is_development
                  else "; then point your reverse proxy at the new port")
        return (f"port {port} is already in use (another fednode, or another program). Stop it, or choose "
                f"a free port: `fednode serve --listen-port {port + 1}`{follow}")
    if exc.errno == errno.EACCES:
        return (f"no permission to use port {port} (ports below 1024 need root); use a port above 1024 "
                "behind your reverse proxy, e.g. `--listen-port 8080`")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{settings.listen_host} is not an address of this machine; use 127.0.0.1 (or 0.0.0.0 for all)"
    return f"{exc.strerror or exc}"


def _same_place(public: str, listening: str) -> bool:
    a, b = urlsplit(public), urlsplit(listening)
    loopback = {"localhost", "127.0.0.1", "::1"}
    same_host = a.hostname == b.hostname or {a.hostname, b.hostname} <= loopback
    return a.scheme == b.scheme and same_host and (a.port or 80) == b.port


def announcement(settings: Settings) -> list[str]:
    """What ``serve`` prints once it listens: where, the public URL, and a note when they differ."""
    host = settings.listen_host
    shown = f"[{host}]" if ":" in host else host
    lines = [f"Fednode listening on http://{shown}:{settings.listen_port} (public URL {settings.base}); "
             "press Ctrl+C to stop"]
    if not settings.is_development and not _same_place(settings.base, listening_url(host, settings.listen_port)):
        behind = "a reverse proxy" if host in LOOPBACK_OR_ANY else "a proxy"
        lines.append(
            f"note: the public URL {settings.base} (base_url) is not this listening address: every link, handle "
            f"and WebFinger answer uses {settings.base}, so {behind} at that address must forward to "
            f"{shown}:{settings.listen_port}"
        )
    return lines
