"""Which sites may embed the discussions (the ``embed_origins`` setting), as pure functions.

An origin is what a browser compares (RFC 6454): scheme, host and port.  The setting lists
the origins of the blogs that may show our threads in a frame; from it come the embed pages'
``frame-ancestors`` directive (CSP Level 2, section 7.7.3; every other page keeps
``frame-ancestors 'none'``) and the targets the frame posts its height to.  ``"*"`` lets any
site embed.  The same list decides which pages a first view may open a thread for
(``embed_open_threads``): only pages on an allowed origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

ANY = "*"


def origin_of(entry: str) -> str:
    """``entry`` as the origin a browser would send (``https://blog.example``); ValueError if it is not one.

    Written as people write them: ``https://Blog.Example/`` and ``https://blog.example:443`` are
    ``https://blog.example``.  A path, query or fragment is refused (an origin has none), as
    is anything but http(s).
    """
    text = entry.strip()
    if text == ANY:
        return ANY
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{entry!r} is not an origin such as https://blog.example") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{entry!r} is not an origin such as https://blog.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{entry!r} must be an origin only (scheme, host and port), without a path")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def allowed_origins(entries: list[str]) -> tuple[str, ...]:
    """The valid entries of ``embed_origins`` as origins (invalid ones are reported by check-config)."""
    found: list[str] = []
    for entry in entries:
        try:
            origin = origin_of(entry)
        except ValueError:
            continue
        if origin not in found:
            found.append(origin)
    return tuple(found)


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """The CSP ``frame-ancestors`` directive for the embed pages: 'none' when no site may embed."""
    if ANY in origins:
        return "frame-ancestors *"
    return "frame-ancestors " + (" ".join(origins) if origins else "'none'")


def page_origin(url: str) -> str | None:
    """The origin of an http(s) page URL, or None."""
    try:
        return origin_of(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    except ValueError:
        return None


def may_open(url: str, origins: tuple[str, ...]) -> bool:
    """Whether a first view of the embed may open a thread for ``url``: its page is on a listed origin.

    ``"*"`` does not count here: it lets any site show threads, not make this node fetch any page.
    """
    origin = page_origin(url)
    return origin is not None and origin in origins
