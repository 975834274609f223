"""HTTP signatures: sign our outgoing requests and check incoming ones.

Two schemes are spoken, as the fediverse does today (see docs/FEDERATION.md):
draft-cavage-http-signatures-12 (what Mastodon, GoToSocial, Akkoma... send; our primary
outbound scheme) and RFC 9421 HTTP Message Signatures with RFC 9530 Content-Digest
(Fedify-based servers, Mastodon >= 4.5 inbound).

Verification is split in two so the caller can fetch the key in between:
``parse_request_signature`` does every check that needs no key (syntax, algorithm,
strength, time window, body digest), then ``verify_signature`` does the cryptography.
Pure functions: no I/O, no aiohttp, no database. Every refusal is a ``SignatureError``
whose reason is safe to send back to the remote server.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Literal, Union
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from node.errors import SignatureError
from node.federation import httpsig_cavage as cavage
from node.federation import httpsig_rfc9421 as rfc9421
from node.federation.httpsig_rfc9421 import field_value

# Mastodon signed_request.rb: CLOCK_SKEW_MARGIN = 1 h, EXPIRATION_WINDOW_LIMIT = 12 h, and an
# unstated expiry of created + 5 min. Together: a Date-signed request is good for
# Date in [now - 65 min, now + 60 min].
AP_WINDOW_PAST = timedelta(minutes=65)
FUTURE_SKEW = timedelta(hours=1)
MAX_EXPIRES = timedelta(hours=12)
DEFAULT_EXPIRES = timedelta(minutes=5)
# Bigger RSA keys only make verification slower for us; nobody sends more than 4096.
MAX_RSA_BITS = 8192

PublicKey = Union[rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]

CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
RFC9421_ALGORITHMS = ("rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256", "ed25519")


@dataclass(frozen=True)
class SignatureInput:
    """A request signature as parsed and pre-checked, before any key is known."""

    scheme: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    created: datetime | None
    expires: datetime | None
    # Candidate signing strings/bases, tried in order (cavage: query in (request-target),
    # then without it; RFC 9421: @signature-params as received, then canonical).
    bases: tuple[bytes, ...] = field(repr=False)
    signature: bytes = field(repr=False)
    label: str | None = None


@dataclass(frozen=True)
class VerifiedSignature:
    """What a cryptographically checked signature vouches for."""

    scheme: str
    key_id: str
    covered: tuple[str, ...]
    created: datetime | None


# ---------------------------------------------------------------- keys and digests

def load_public_key(pem: str | bytes, *, min_rsa_bits: int = 2048) -> PublicKey:
    """Load an SPKI or PKCS#1 PEM public key (RSA >= min_rsa_bits, EC P-256 or Ed25519)."""
    data = pem.encode("utf-8", "replace") if isinstance(pem, str) else pem
    if not isinstance(data, bytes) or len(data) > 16 * 1024:
        raise SignatureError("public key is not a valid PEM")
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SignatureError("public key is not a valid PEM") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < min_rsa_bits:
            raise SignatureError(f"RSA key is shorter than {min_rsa_bits} bits")
        if key.key_size > MAX_RSA_BITS:
            raise SignatureError(f"RSA key is longer than {MAX_RSA_BITS} bits")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise SignatureError("only the P-256 elliptic curve is supported")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise SignatureError("unsupported public key type")


