"""Syntax of RFC 9421 HTTP Message Signatures: the two dictionaries and the signature base.

Pure text handling, no cryptography and no policy: ``node.federation.httpsig`` decides
what is required and checks the signature. Every malformed input raises
``SignatureError`` with a short reason, never another exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, unquote_to_bytes, urlsplit

import http_sfv
# Not re-exported by http_sfv, but the only way to learn where a member ends, which we
# need to put @signature-params in the base exactly as the sender wrote it.
from http_sfv.list import parse_item_or_inner_list

from node.errors import SignatureError

# Longest Signature / Signature-Input value we parse (several lines joined included).
MAX_HEADER_CHARS = 16 * 1024

DERIVED = frozenset({
    "@method", "@target-uri", "@authority", "@scheme", "@request-target",
    "@path", "@query", "@query-param", "@status",
})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Component:
    """One covered component: a lowercase name plus its parameters (only ``name`` is supported)."""

    name: str
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        """The identifier as policy code sees it, e.g. ``@method`` or ``@query-param;name="a"``."""
        return self.name + "".join(f';{k}="{v}"' for k, v in self.params)

    def serialize(self) -> str:
        """The identifier as it appears in the signature base: an sf-string with parameters."""
        item = http_sfv.Item(self.name)
        for key, value in self.params:
            item.params[key] = value
        return str(item)


@dataclass(frozen=True)
class ParsedSignature:
    """The first signature of a message: its label, components, parameters and bytes."""

    label: str
    components: tuple[Component, ...]
    params: dict[str, Any]
    params_texts: tuple[str, ...]  # @signature-params as received, then canonical if different
    signature: bytes


@dataclass(frozen=True)
class HttpMessage:
    """What component values are resolved against (``status`` only for responses)."""

    method: str | None
    target_uri: str | None
    headers: Mapping[str, str] | Any
    status: int | None = None


def field_value(headers: Mapping[str, str] | Any, name: str) -> str | None:
    """All values of header ``name`` (case-insensitive), trimmed and joined with ", "; None if absent."""
    lname = name.lower()
    if hasattr(headers, "getall"):
        raw = list(headers.getall(name, ()))
        if len(raw) == 1:  # the usual case, in short: one line of text without a line break
            value = raw[0]
            if isinstance(value, str) and "\n" not in value and "\r" not in value and "\x00" not in value:
                return value.strip(" \t")
    else:
        raw = []
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == lname:
                raw.extend(value if isinstance(value, (list, tuple)) else [value])
    if not raw:
        return None
    values = []
    for value in raw:
        if not isinstance(value, str):
            raise SignatureError(f"header {lname[:40]!r} is not text")
        # A line break would let a value forge extra lines of the signing string.
        if "\n" in value or "\r" in value or "\x00" in value:
            raise SignatureError(f"header {lname[:40]!r} contains a line break")
        values.append(value.strip(" \t"))
    return ", ".join(values)


def parse_dictionary(value: str, what: str) -> http_sfv.Dictionary:
    """Parse an RFC 8941 dictionary header; SignatureError (naming ``what``) if malformed or empty."""
    if len(value) > MAX_HEADER_CHARS:
        raise SignatureError(f"{what} header is too long")
    try:
        parsed = http_sfv.Dictionary()
        parsed.parse(value.encode("ascii"))
    except Exception:  # http_sfv raises ValueError, but hostile input must never escape as anything else
        raise SignatureError(f"{what} header is not a valid structured dictionary") from None
    if not parsed:
        raise SignatureError(f"{what} header is empty")
    return parsed


def _first_member_text(value: str, label: str) -> str:
    """The first dictionary member's value exactly as the sender wrote it (for @signature-params)."""
    data = value.encode("ascii").lstrip(b" \t")
    start = len(label) + 1  # the parser already proved the text starts with "label="
    consumed, _ = parse_item_or_inner_list(data[start:])
    return data[start:start + consumed].decode("ascii")


