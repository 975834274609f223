"""Syntax of draft-cavage-http-signatures-12: the ``Signature`` header and the signing string.

Pure text handling, no cryptography and no policy: ``node.federation.httpsig`` decides
what is required and checks the signature. Every malformed input raises
``SignatureError`` with a short reason, never another exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from node.errors import SignatureError

# Longest Signature header we parse; aiohttp caps one header line at 8190 bytes already,
# this also bounds several lines joined together.
MAX_HEADER_CHARS = 16 * 1024

PSEUDO_HEADERS = ("(request-target)", "(created)", "(expires)")

# Parameter names are RFC 7230 tokens.  Unquoted values are tokens too, but we also
# allow "/", "=" and ":" so an unquoted base64 signature or URL keyId still parses;
# being lenient here costs nothing because the values are checked afterwards.
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BARE_VALUE = re.compile(r"[!#$%&'*+\-./0-9:=A-Z^_`a-z|~]+")
_OWS = re.compile(r"[ \t]*")
# What a quoted value we send may not hold: a quote, a backslash or a control character.
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f]')


def strip_bogus_prefix(value: str) -> str:
    """Drop a leading ``Signature `` scheme word (old node http-signature sent it in this header)."""
    value = value.strip()
    if value[:10].lower() == "signature " or value[:10].lower() == "signature\t":
        value = value[10:].lstrip()
    return value


# The shape every signer we know sends (Mastodon, GoToSocial, Akkoma, Misskey...): quoted values
# without escapes or line breaks, commas between.  Read with two matches instead of the loop
# below, which reads (or refuses) everything else; both give the same parameters
# (tests/test_httpsig.py compares them on random headers).
_QUOTED_PLAIN = r'"([^"\\\r\n\x00]*)"'  # a quoted value without backslash, CR, LF or NUL
_PLAIN_PARAMS = re.compile(rf"{_NAME.pattern}={_QUOTED_PLAIN}(?:[ \t]*,[ \t]*{_NAME.pattern}={_QUOTED_PLAIN})*")
_PLAIN_PAIR = re.compile(rf"({_NAME.pattern})={_QUOTED_PLAIN}")


def parse_signature_params(value: str) -> dict[str, str]:
    """Parse ``name=value, name="value"`` pairs of a Signature header into a dict."""
    if len(value) > MAX_HEADER_CHARS:
        raise SignatureError("signature header is too long")
    text = strip_bogus_prefix(value)
    if not text:
        raise SignatureError("signature header is empty")
    if _PLAIN_PARAMS.fullmatch(text):
        pairs = _PLAIN_PAIR.findall(text)
        params = dict(pairs)
        if len(params) == len(pairs):  # else a parameter is repeated: refused below
            return params
    return _parse_params(text)


def _parse_params(text: str) -> dict[str, str]:
    """The general reader of the parameters (``text`` stripped and not empty)."""
    params: dict[str, str] = {}
    pos, end = 0, len(text)
    while True:
        pos = _OWS.match(text, pos).end()
        name = _NAME.match(text, pos)
        if name is None:
            raise SignatureError("signature header is malformed")
        pos = _OWS.match(text, name.end()).end()
        if pos >= end or text[pos] != "=":
            raise SignatureError(f"signature parameter {name.group()[:40]!r} has no value")
        pos = _OWS.match(text, pos + 1).end()
        if pos < end and text[pos] == '"':
            param_value, pos = _quoted_string(text, pos)
        else:
            bare = _BARE_VALUE.match(text, pos)
            if bare is None:
                raise SignatureError("signature header is malformed")
            param_value, pos = bare.group(), bare.end()
        # A repeated parameter is ambiguous (which one did the signer mean?): refuse it.
        if name.group() in params:
            raise SignatureError(f"signature parameter {name.group()[:40]!r} is repeated")
        params[name.group()] = param_value
        pos = _OWS.match(text, pos).end()
        if pos == end:
            return params
        if text[pos] != ",":
            raise SignatureError("signature header is malformed")
        pos += 1


# The body of a quoted-string: plain characters or backslash escapes, up to the
# closing quote.  One match instead of a loop per character (it runs four times
# for every signed request).
_QUOTED_BODY = re.compile(r'([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _quoted_string(text: str, pos: int) -> tuple[str, int]:
    """Read an RFC 7230 quoted-string starting at the opening quote; return (value, next pos)."""
    match = _QUOTED_BODY.match(text, pos + 1)
    if match is None:
        raise SignatureError("signature header has unbalanced quotes")
    raw = match.group(1)
    value = _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw
    if "\r" in value or "\n" in value or "\x00" in value:
        raise SignatureError("signature header contains a control character")
    return value, match.end()


def covered_headers(params: dict[str, str], algorithm: str) -> tuple[str, ...]:
    """The lowercased ``headers`` list, or the default when the parameter is absent."""
    if "headers" not in params:
        # Mastodon signed_request.rb: hs2019 defaults to (created), rsa-sha256 to date
        # (draft-cavage-12 §2.1.6 says the default is (created)).
        return ("(created)",) if algorithm == "hs2019" else ("date",)
    names = tuple(params["headers"].lower().split())
    if not names:
        raise SignatureError("headers parameter is empty")
    return names


def signing_string(
    covered: Sequence[str],
    *,
    method: str,
    request_target: str,
    field: Callable[[str], str | None],
    params: dict[str, str],
) -> str:
    """Build the draft-cavage signing string: ``name: value`` lines joined by LF, no trailing LF."""
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = f"{method.lower()} {request_target}"
        elif name in ("(created)", "(expires)"):
            # The value is the parameter exactly as sent, e.g. "1402170695".
            value = params.get(name[1:-1])
            if value is None:
                raise SignatureError(f"{name} is signed but the {name[1:-1]} parameter is missing")
        elif name.startswith("("):
            raise SignatureError(f"unknown pseudo-header {name[:40]!r}")
        else:
            value = field(name)
            if value is None:
                raise SignatureError(f"signed header {name[:40]!r} is missing")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def format_signature_header(pairs: Iterable[tuple[str, str]]) -> str:
    """Serialize ``keyId="…",algorithm="…",…`` as Mastodon sends it (all values quoted)."""
    parts = []
    for name, value in pairs:
        if _UNQUOTABLE.search(value):  # one scan of the ~350-character signature, not a Python loop
            raise ValueError(f"cannot put {name}={value!r} in a Signature header")
        parts.append(f'{name}="{value}"')
    return ",".join(parts)