def body_digest(body: bytes) -> str:
    """The draft-cavage ``Digest`` header value: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` header value: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


_content_digest_of = content_digest  # for sign_rfc9421, whose keyword has the same name


class BodyDigests:
    """One body and both of its digest header values, computed once.

    A fan-out signs the same body for every inbox; hashing it once per activity
    instead of once per request is what this is for.
    """

    __slots__ = ("body", "digest", "content_digest")

    def __init__(self, body: bytes) -> None:
        encoded = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        self.body = body
        self.digest = "SHA-256=" + encoded                 # draft-cavage ``Digest``
        self.content_digest = "sha-256=:" + encoded + ":"  # RFC 9530 ``Content-Digest``


def _strict_b64(value: str, what: str) -> bytes:
    try:
        # validate=True refuses characters outside the alphabet and bad padding (Ruby strict_decode64).
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeError):
        raise SignatureError(f"{what} is not valid base64") from None


def _printable(text: str, limit: int = 80) -> str:
    """Remote-supplied text cut to printable ASCII, fit to echo back in a 401 body."""
    return "".join(char for char in text if " " <= char <= "~")[:limit]


def _check_sha256(expected: bytes, body: bytes, what: str) -> None:
    if len(expected) != 32:
        raise SignatureError(f"{what} sha-256 value is not 32 bytes")
    if not hmac.compare_digest(expected, hashlib.sha256(body).digest()):
        raise SignatureError(f"{what} does not match body")


def _check_digest_header(raw: str | None, body: bytes) -> None:
    # Mastodon verify_body_digest!: split on ",", then on the first "=", names compared
    # case-insensitively, only SHA-256 accepted.  ``raw``: the Digest header's value.
    if raw is None:
        raise SignatureError("digest header is missing")
    offered: dict[str, str] = {}
    for entry in raw.split(","):
        name, sep, value = entry.strip().partition("=")
        if not sep:
            raise SignatureError("digest header is malformed")
        offered.setdefault(name.strip().lower(), value.strip())
    if "sha-256" not in offered:
        names = _printable(", ".join(sorted(offered)))
        raise SignatureError(f"digest must use SHA-256 (offered: {names})")
    _check_sha256(_strict_b64(offered["sha-256"], "digest"), body, "digest")


def _check_content_digest(headers: Any, body: bytes) -> None:
    raw = field_value(headers, "content-digest")
    if raw is None:
        raise SignatureError("content-digest header is missing")
    digests = rfc9421.parse_dictionary(raw, "content-digest")
    member = digests.get("sha-256")
    if member is None:
        names = _printable(", ".join(sorted(digests)))
        raise SignatureError(f"content-digest must use sha-256 (offered: {names})")
    if not isinstance(member, rfc9421.http_sfv.Item) or not isinstance(member.value, bytes):
        raise SignatureError("content-digest sha-256 value is not a byte sequence")
    _check_sha256(member.value, body, "content-digest")


# ---------------------------------------------------------------- time window

def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(timezone.utc)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _timestamp(value: Any, what: str) -> datetime:
    if value is None:
        raise SignatureError(f"{what} is missing")
    try:
        number = float(value) if isinstance(value, str) else value
        if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
            raise ValueError(value)
        return datetime.fromtimestamp(number, timezone.utc)
    except (ValueError, TypeError, OverflowError, OSError):
        raise SignatureError(f"{what} is not a valid timestamp") from None


def _check_window(created: datetime, expires: datetime | None, now: datetime, *, from_date: bool) -> None:
    """Mastodon's window: created <= now + 1 h, and now <= min(expires, created + 12 h) + 1 h."""
    if created > now + FUTURE_SKEW:
        raise SignatureError("date is outside the accepted window" if from_date else "signature was created in the future")
    limit = created + DEFAULT_EXPIRES if expires is None else expires
    limit = min(limit, created + MAX_EXPIRES)
    if now > limit + FUTURE_SKEW:
        raise SignatureError("date is outside the accepted window" if from_date and expires is None else "signature has expired")


@functools.lru_cache(maxsize=256)
def _http_date(value: str) -> datetime:
    # Memoised: a Date header has one-second steps, so the requests arriving together share a
    # few values, and email.utils' parser took a third of the time of parsing a signature.
    # The answer depends on the text alone; refusals raise and are not kept.
    try:
        moment = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        raise SignatureError("date header is not a valid HTTP date") from None
    if moment is None:
        raise SignatureError("date header is not a valid HTTP date")
    return _utc(moment)


# ---------------------------------------------------------------- signing