def parse_signature_headers(signature_input: str, signature: str) -> ParsedSignature:
    """Parse Signature-Input and Signature; the FIRST label of Signature-Input is the one used."""
    inputs = parse_dictionary(signature_input, "signature-input")
    signatures = parse_dictionary(signature, "signature")
    label = next(iter(inputs))
    member = inputs[label]
    if not isinstance(member, http_sfv.InnerList):
        raise SignatureError("signature-input member is not an inner list")
    sig_member = signatures.get(label)
    if sig_member is None:
        raise SignatureError(f"signature header has no {label[:40]!r} member")
    if not isinstance(sig_member, http_sfv.Item) or not isinstance(sig_member.value, bytes):
        raise SignatureError("signature member is not a byte sequence")
    if not sig_member.value:
        raise SignatureError("signature is empty")

    components = []
    for item in member:
        value = item.value
        if type(value) is not str:  # sf-strings only: not tokens, display strings or numbers
            raise SignatureError("covered components must be strings")
        if value != value.lower() or not value:
            raise SignatureError(f"component name {value[:40]!r} must be lowercase")
        params = []
        for key, pvalue in item.params.items():
            if value == "@query-param" and key == "name" and type(pvalue) is str:
                params.append((key, str(pvalue)))
            else:
                raise SignatureError(f"component parameter ;{key[:20]} on {value[:40]!r} is not supported")
        if value == "@query-param" and not params:
            raise SignatureError("@query-param needs a name parameter")
        if value.startswith("@") and value not in DERIVED:
            raise SignatureError(f"unknown derived component {value[:40]!r}")
        component = Component(value, tuple(params))
        # RFC 9421 §2: the same identifier twice in one signature is an error.
        if component in components:
            raise SignatureError(f"component {str(component)[:40]!r} is covered twice")
        components.append(component)

    params = dict(member.params)
    for key, kind in (("created", int), ("expires", int), ("keyid", str), ("alg", str),
                      ("nonce", str), ("tag", str)):
        # type() rather than isinstance(): bool is an int and http_sfv's Token is a str.
        if key in params and type(params[key]) is not kind:
            raise SignatureError(f"signature parameter {key} has the wrong type")
    try:
        raw_text = _first_member_text(signature_input, label)
    except Exception:
        raise SignatureError("signature-input header is not a valid structured dictionary") from None
    texts = (raw_text,) if raw_text == str(member) else (raw_text, str(member))
    return ParsedSignature(label, tuple(components), params, texts, sig_member.value)


def serialize_signature_params(components: Sequence[Component], params: Sequence[tuple[str, Any]]) -> str:
    """The Signature-Input member value (and @signature-params line) a signer emits."""
    inner = http_sfv.InnerList()
    for component in components:
        item = http_sfv.Item(component.name)
        for key, value in component.params:
            item.params[key] = value
        inner.append(item)
    for key, value in params:
        inner.params[key] = value
    return str(inner)


def parse_component(text: str) -> Component:
    """Parse a caller-written identifier such as ``@method`` or ``@query-param;name="a"``."""
    name, _, rest = text.partition(";")
    try:
        item = http_sfv.Item()
        item.parse(f'"{name.strip().lower()}"{";" + rest if rest else ""}'.encode("ascii"))
    except Exception:
        raise ValueError(f"bad component identifier {text!r}") from None
    return Component(str(item.value), tuple((k, str(v)) for k, v in item.params.items()))


def authority(parts: SplitResult) -> str:
    """Host[:port] lowercased, without userinfo and without the scheme's default port."""
    host = parts.netloc.rpartition("@")[2].lower()
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default and host.endswith(":" + default):
        host = host[: -len(default) - 1]
    return host


def _form_encode(value: bytes) -> str:
    # "percent-encode after encoding" with the application/x-www-form-urlencoded set:
    # only ASCII alphanumerics and *-._ stay literal; space becomes %20 (RFC 9421 §2.2.8).
    return quote(value, safe="*-._").replace("~", "%7E")


def _query_param(query: str, wanted: str) -> str:
    found = []
    for pair in query.split("&") if query else []:
        if not pair:
            continue
        name, _, value = pair.partition("=")
        decoded = unquote_to_bytes(name.replace("+", " "))
        if _form_encode(decoded) == wanted:
            found.append(_form_encode(unquote_to_bytes(value.replace("+", " "))))
    if not found:
        raise SignatureError(f"query parameter {wanted[:40]!r} is missing")
    # RFC 9421 §2.2.8: a name that occurs several times MUST NOT be signed individually.
    if len(found) > 1:
        raise SignatureError(f"query parameter {wanted[:40]!r} occurs more than once")
    return found[0]


def component_value(component: Component, message: HttpMessage) -> str:
    """Resolve one component (RFC 9421 §2.1 header fields, §2.2 derived components)."""
    name = component.name
    if not name.startswith("@"):
        value = field_value(message.headers, name)
        if value is None:
            raise SignatureError(f"covered header {name[:40]!r} is missing")
        return value
    if name == "@status":
        if message.status is None:
            raise SignatureError("@status can only be signed on a response")
        return str(message.status)
    if message.method is None or message.target_uri is None:
        raise SignatureError(f"{name} can only be signed on a request")
    if name == "@method":
        return message.method
    if name == "@target-uri":
        return message.target_uri
    try:
        parts = urlsplit(message.target_uri)
    except ValueError:
        raise SignatureError("target URI is malformed") from None
    path = parts.path or "/"
    if name == "@authority":
        return authority(parts)
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@path":
        return path
    if name == "@query":
        return "?" + parts.query
    if name == "@request-target":
        return path + ("?" + parts.query if parts.query else "")
    return _query_param(parts.query, dict(component.params)["name"])


def signature_base(components: Sequence[Component], message: HttpMessage, params_text: str) -> str:
    """The RFC 9421 §2.5 signature base, ending with the ``"@signature-params"`` line."""
    lines = []
    for component in components:
        value = component_value(component, message)
        if "\n" in value or "\r" in value:
            raise SignatureError(f"component {component.name[:40]!r} contains a line break")
        lines.append(f"{component.serialize()}: {value}")
    lines.append(f'"@signature-params": {params_text}')
    return "\n".join(lines)
