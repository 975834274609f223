"""Pure URL canonicalisation: many spellings of a web address, one key for its document.

``canonicalize`` turns what a reader pastes (``HTTP://Example.COM.:80/a/./b/?utm_source=x&b=2&a=1#top``)
into the one form a discussion is filed under (``http://example.com/a/b?a=1&b=2``).  The rules are
those of Hypothesis (``h/util/uri.py``: case, default port, trailing slash, sorted query, fragment
dropped, percent-encoding normalised) and Lemmy (``clean_url_params``: tracking parameters dropped),
plus the mobile and AMP spellings that news sites hand out.  Nothing here does I/O: what a page
says about itself (``rel=canonical``, ``og:url``) and where it redirects are applied by
``node.discussions.resolve``, which calls this on each URL it learns.

docs/discussions.md lists every rule and every tracking parameter.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import quote, unquote, urlsplit

from node.federation.netguard import InvalidURL, ip_literal, normalize_host

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL = 2048

# Query parameters that only say how a reader came to a page, never which page it is.
# Exact names (compared case-insensitively) and name prefixes.
TRACKING_PARAMS = frozenset({
    "fbclid",          # Facebook click id (Lemmy, Hypothesis)
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid",  # Google Ads click ids (Lemmy, Hypothesis)
    "msclkid",         # Microsoft Ads
    "yclid",           # Yandex
    "twclid",          # X/Twitter Ads
    "ttclid",          # TikTok Ads
    "li_fat_id",       # LinkedIn
    "igshid", "igsh",  # Instagram share
    "mc_cid", "mc_eid",  # Mailchimp campaign and subscriber
    "mkt_tok",         # Marketo
    "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",  # HubSpot
    "vero_id", "vero_conv",  # Vero
    "oly_anon_id", "oly_enc_id",  # Omeda
    "_ga", "_gl",      # Google Analytics cross-domain linker
    "ref_src", "ref_url",  # Twitter embeds
    "s_cid",           # Adobe Analytics
    "wickedid",        # Wicked Reports
    "rb_clickid",      # Rakuten
    "sc_cid",          # Snapchat
    "cmpid",           # campaign id of many news sites
    "at_medium", "at_campaign",  # AT Internet
    "amp",             # "?amp" / "?amp=1": the AMP rendering of the same article
    "outputtype",      # "?outputType=amp" (WordPress AMP plugins)
})
TRACKING_PREFIXES = ("utm_", "wt.", "pk_", "mtm_", "hmb_")  # Google Analytics, WebTrends, Piwik, Matomo, HubSpot campaigns

# First host labels that name the mobile rendering of the same site.
MOBILE_LABELS = frozenset({"m", "mobile", "amp"})
_AMP_CACHE = re.compile(r"^[a-z0-9-]+\.cdn\.ampproject\.org$")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters a path segment or query part may hold unescaped (RFC 3986 pchar minus the delimiters
# we split on); everything else is percent-encoded as UTF-8.
_PATH_SAFE = "-._~!$&'()*+,;=:@/"
_QUERY_SAFE = "-._~!$'()*+,;:@/?"


class NotDiscussable(InvalidURL):
    """A URL that names no web page we could file a discussion under (with the reason)."""


def canonicalize(url: str) -> str:
    """The canonical form of an http(s) URL; NotDiscussable for anything else.

    Scheme and host lower-cased, trailing dot dropped, IDN hosts in punycode, the
    default port dropped, ``m.``/``mobile.``/``amp.`` hosts folded into the site's
    host, AMP caches unwrapped, dot segments resolved, ``/amp`` endings and
    trailing slashes dropped, percent-encoding normalised, tracking parameters
    dropped and the rest of the query sorted by name, the fragment dropped
    (except a ``#!`` route, which names a page in old script-driven sites).
    """
    if not isinstance(url, str):
        raise NotDiscussable("the URL must be text")
    text = url.strip()
    if not text:
        raise NotDiscussable("give the address of a web page")
    if len(text) > MAX_URL:
        raise NotDiscussable(f"the URL is longer than {MAX_URL} characters")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in text):
        raise NotDiscussable("the URL contains control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise NotDiscussable(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        shown = f"{scheme}:" if scheme else "a relative address"
        raise NotDiscussable(f"only http and https pages can be discussed, not {shown}")
    if parts.username is not None or parts.password is not None:
        raise NotDiscussable("the URL carries a user name or password; remove them")
    if not parts.hostname:
        raise NotDiscussable("the URL has no host")
    try:
        host = normalize_host(unquote(parts.hostname))
    except InvalidURL as exc:
        raise NotDiscussable(f"the host is not valid ({exc.reason})") from None
    unwrapped = _unwrap_amp_cache(host, parts.path, parts.query)
    if unwrapped is not None:
        return canonicalize(unwrapped)
    host = _desktop_host(host)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = _path(parts.path)
    query = _query(parts.query)
    result = f"{scheme}://{netloc}{path}"
    if query:
        result += "?" + query
    if parts.fragment.startswith("!"):
        result += "#" + _encode(parts.fragment, _QUERY_SAFE + "=&#")
    return result


def lookup_keys(canonical: str) -> list[str]:
    """The forms a document may be filed under for ``canonical``: it, and its other scheme.

    http and https of one address are one document (Hypothesis treats them alike
    too): sites move to https and old links keep the http form.
    """
    scheme, _, rest = canonical.partition("://")
    other = "https" if scheme == "http" else "http"
    return [canonical, f"{other}://{rest}"]


def same_site(url_a: str, url_b: str) -> bool:
    """Whether two URLs belong to one site: same host, or one a subdomain of the other (ports ignored).

    A page's ``rel=canonical``, ``og:url`` and ActivityPub alternate are believed only
    within its site, or any page could file itself under another site's article.
    """
    try:
        host_a = _desktop_host(normalize_host(urlsplit(url_a).hostname or ""))
        host_b = _desktop_host(normalize_host(urlsplit(url_b).hostname or ""))
    except (InvalidURL, ValueError):
        return False
    if host_a == host_b:
        return True
    if ip_literal(host_a) is not None or ip_literal(host_b) is not None:
        return False
    return host_a.endswith("." + host_b) or host_b.endswith("." + host_a)


def _unwrap_amp_cache(host: str, path: str, query: str) -> str | None:
    """The publisher's URL inside a Google AMP cache or viewer URL, else None.

    ``https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a`` and
    ``https://www.google.com/amp/s/www.example.com/a`` both serve ``https://www.example.com/a``.
    """
    if _AMP_CACHE.match(host):
        match = re.match(r"^/(?:[cv]|wp)/(s/)?(.+)$", path)
    elif host in ("google.com", "www.google.com") and path.startswith("/amp/"):
        match = re.match(r"^/amp/(s/)?(.+)$", path)
    else:
        return None
    if match is None:
        return None
    inner = f"{'https' if match.group(1) else 'http'}://{match.group(2)}"
    return f"{inner}?{query}" if query else inner


def _desktop_host(host: str) -> str:
    """``m.example.com``, ``mobile.example.com`` and ``en.m.wikipedia.org`` as their desktop hosts."""
    if ip_literal(host) is not None:
        return host
    labels = host.split(".")
    if len(labels) > 2 and labels[0] in MOBILE_LABELS:
        return ".".join(labels[1:])
    if len(labels) > 3 and labels[1] == "m":  # Wikipedia and its sister sites: <lang>.m.<site>
        return ".".join([labels[0], *labels[2:]])
    return host


def _path(raw: str) -> str:
    """Dot segments resolved, escapes normalised, ``/amp`` endings and trailing slashes dropped."""
    segments = [_encode(unquote_unreserved(segment), _PATH_SAFE.replace("/", "")) for segment in raw.split("/")]
    path = "/".join(segments)
    if not path.startswith("/"):
        path = "/" + path
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):  # normpath keeps a leading "//"
        resolved = "/" + resolved.lstrip("/")
    resolved = re.sub(r"/+", "/", resolved)
    for ending in ("/amp", "/amp.html", ".amp"):
        if resolved.endswith(ending) and len(resolved) > len(ending):
            resolved = resolved[: -len(ending)]
            break
    return resolved.rstrip("/") or "/"


def _query(raw: str) -> str:
    """Tracking parameters dropped, the rest sorted by name (values of one name keep their order)."""
    if not raw:
        return ""
    items: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = _encode(unquote_unreserved(name.replace("+", "%20")), _QUERY_SAFE)
        value = _encode(unquote_unreserved(value.replace("+", "%20")), _QUERY_SAFE + "=")
        if is_tracking_param(unquote(name)):
            continue
        items.append((name, f"{name}{sep}{value}"))
    items.sort(key=lambda item: item[0])
    return "&".join(text for _, text in items)


def is_tracking_param(name: str) -> bool:
    """Whether the query parameter ``name`` is one ``TRACKING_PARAMS``/``TRACKING_PREFIXES`` drops."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def unquote_unreserved(text: str) -> str:
    """Decode only the escapes of unreserved characters (``%7E`` → ``~``); upper-case the others."""
    def replace(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()
    return _PERCENT.sub(replace, text)


def _encode(text: str, safe: str) -> str:
    """Percent-encode what must be (spaces, non-ASCII as UTF-8), keeping existing escapes."""
    return quote(text, safe=safe + "%")


def fetchable(url: str) -> str:
    """The URL to request for ``url``: checked like ``canonicalize``, without tracking parameters or fragment.

    Path, host and the rest of the query stay as the reader gave them (a site may
    serve ``/a/`` and not ``/a``): the page's redirects and ``rel=canonical`` say the rest.
    Tracking parameters are not sent on: the site learns nothing of where the link came from.
    """
    canonicalize(url)  # the same refusals, with the same reasons
    parts = urlsplit(url.strip())
    kept = [part for part in parts.query.split("&") if part and not is_tracking_param(unquote(part.partition("=")[0]))]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    text = f"{parts.scheme.lower()}://{netloc}{_encode(parts.path, _PATH_SAFE) or '/'}"
    if kept:
        text += "?" + _encode("&".join(kept), _QUERY_SAFE + "=&")
    return text
