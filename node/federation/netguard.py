"""Pure address and host policy: which IPs we may connect to, and how hosts are compared.

Nothing here does I/O. ``fetch.py`` applies ``is_public_address`` to every address
it is about to connect to (SSRF guard, OWASP SSRF prevention; ActivityPub §B.1), and every module that
compares hosts or origins goes through ``normalize_host`` / ``same_origin`` (R10),
so that ``EXAMPLE.com.``, ``example.com`` and an IDN spelled in Unicode or in
punycode are one and the same host everywhere.

URLs are parsed with yarl, the parser aiohttp uses to send requests, so the host
we check is the host we connect to (parser differentials are a classic SSRF bypass).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Collection

from yarl import URL

from node.errors import InvalidDocument

try:  # IDNA 2008 + UTS #46, the same encoder yarl (and so aiohttp) uses on the wire
    import idna as _idna
except ImportError:  # pragma: no cover - yarl depends on idna, so this is a fallback only
    _idna = None

IPAddress = IPv4Address | IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Special-purpose IPv4 ranges (IANA registry; the list Fedify settled on after
# CVE-2026-50131, where a missed special-use range let a fetch reach the LAN).
_BLOCKED_V4 = tuple(IPv4Network(net) for net in (
    "0.0.0.0/8",        # "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",       # private
    "100.64.0.0/10",    # carrier-grade NAT
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local, incl. cloud metadata at 169.254.169.254
    "172.16.0.0/12",    # private
    "192.0.0.0/24",     # IETF protocol assignments
    "192.0.2.0/24",     # TEST-NET-1
    "192.88.99.0/24",   # 6to4 relay anycast
    "192.168.0.0/16",   # private
    "198.18.0.0/15",    # benchmarking
    "198.51.100.0/24",  # TEST-NET-2
    "203.0.113.0/24",   # TEST-NET-3
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, incl. broadcast 255.255.255.255
))

# Special-purpose IPv6 ranges. IPv4-mapped and NAT64 addresses are handled
# before this list by checking the IPv4 address they carry.
_BLOCKED_V6 = tuple(IPv6Network(net) for net in (
    "::/16",            # unspecified, loopback, IPv4-compatible and other leftovers
    "64:ff9b:1::/48",   # local-use NAT64 (RFC 8215): translates into private space
    "100::/64",         # discard-only
    "2001::/32",        # Teredo: tunnels to an arbitrary IPv4 address
    "2001:2::/48",      # benchmarking
    "2001:10::/28",     # ORCHID
    "2001:20::/28",     # ORCHIDv2
    "2001:db8::/32",    # documentation
    "2002::/16",        # 6to4: embeds an IPv4 address we cannot vouch for
    "3fff::/20",        # documentation (RFC 9637)
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
    "fec0::/10",        # deprecated site-local
    "ff00::/8",         # multicast
))
_NAT64 = IPv6Network("64:ff9b::/96")
# Only 2000::/3 is allocated as global unicast; anything else is special or unassigned.
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")

# Legacy numeric host spellings (2130706433, 0x7f.1, 127.1) that getaddrinfo maps
# onto an IPv4 address. They are not DNS names (no TLD is numeric), so refuse them.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*$", re.IGNORECASE)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class InvalidURL(InvalidDocument, ValueError):
    """A URL or host that cannot be parsed or normalised (both a NodeError and a ValueError)."""


def is_public_address(ip: str | IPAddress) -> bool:
    """Whether ``ip`` is a globally routable unicast address we may connect to.

    Unparseable input is not public (the guard fails closed).
    """
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError:
            return False
    if isinstance(ip, IPv6Address):
        # The kernel delivers ::ffff:a.b.c.d to a.b.c.d, and a NAT64 gateway
        # delivers 64:ff9b::a.b.c.d there too: judge the IPv4 address inside.
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.scope_id:
            return False
        return ip in _GLOBAL_UNICAST_V6 and not any(ip in net for net in _BLOCKED_V6)
    return not any(ip in net for net in _BLOCKED_V4)


def ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets allowed), else None."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in text:
        return None  # zone ids never belong in a URL we fetch; normalize_host refuses them
    if ":" not in text and not text[-1:].isdigit():
        return None  # neither IPv6 (has a colon) nor dotted IPv4 (ends with a digit): a name, cheaply
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_numeric_host(host: str) -> bool:
    """Whether ``host`` is a legacy numeric IPv4 spelling such as ``2130706433`` or ``127.1``."""
    return ip_literal(host) is None and bool(_NUMERIC_HOST.match(host.rstrip(".")))


def normalize_host(host: str) -> str:
    """The canonical form of a host: lowercase, no trailing dot, IDNs as punycode.

    IP literals come back in compressed form without brackets. Raises InvalidURL
    for an empty host, invalid IDNA or characters that cannot be in a DNS name.
    """
    if not isinstance(host, str) or not host:
        raise InvalidURL("empty host")
    return _normalize_host(host)


@functools.lru_cache(maxsize=8192)
def _normalize_host(host: str) -> str:
    # Memoised: every URL of an activity names one of a few hosts, and the answer
    # depends on the text alone (failures raise, and are not cached).
    if host.startswith("["):
        literal = ip_literal(host)
        if not isinstance(literal, IPv6Address):
            raise InvalidURL(f"invalid IPv6 literal {host!r}")
        return literal.compressed
    literal = ip_literal(host)
    if literal is not None:
        return literal.compressed
    text = host[:-1] if host.endswith(".") else host
    if not text or ".." in text or "%" in text:
        raise InvalidURL(f"invalid host {host!r}")
    try:
        if text.isascii():
            ascii_host = text.lower()
        elif _idna is not None:
            ascii_host = _idna.encode(text, uts46=True).decode("ascii")
        else:  # pragma: no cover
            ascii_host = text.encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        raise InvalidURL(f"invalid internationalised host {host!r}") from exc
    if ascii_host.endswith("."):  # an ideographic full stop became a trailing dot
        ascii_host = ascii_host[:-1]
    if len(ascii_host) > 253:
        raise InvalidURL("host name too long")
    for label in ascii_host.split("."):
        if not _LABEL.match(label):
            raise InvalidURL(f"invalid host {host!r}")
        if label.startswith("xn--"):
            # A punycode label must decode, else two spellings could compare
            # differently here and on the peer (Mastodon CVE-2023-42451).
            try:
                label[4:].encode("ascii").decode("punycode")
            except UnicodeError as exc:
                raise InvalidURL(f"invalid punycode label in {host!r}") from exc
    return ascii_host


def is_blocked(host: str, blocked_domains: Collection[str]) -> bool:
    """True when ``host`` or a parent domain of it is blocked."""
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in (d.lower().lstrip(".") for d in blocked_domains))


# ``scheme://authority`` of an absolute URL: the authority ends at the first "/", "?" or "#"
# (RFC 3986 §3.2; yarl splits there too).  With only printable ASCII after it, the rest
# (path, query, fragment) cannot change the scheme, host or port yarl finds, nor make it
# fail (tests/test_netguard.py compares both on random URLs).
_ORIGIN_PART = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(?:[/?#][!-~]*)?\Z")


def _parse(url: str) -> tuple[str, str, int]:
    """(scheme, normalised host, effective port) of an absolute http(s) URL."""
    if not isinstance(url, str):
        raise InvalidURL("URL must be a string")
    return _parse_string(url)


@functools.lru_cache(maxsize=8192)
def _parse_string(url: str) -> tuple[str, str, int]:
    # Memoised: the origin rules ask about the same few actor URLs for every
    # activity (nine parses a request), and the answer depends on the text alone.
    # A URL not seen yet (every activity and object id is new) is parsed by its origin
    # part, memoised too: its origin is one of a few, so no id is parsed whole.
    origin = _ORIGIN_PART.match(url)
    if origin is not None:
        try:
            return _parse_origin(origin.group(1))
        except InvalidURL:
            pass  # parsed whole below, so the error names the whole URL, as before
    return _parse_url(url)


@functools.lru_cache(maxsize=1024)
def _parse_origin(origin: str) -> tuple[str, str, int]:
    return _parse_url(origin)


def _parse_url(url: str) -> tuple[str, str, int]:
    try:
        parsed = URL(url)
        scheme = parsed.scheme.lower()
        raw_host = parsed.raw_host
        port = parsed.port
    except (ValueError, TypeError, UnicodeError, IndexError) as exc:
        # IndexError: yarl 1.25 on a userinfo whose host is empty after a "[" ("https://[::1]@").
        raise InvalidURL(f"invalid URL {url[:200]!r}") from exc
    if scheme not in DEFAULT_PORTS or not raw_host:
        raise InvalidURL(f"not an absolute http(s) URL: {url[:200]!r}")
    return scheme, normalize_host(raw_host), port or DEFAULT_PORTS[scheme]


def host_of(url: str) -> str:
    """The normalised host of an http(s) URL (no port). Raises InvalidURL otherwise."""
    return _parse(url)[1]


def same_origin(url_a: str, url_b: str) -> bool:
    """Whether two http(s) URLs share scheme, host and port after normalisation.

    Anything unparseable, or with another scheme, is never the same origin (R3).
    """
    try:
        return _parse(url_a) == _parse(url_b)
    except InvalidURL:
        return False


def canonical_url(url: str) -> str:
    """``url`` with a normalised scheme, host and port; path, query and fragment untouched.

    Used to compare a fetched document's ``id`` with the URL it came from (R4).
    """
    scheme, host, port = _parse(url)
    parsed = URL(url)
    netloc = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    text = f"{scheme}://{netloc}{parsed.raw_path or '/'}"
    if parsed.raw_query_string:
        text += "?" + parsed.raw_query_string
    if parsed.raw_fragment:
        text += "#" + parsed.raw_fragment
    return text


def same_url(url_a: str, url_b: str) -> bool:
    """Whether two URLs are equal after ``canonical_url``; unparseable ones never are."""
    try:
        return canonical_url(url_a) == canonical_url(url_b)
    except InvalidURL:
        return False