def _sign(private_key: PrivateKey, alg: str, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        if alg == "rsa-pss-sha512":
            return private_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        der = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if alg == "hs2019":
            return der  # cavage ECDSA signatures are DER, as go-fed/httpsig sends them
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 9421 §3.3.4: raw r || s
    raise ValueError("private key must be RSA, EC P-256 or Ed25519")


def _merged(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    lowered = {name.lower() for name in extra}
    merged = {k: v for k, v in headers.items() if k.lower() not in lowered}
    merged.update(extra)
    return merged


def sign_cavage(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                private_key: PrivateKey, key_id: str, *, now: datetime | None = None,
                covered: Sequence[str] | None = None, digest: str | None = None) -> dict[str, str]:
    """Sign like Mastodon does; return Host, Date, Digest (with a body) and Signature to add.

    The returned values replace same-named entries of ``headers``. Default coverage:
    ``(request-target) host date`` plus ``digest content-type`` when there is a body
    (content-type only if ``headers`` has one). Never ``(created)``: Akkoma & co. reject it.
    ``digest`` is ``body_digest(body)`` when the caller has it already; it also stands
    for the body itself, which may then be left out (``None``), as a signing process does.
    """
    if digest is None and body is not None:
        digest = body_digest(body)
    parts = urlsplit(url)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    added = {"Host": rfc9421.authority(parts), "Date": format_datetime(_utc(now), usegmt=True)}
    if digest is not None:
        added["Digest"] = digest
    all_headers = _merged(headers, added)
    if covered is None:
        covered = ["(request-target)", "host", "date"]
        if digest is not None:
            covered.append("digest")
            if field_value(all_headers, "content-type") is not None:
                covered.append("content-type")
    names = tuple(name.lower() for name in covered)
    if "(created)" in names or "(expires)" in names:
        raise ValueError("sign_cavage never signs (created)/(expires): Akkoma and others reject them")
    try:
        text = cavage.signing_string(names, method=method, request_target=target,
                                     field=lambda name: field_value(all_headers, name), params={})
    except SignatureError as error:  # our own request is incomplete: a bug here, not the peer's fault
        raise ValueError(error.reason) from None
    algorithm = "rsa-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "hs2019"
    signature = base64.b64encode(_sign(private_key, algorithm, text.encode("utf-8", "surrogateescape")))
    added["Signature"] = cavage.format_signature_header([
        ("keyId", key_id), ("algorithm", algorithm), ("headers", " ".join(names)),
        ("signature", signature.decode("ascii")),
    ])
    return added


def sign_rfc9421(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 private_key: PrivateKey, key_id: str, *, now: datetime | None = None,
                 label: str = "sig1", components: Sequence[str] | None = None,
                 alg: str | None = None, include_alg: bool = True,
                 expires: timedelta | None = None, content_digest: str | None = None) -> dict[str, str]:
    """Sign with RFC 9421; return Signature-Input, Signature and (with a body) Content-Digest.

    Default components like Fedify: ``@method @target-uri @authority`` (+ ``content-digest``).
    ``alg`` defaults by key type (rsa-v1_5-sha256, ecdsa-p256-sha256, ed25519).
    ``content_digest`` is the body's Content-Digest value when the caller has it already;
    it also stands for the body, which may then be ``None``.
    """
    if content_digest is None and body is not None:
        content_digest = _content_digest_of(body)
    if alg is None:
        alg = ("rsa-v1_5-sha256" if isinstance(private_key, rsa.RSAPrivateKey)
               else "ed25519" if isinstance(private_key, ed25519.Ed25519PrivateKey)
               else "ecdsa-p256-sha256")
    if alg not in RFC9421_ALGORITHMS:
        raise ValueError(f"unsupported alg {alg!r}")
    added: dict[str, str] = {}
    if content_digest is not None:
        added["Content-Digest"] = content_digest
    if components is None:
        components = ["@method", "@target-uri", "@authority"] + (["content-digest"] if content_digest is not None else [])
    parsed = [rfc9421.parse_component(text) for text in components]
    if len(set(parsed)) != len(parsed):
        raise ValueError("a component is listed twice")
    created = int(_utc(now).timestamp())
    params: list[tuple[str, Any]] = [("created", created)]
    if expires is not None:
        params.append(("expires", created + int(expires.total_seconds())))
    params.append(("keyid", key_id))
    if include_alg:
        params.append(("alg", alg))
    params_text = rfc9421.serialize_signature_params(parsed, params)
    message = rfc9421.HttpMessage(method, url, _merged(headers, added))
    try:
        base = rfc9421.signature_base(parsed, message, params_text)
    except SignatureError as error:
        raise ValueError(error.reason) from None
    signature = _sign(private_key, alg, base.encode("utf-8", "surrogateescape"))
    added["Signature-Input"] = f"{label}={params_text}"
    added["Signature"] = f"{label}=:{base64.b64encode(signature).decode('ascii')}:"
    return added


# ---------------------------------------------------------------- parsing incoming requests

def parse_request_signature(method: str, target_uri: str, headers: Mapping[str, str] | Any,
                            body: bytes, *, now: datetime, require_strength: bool = True) -> SignatureInput:
    """Check everything about a request's signature that needs no key; raise SignatureError.

    ``target_uri`` is the URL as the sender addressed it (scheme + Host + raw path and query).
    RFC 9421 is used iff a Signature-Input header is present (as Mastodon decides), else cavage.
    With several RFC 9421 signatures only the first Signature-Input label is checked; the
    others are ignored (Mastodon accepts exactly one, Fedify sends one).
    """
    now = _utc(now)
    try:
        if field_value(headers, "signature-input") is not None:
            return _parse_rfc9421(method, target_uri, headers, body, now, require_strength)
        return _parse_cavage(method, target_uri, headers, body, now, require_strength)
    except SignatureError:
        raise
    except Exception:  # a parser bug must still answer 401, never 500
        raise SignatureError("signature is malformed") from None


def _parse_cavage(method: str, target_uri: str, headers: Any, body: bytes,
                  now: datetime, require_strength: bool) -> SignatureInput:
    # Each header is read once: the checks below and the signing string share the values.
    values: dict[str, str | None] = {}

    def field(name: str) -> str | None:
        if name not in values:
            values[name] = field_value(headers, name)
        return values[name]

    # Only the Signature header is read; Mastodon ignores "Authorization: Signature ...".
    raw = field("signature")
    if raw is None:
        raise SignatureError("request is not signed (no Signature header)")
    params = cavage.parse_signature_params(raw)
    key_id, signature_b64 = params.get("keyId"), params.get("signature")
    if not key_id:
        raise SignatureError("signature has no keyId")
    if not signature_b64:
        raise SignatureError("signature has no signature parameter")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported algorithm {algorithm[:40]!r} (use rsa-sha256 or hs2019)")
    covered = cavage.covered_headers(params, algorithm)
    for pseudo in ("(created)", "(expires)"):
        if pseudo in covered and algorithm != "hs2019":
            raise SignatureError(f"pseudo-header {pseudo} is not allowed with {algorithm}")
    signature = _strict_b64(signature_b64, "signature")

    if require_strength:
        # Mastodon verify_signature_strength!, in the same order.
        if "date" not in covered and "(created)" not in covered:
            raise SignatureError("signature must cover date or (created)")
        if "(request-target)" not in covered and "digest" not in covered:
            raise SignatureError("signature must cover (request-target) or digest")
        if method.upper() == "GET" and "host" not in covered:
            raise SignatureError("headers must cover host on GET")
        if method.upper() == "POST" and "digest" not in covered:
            raise SignatureError("headers must cover digest on POST")

    # The (created)/(expires) parameters count only when signed (unsigned, they could be
    # anything); otherwise the Date header dates the request.
    created = expires = None
    from_date = False
    if "(created)" in covered:
        created = _timestamp(params.get("created"), "created parameter")
    else:
        date = field("date")
        if date is not None:
            created, from_date = _http_date(date), True
    if "(expires)" in covered:
        expires = _timestamp(params.get("expires"), "expires parameter")
    if created is not None:
        _check_window(created, expires, now, from_date=from_date)
    if "digest" in covered:
        _check_digest_header(field("digest"), body)

    parts = urlsplit(target_uri)
    path = parts.path or "/"
    targets = [path + "?" + parts.query] if parts.query else [path]
    # Mastodon < 4.3 signed (request-target) without the query; Mastodon and GoToSocial
    # still accept that, so we try with the query first, then without.
    if parts.query and "(request-target)" in covered:
        targets.append(path)
    bases = tuple(
        cavage.signing_string(covered, method=method, request_target=target, field=field, params=params)
        .encode("utf-8", "surrogateescape")
        for target in targets
    )
    return SignatureInput("cavage", key_id, algorithm, covered, created, expires, bases, signature)


def _parse_rfc9421(method: str, target_uri: str, headers: Any, body: bytes,
                   now: datetime, require_strength: bool) -> SignatureInput:
    signature_header = field_value(headers, "signature")
    if signature_header is None:
        raise SignatureError("signature-input without a signature header")
    parsed = rfc9421.parse_signature_headers(field_value(headers, "signature-input") or "", signature_header)
    key_id = parsed.params.get("keyid")
    if not key_id:
        raise SignatureError("signature has no keyid parameter")
    if "created" not in parsed.params:
        raise SignatureError("signature has no created parameter")
    alg = parsed.params.get("alg")
    if alg is not None and alg not in RFC9421_ALGORITHMS:
        raise SignatureError(f"unsupported alg {alg[:40]!r}")
    covered = tuple(str(component) for component in parsed.components)
    # Built first so a missing or inapplicable component is reported before policy errors.
    message = rfc9421.HttpMessage(method, target_uri, headers)
    bases = tuple(
        rfc9421.signature_base(parsed.components, message, text).encode("utf-8", "surrogateescape")
        for text in parsed.params_texts
    )

    if require_strength:
        for needed in ("@method", "@target-uri"):
            if needed not in covered:
                raise SignatureError(f"signature must cover {needed}")
        if method.upper() == "POST" and "content-digest" not in covered:
            raise SignatureError("signature must cover content-digest on POST")

    created = _timestamp(parsed.params["created"], "created parameter")
    expires = _timestamp(parsed.params["expires"], "expires parameter") if "expires" in parsed.params else None
    _check_window(created, expires, now, from_date=False)
    if "content-digest" in covered:
        _check_content_digest(headers, body)

    return SignatureInput("rfc9421", key_id, alg, covered, created, expires, bases,
                          parsed.signature, label=parsed.label)


# ---------------------------------------------------------------- cryptographic check

def _verifier(sig: SignatureInput, key: PublicKey, key_alg: str | None):
    """Pick the primitive from the scheme, the declared algorithm and the key type."""
    alg = sig.algorithm
    if key_alg is not None and key_alg not in RFC9421_ALGORITHMS:
        raise ValueError(f"unknown key_alg {key_alg!r}")
    if key_alg is not None and sig.scheme == "rfc9421":
        if alg is not None and alg != key_alg:
            raise SignatureError(f"alg {alg[:40]!r} does not match the key")
        alg = key_alg
    is_rsa = isinstance(key, rsa.RSAPublicKey)
    is_ec = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    is_ed = isinstance(key, ed25519.Ed25519PublicKey)
    if sig.scheme == "rfc9421" and alg is None:
        # No alg parameter: RFC 9421 §3.3.7 lets the key decide.
        alg = "rsa-v1_5-sha256" if is_rsa else "ecdsa-p256-sha256" if is_ec else "ed25519" if is_ed else None
    if alg in ("rsa-sha256", "rsa-v1_5-sha256") or (alg == "hs2019" and is_rsa):
        if is_rsa:
            return lambda s, m: key.verify(s, m, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "rsa-pss-sha512":
        if is_rsa:
            return lambda s, m: key.verify(s, m, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
    elif alg in ("ed25519", "hs2019") and is_ed:
        return lambda s, m: key.verify(s, m)
    elif alg == "hs2019" and is_ec:
        return lambda s, m: key.verify(s, m, ec.ECDSA(hashes.SHA256()))
    elif alg == "ecdsa-p256-sha256" and is_ec:
        def verify_raw(s: bytes, m: bytes) -> None:
            if len(s) != 64:
                raise InvalidSignature()
            der = encode_dss_signature(int.from_bytes(s[:32], "big"), int.from_bytes(s[32:], "big"))
            key.verify(der, m, ec.ECDSA(hashes.SHA256()))
        return verify_raw
    raise SignatureError(f"key type does not match algorithm {alg}")


def verify_signature(sig: SignatureInput, public_key: PublicKey | str, *,
                     key_alg: str | None = None) -> VerifiedSignature:
    """Check the signature bytes against ``public_key``; raise SignatureError if none verifies.

    ``key_alg`` (RFC 9421 only) is an algorithm bound to the key out of band, for
    signatures without an ``alg`` parameter whose key type alone is ambiguous (RSA-PSS).
    """
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    verify = _verifier(sig, key, key_alg)
    for base in sig.bases:
        try:
            verify(sig.signature, base)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return VerifiedSignature(sig.scheme, sig.key_id, sig.covered, sig.created)
    raise SignatureError("signature does not verify")
