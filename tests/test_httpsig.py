"""Round-trip, tamper and hostile-input tests for node.federation.httpsig (cavage and RFC 9421)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from multidict import CIMultiDict

from node.errors import SignatureError
from node.federation import httpsig_cavage
from node.federation.httpsig import (
    AP_WINDOW_PAST,
    FUTURE_SKEW,
    MAX_EXPIRES,
    body_digest,
    content_digest,
    load_public_key,
    parse_request_signature,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
KEY_ID = "https://remote.example/users/alice#main-key"
INBOX = "https://forum.example/inbox"
ACTOR = "https://forum.example/users/bob?page=1"
ACTIVITY = b'{"type": "Create", "id": "https://remote.example/activities/1"}'
EMPTY_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

# One key of each kind per module: RSA generation is the slow part.
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
P256_KEY = ec.generate_private_key(ec.SECP256R1())
KEYS = {"rsa": RSA_KEY, "ed25519": ED_KEY, "p256": P256_KEY}
# A second key of each type, for "signed by someone else".
OTHER_KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048),
              ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())]


def _other_key(public_key):
    """Another public key of the same type as ``public_key``."""
    return next(k.public_key() for k in OTHER_KEYS if type(k.public_key()) is type(public_key))


@dataclasses.dataclass(frozen=True)
class Req:
    """A signed request as the receiving node sees it, plus the key and clock it checks with."""

    method: str
    target_uri: str
    headers: dict[str, str]
    body: bytes
    now: datetime
    public_key: object

    def with_headers(self, **changes: str | None) -> Req:
        """Copy with headers replaced (value) or removed (None); names use _ for -."""
        headers = dict(self.headers)
        for name, value in changes.items():
            name = name.replace("_", "-")
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            if value is not None:
                headers[name] = value
        return dataclasses.replace(self, headers=headers)


def check(req: Req, **kwargs) -> object:
    """Parse then verify, as the inbox will."""
    sig = parse_request_signature(req.method, req.target_uri, req.headers, req.body, now=req.now, **kwargs)
    return verify_signature(sig, req.public_key)


def signed(scheme: str, method: str, url: str, *, key: str = "rsa", body: bytes | None = None,
           sign_at: datetime = T0, headers: dict[str, str] | None = None, **options) -> Req:
    """Sign a request with sign_cavage / sign_rfc9421 and return what the receiver sees."""
    private_key = KEYS[key]
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/activity+json")
    signer = sign_cavage if scheme == "cavage" else sign_rfc9421
    added = signer(method, url, headers, body, private_key, KEY_ID, now=sign_at, **options)
    return Req(method, url, {**headers, **added}, body or b"", T0, private_key.public_key())


def _pem(public_key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, fmt).decode()


def _rsa_sign(text: str, key=RSA_KEY) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


# ------------------------------------------------------------------------------ accepted cases

ACCEPTED: dict[str, Callable[[], Req]] = {
    "cavage-rsa-post": lambda: signed("cavage", "POST", INBOX, body=ACTIVITY),
    "cavage-rsa-get": lambda: signed("cavage", "GET", ACTOR, headers={"Accept": "application/activity+json"}),
    "cavage-ed25519-hs2019-post": lambda: signed("cavage", "POST", INBOX, key="ed25519", body=ACTIVITY),
    "cavage-p256-hs2019-post": lambda: signed("cavage", "POST", INBOX, key="p256", body=ACTIVITY),
    "rfc9421-rsa-post": lambda: signed("rfc9421", "POST", INBOX, body=ACTIVITY),
    "rfc9421-rsa-get": lambda: signed("rfc9421", "GET", ACTOR),
    "rfc9421-ed25519-post": lambda: signed("rfc9421", "POST", INBOX, key="ed25519", body=ACTIVITY),
    "rfc9421-p256-post": lambda: signed("rfc9421", "POST", INBOX, key="p256", body=ACTIVITY),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_signed_request_verifies(case):
    """A request signed by our signer verifies with the signer's public key."""
    req = ACCEPTED[case]()
    verified = check(req)
    assert verified.key_id == KEY_ID
    assert verified.scheme == case.split("-")[0]
    assert verified.created == T0


def _move_host(req: Req) -> Req:
    target = req.target_uri.replace("forum.example", "evil.example")
    moved = dataclasses.replace(req, target_uri=target)
    return moved.with_headers(Host="evil.example") if "Host" in req.headers else moved


def _other_path(req: Req) -> Req:
    parts = urlsplit(req.target_uri)
    return dataclasses.replace(req, target_uri=urlunsplit(parts._replace(path=parts.path + "x")))


def _is_post(req: Req) -> bool:
    return req.method == "POST"


# name -> (applies to case?, tamper)
TAMPERS: dict[str, tuple[Callable[[Req], bool], Callable[[Req], Req]]] = {
    "body-changed": (_is_post, lambda r: dataclasses.replace(r, body=r.body.replace(b"Create", b"Delete"))),
    "date-66-min-old": (lambda r: True, lambda r: dataclasses.replace(r, now=T0 + timedelta(minutes=66))),
    "date-61-min-in-future": (lambda r: True, lambda r: dataclasses.replace(r, now=T0 - timedelta(minutes=61))),
    "wrong-path": (lambda r: True, _other_path),
    "wrong-method": (lambda r: True, lambda r: dataclasses.replace(r, method="PUT" if r.method == "POST" else "HEAD")),
    "wrong-host": (lambda r: True, _move_host),
    "digest-missing": (_is_post, lambda r: r.with_headers(Digest=None, Content_Digest=None)),
    "digest-sha512-only": (_is_post, lambda r: r.with_headers(**(
        {"Digest": "SHA-512=" + base64.b64encode(hashlib.sha512(r.body).digest()).decode()} if "Digest" in r.headers
        else {"Content-Digest": "sha-512=:" + base64.b64encode(hashlib.sha512(r.body).digest()).decode() + ":"}))),
    "digest-31-bytes": (_is_post, lambda r: r.with_headers(**(
        {"Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(r.body).digest()[:31]).decode()} if "Digest" in r.headers
        else {"Content-Digest": "sha-256=:" + base64.b64encode(hashlib.sha256(r.body).digest()[:31]).decode() + ":"}))),
    "signed-by-another-key": (lambda r: True, lambda r: dataclasses.replace(r, public_key=_other_key(r.public_key))),
    "signature-header-dropped": (lambda r: True, lambda r: r.with_headers(Signature=None)),
}


@pytest.mark.parametrize(
    ("case", "tamper"),
    [(c, t) for c in ACCEPTED for t, (applies, _) in TAMPERS.items() if applies(ACCEPTED[c]())],
)
def test_tampered_twin_is_rejected(case, tamper):
    """Each accepted request, changed in one way after signing, raises SignatureError."""
    req = TAMPERS[tamper][1](ACCEPTED[case]())
    with pytest.raises(SignatureError):
        check(req)


@pytest.mark.parametrize("case", list(ACCEPTED))
@pytest.mark.parametrize(
    "offset",
    [timedelta(minutes=64), -timedelta(minutes=59)],
    ids=["date-64-min-old", "date-59-min-in-future"],
)
def test_time_window_edges_are_accepted(case, offset):
    """Just inside the window (now - 65 min .. now + 60 min) still verifies."""
    req = dataclasses.replace(ACCEPTED[case](), now=T0 + offset)
    assert check(req).key_id == KEY_ID


def test_window_constants_match_mastodon():
    """The exported window constants are Mastodon's numbers."""
    assert (AP_WINDOW_PAST, FUTURE_SKEW, MAX_EXPIRES) == (
        timedelta(minutes=65), timedelta(hours=1), timedelta(hours=12))


# ------------------------------------------------------------------------------ specific refusals


def _cavage_header(covered: str, signing_string: str, *, algorithm: str = "rsa-sha256", extra: str = "",
                   key=RSA_KEY) -> str:
    return (f'keyId="{KEY_ID}",algorithm="{algorithm}",headers="{covered}",{extra}'
            f'signature="{_rsa_sign(signing_string, key)}"')


def _hs2019_with_created(created: int, expires: int | None, algorithm: str = "hs2019") -> Req:
    """A POST signed by hand over (request-target) (created) [(expires)] host digest."""
    covered = "(request-target) (created) " + ("(expires) " if expires is not None else "") + "host digest"
    params = {"created": str(created)} | ({"expires": str(expires)} if expires is not None else {})
    headers = {"Host": "forum.example", "Digest": body_digest(ACTIVITY)}
    text = httpsig_cavage.signing_string(covered.split(), method="POST", request_target="/inbox",
                                         field=lambda n: {k.lower(): v for k, v in headers.items()}.get(n),
                                         params=params)
    extra = "".join(f'{k}="{v}",' for k, v in params.items())
    headers["Signature"] = _cavage_header(covered, text, algorithm=algorithm, extra=extra)
    return Req("POST", INBOX, headers, ACTIVITY, T0, RSA_KEY.public_key())


REFUSED: dict[str, tuple[Callable[[], Req], str]] = {
    "cavage-digest-not-covered": (
        lambda: signed("cavage", "POST", INBOX, body=ACTIVITY, covered=["(request-target)", "host", "date"]),
        "cover digest on POST"),
    "cavage-get-without-host": (
        lambda: signed("cavage", "GET", ACTOR, covered=["(request-target)", "date"]),
        "cover host on GET"),
    "cavage-no-date-nor-created": (
        lambda: signed("cavage", "POST", INBOX, body=ACTIVITY, covered=["(request-target)", "host", "digest"]),
        "cover date or \\(created\\)"),
    "cavage-neither-target-nor-digest": (
        lambda: signed("cavage", "GET", ACTOR, covered=["host", "date"]),
        "cover \\(request-target\\) or digest"),
    "cavage-created-with-rsa-sha256": (
        lambda: _hs2019_with_created(int(T0.timestamp()), None, algorithm="rsa-sha256"),
        "\\(created\\) is not allowed with rsa-sha256"),
    "cavage-unknown-algorithm": (
        lambda: signed("cavage", "GET", ACTOR).with_headers(
            Signature=signed("cavage", "GET", ACTOR).headers["Signature"].replace("rsa-sha256", "rsa-sha512")),
        "unsupported algorithm 'rsa-sha512'"),
    "cavage-hmac-algorithm": (
        lambda: signed("cavage", "GET", ACTOR).with_headers(
            Signature=signed("cavage", "GET", ACTOR).headers["Signature"].replace("rsa-sha256", "hmac-sha256")),
        "unsupported algorithm"),
    "cavage-digest-wrong-value": (
        lambda: signed("cavage", "POST", INBOX, body=ACTIVITY).with_headers(Digest=body_digest(b"other")),
        "digest does not match body"),
    "cavage-digest-not-base64": (
        lambda: signed("cavage", "POST", INBOX, body=ACTIVITY).with_headers(Digest="SHA-256=***"),
        "not valid base64"),
    "cavage-date-unparsable": (
        lambda: signed("cavage", "GET", ACTOR).with_headers(Date="yesterday at noon"),
        "not a valid HTTP date"),
    "cavage-signed-header-missing": (
        lambda: signed("cavage", "GET", ACTOR, headers={"Accept": "x"}, covered=["(request-target)", "host", "date", "accept"]).with_headers(Accept=None),
        "signed header 'accept' is missing"),
    "cavage-authorization-only": (
        lambda: (lambda r: r.with_headers(Signature=None, Authorization="Signature " + r.headers["Signature"]))(
            signed("cavage", "GET", ACTOR)),
        "not signed"),
    "rfc9421-without-target-uri": (
        lambda: signed("rfc9421", "POST", INBOX, body=ACTIVITY, components=["@method", "@authority", "content-digest"]),
        "must cover @target-uri"),
    "rfc9421-without-method": (
        lambda: signed("rfc9421", "GET", ACTOR, components=["@target-uri"]),
        "must cover @method"),
    "rfc9421-post-without-content-digest": (
        lambda: signed("rfc9421", "POST", INBOX, body=ACTIVITY, components=["@method", "@target-uri"]),
        "cover content-digest on POST"),
    "rfc9421-content-digest-wrong-value": (
        lambda: signed("rfc9421", "POST", INBOX, body=ACTIVITY).with_headers(Content_Digest=content_digest(b"x")),
        "content-digest does not match body"),
    "rfc9421-unknown-alg": (
        lambda: (lambda r: r.with_headers(**{"Signature-Input": r.headers["Signature-Input"].replace("rsa-v1_5-sha256", "hmac-sha256")}))(
            signed("rfc9421", "GET", ACTOR)),
        "unsupported alg 'hmac-sha256'"),
    "rfc9421-alg-not-matching-key": (
        lambda: dataclasses.replace(signed("rfc9421", "GET", ACTOR), public_key=ED_KEY.public_key()),
        "key type does not match"),
    "cavage-rsa-sha256-with-ed25519-key": (
        lambda: dataclasses.replace(signed("cavage", "GET", ACTOR), public_key=ED_KEY.public_key()),
        "key type does not match"),
    "rfc9421-no-created": (
        lambda: (lambda r: r.with_headers(**{"Signature-Input": r.headers["Signature-Input"].replace(
            f";created={int(T0.timestamp())}", "")}))(signed("rfc9421", "GET", ACTOR)),
        "no created parameter"),
    "rfc9421-query-dropped-by-sender": (
        # RFC 9421 has no "without the query" fallback: @target-uri is the whole URI.
        lambda: dataclasses.replace(signed("rfc9421", "GET", ACTOR.split("?")[0]), target_uri=ACTOR),
        "does not verify"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_with_specific_reason(case):
    """Each weak or malformed signature is refused with a reason naming the problem."""
    build, reason = REFUSED[case]
    with pytest.raises(SignatureError, match=reason):
        check(build())


# ------------------------------------------------------------------------------ expires


@pytest.mark.parametrize(
    ("expires_after", "checked_after", "ok"),
    [
        (timedelta(minutes=10), timedelta(minutes=69), True),
        (timedelta(minutes=10), timedelta(minutes=71), False),
        (timedelta(hours=24), timedelta(hours=12, minutes=59), True),
        (timedelta(hours=24), timedelta(hours=13, minutes=1), False),
    ],
    ids=["expires-10min-checked-69min-ok", "expires-10min-checked-71min-expired",
         "expires-24h-capped-checked-12h59-ok", "expires-24h-capped-checked-13h01-expired"],
)
@pytest.mark.parametrize("scheme", ["cavage-hs2019", "rfc9421"])
def test_expires_is_honoured_and_capped_at_12_hours(scheme, expires_after, checked_after, ok):
    """An explicit expires extends the window (plus 1 h skew) but never beyond created + 12 h."""
    created = int(T0.timestamp())
    if scheme == "rfc9421":
        req = signed("rfc9421", "POST", INBOX, body=ACTIVITY, expires=expires_after)
    else:
        req = _hs2019_with_created(created, created + int(expires_after.total_seconds()))
    req = dataclasses.replace(req, now=T0 + checked_after)
    if ok:
        assert check(req).created == T0
    else:
        with pytest.raises(SignatureError, match="expired"):
            check(req)


def test_created_in_the_future_is_refused():
    """A (created) more than an hour ahead is refused."""
    req = _hs2019_with_created(int((T0 + timedelta(minutes=61)).timestamp()), None)
    with pytest.raises(SignatureError, match="future"):
        check(req)


def test_hs2019_with_signed_created_verifies():
    """hs2019 with (created) instead of Date (the draft's default) verifies."""
    assert check(_hs2019_with_created(int(T0.timestamp()), None)).created == T0


# ------------------------------------------------------------------------------ query fallback


@pytest.mark.parametrize(
    "signed_url",
    [ACTOR, ACTOR.split("?")[0]],
    ids=["signed-with-query", "signed-without-query-old-mastodon"],
)
def test_cavage_request_target_query_fallback(signed_url):
    """A cavage GET to a URL with a query verifies whether the sender signed the query or not."""
    req = dataclasses.replace(signed("cavage", "GET", signed_url), target_uri=ACTOR)
    assert check(req).key_id == KEY_ID


def test_cavage_query_fallback_does_not_accept_another_query():
    """The fallback drops the query; it never accepts a different one."""
    req = dataclasses.replace(signed("cavage", "GET", ACTOR), target_uri=ACTOR.replace("page=1", "page=2"))
    with pytest.raises(SignatureError, match="does not verify"):
        check(req)


# ------------------------------------------------------------------------------ header handling


@pytest.mark.parametrize("prefix", ["Signature ", "signature ", "  Signature   "], ids=["Signature", "lowercase", "extra-spaces"])
def test_bogus_signature_prefix_is_tolerated(prefix):
    """A leading "Signature " in the Signature header (old node http-signature) is ignored."""
    req = signed("cavage", "POST", INBOX, body=ACTIVITY)
    req = req.with_headers(Signature=prefix + req.headers["Signature"])
    assert check(req).key_id == KEY_ID


def test_multi_valued_header_is_joined_with_comma_space():
    """A covered header sent on two lines is verified as "a, b" (multidict input)."""
    req = signed("cavage", "GET", ACTOR, headers={"Accept": "application/activity+json, application/ld+json"},
                 covered=["(request-target)", "host", "date", "accept"])
    multi = CIMultiDict((k, v) for k, v in req.headers.items() if k != "Accept")
    multi.add("Accept", "application/activity+json")
    multi.add("accept", "application/ld+json")
    sig = parse_request_signature("GET", ACTOR, multi, b"", now=T0)
    assert verify_signature(sig, RSA_KEY.public_key()).covered == ("(request-target)", "host", "date", "accept")


def test_header_names_are_case_insensitive():
    """Lowercase header names (as some proxies send them) verify the same."""
    req = signed("cavage", "POST", INBOX, body=ACTIVITY)
    lowered = dataclasses.replace(req, headers={k.lower(): v for k, v in req.headers.items()})
    assert check(lowered).key_id == KEY_ID


def test_rfc9421_is_chosen_when_signature_input_present():
    """With Signature-Input present the RFC 9421 path is used, even if a cavage signature is also there."""
    req = signed("rfc9421", "POST", INBOX, body=ACTIVITY)
    sig = parse_request_signature(req.method, req.target_uri, req.headers, req.body, now=T0)
    assert sig.scheme == "rfc9421" and sig.label == "sig1"


def test_rfc9421_only_first_label_is_used():
    """With several signatures, the first Signature-Input label decides (a good second one does not help)."""
    good = signed("rfc9421", "GET", ACTOR, label="sig2")
    bogus_input = 'sig1=("@method" "@target-uri");created=1;keyid="x"'
    headers = good.with_headers(**{
        "Signature-Input": f'{bogus_input}, {good.headers["Signature-Input"]}',
        "Signature": f'sig1=:AAAA:, {good.headers["Signature"]}',
    }).headers
    with pytest.raises(SignatureError):
        parse_request_signature("GET", ACTOR, headers, b"", now=T0)
    swapped = good.with_headers(**{
        "Signature-Input": f'{good.headers["Signature-Input"]}, {bogus_input}',
        "Signature": f'{good.headers["Signature"]}, sig1=:AAAA:',
    })
    assert check(swapped).key_id == KEY_ID


def test_rfc9421_query_param_component_round_trip():
    """Derived components @scheme @path @query @request-target and @query-param verify."""
    url = "https://forum.example/search?q=caf%C3%A9+au+lait&page=2"
    req = signed("rfc9421", "GET", url, components=[
        "@method", "@target-uri", "@scheme", "@path", "@query", "@request-target", '@query-param;name="q"'])
    assert check(req).covered[-1] == '@query-param;name="q"'
    changed = dataclasses.replace(req, target_uri=url.replace("lait", "the"))
    with pytest.raises(SignatureError):
        check(changed)


def test_rfc9421_repeated_query_param_is_refused():
    """A @query-param whose name occurs twice in the query is refused (RFC 9421 §2.2.8)."""
    req = signed("rfc9421", "GET", "https://forum.example/s?a=1&b=2", components=['@query-param;name="a"'])
    req = dataclasses.replace(req, target_uri="https://forum.example/s?a=1&a=2")
    with pytest.raises(SignatureError, match="more than once"):
        check(req, require_strength=False)


@pytest.mark.parametrize("signed_text", ["as-sent", "canonical"])
def test_rfc9421_signature_params_as_sent_or_canonical(signed_text):
    """A non-canonical Signature-Input verifies whether the sender signed it as sent or re-serialized."""
    sent = f'( "@method"   "@target-uri" );created={int(T0.timestamp())};keyid="{KEY_ID}"'
    canonical = f'("@method" "@target-uri");created={int(T0.timestamp())};keyid="{KEY_ID}"'
    params = sent if signed_text == "as-sent" else canonical
    base = f'"@method": GET\n"@target-uri": {ACTOR}\n"@signature-params": {params}'
    signature = base64.b64encode(RSA_KEY.sign(base.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {"Signature-Input": f"sig1={sent}", "Signature": f"sig1=:{signature}:"}
    assert check(Req("GET", ACTOR, headers, b"", T0, RSA_KEY.public_key())).key_id == KEY_ID


@pytest.mark.parametrize(
    ("scheme", "options"),
    [("cavage", {"covered": ["(request-target)", "host", "date", "x-missing"]}),
     ("cavage", {"covered": ["(request-target)", "(created)", "host"]}),
     ("rfc9421", {"components": ["@method", "x-missing"]}),
     ("rfc9421", {"components": ["@method", "@method"]})],
    ids=["cavage-missing-header", "cavage-created", "rfc9421-missing-header", "rfc9421-duplicate"],
)
def test_signing_an_incomplete_request_is_a_value_error(scheme, options):
    """Asking the signer to cover something absent (or (created)) is our bug: ValueError, not SignatureError."""
    with pytest.raises(ValueError):
        signed(scheme, "GET", ACTOR, **options)


# ------------------------------------------------------------------------------ signer output


def test_sign_cavage_post_headers_match_mastodon_shape():
    """sign_cavage on a POST adds Host, Date, Digest and signs (request-target) host date digest content-type."""
    added = sign_cavage("POST", "https://forum.example:443/inbox", {"Content-Type": "application/activity+json"},
                        ACTIVITY, RSA_KEY, KEY_ID, now=T0)
    assert added["Host"] == "forum.example"
    assert added["Date"] == "Sun, 01 Mar 2026 12:00:00 GMT"
    assert added["Digest"] == body_digest(ACTIVITY)
    assert added["Signature"].startswith(
        f'keyId="{KEY_ID}",algorithm="rsa-sha256",headers="(request-target) host date digest content-type",signature="')


def test_sign_cavage_get_headers():
    """sign_cavage on a GET signs (request-target) host date and adds no Digest."""
    added = sign_cavage("GET", ACTOR, {}, None, RSA_KEY, KEY_ID, now=T0)
    assert "Digest" not in added
    assert 'headers="(request-target) host date"' in added["Signature"]
    assert "(created)" not in added["Signature"]


def test_sign_rfc9421_defaults_like_fedify():
    """sign_rfc9421 covers @method @target-uri @authority content-digest with created, keyid, alg."""
    added = sign_rfc9421("POST", INBOX, {}, ACTIVITY, RSA_KEY, KEY_ID, now=T0)
    assert added["Content-Digest"] == content_digest(ACTIVITY)
    assert added["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "@authority" "content-digest");created={int(T0.timestamp())}'
        f';keyid="{KEY_ID}";alg="rsa-v1_5-sha256"')
    assert added["Signature"].startswith("sig1=:") and added["Signature"].endswith(":")


@pytest.mark.parametrize(
    ("function", "expected"),
    [(body_digest, "SHA-256=" + EMPTY_SHA256), (content_digest, f"sha-256=:{EMPTY_SHA256}:")],
    ids=["Digest", "Content-Digest"],
)
def test_digest_of_empty_body(function, expected):
    """The digest of an empty body is the SHA-256 of the empty string."""
    assert function(b"") == expected


# ------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    "make_pem",
    [
        lambda: _pem(RSA_KEY.public_key()),
        lambda: _pem(RSA_KEY.public_key(), serialization.PublicFormat.PKCS1),
        lambda: _pem(P256_KEY.public_key()),
        lambda: _pem(ED_KEY.public_key()),
        lambda: "\n  " + _pem(RSA_KEY.public_key()).replace("\n", "\r\n") + "\n",
    ],
    ids=["rsa-spki", "rsa-pkcs1", "p256", "ed25519", "crlf-and-whitespace"],
)
def test_load_public_key_accepts(make_pem):
    """SPKI and PKCS#1 RSA, P-256 and Ed25519 public keys load."""
    assert load_public_key(make_pem()) is not None


@pytest.mark.parametrize(
    ("make_pem", "reason"),
    [
        (lambda: "", "not a valid PEM"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----", "not a valid PEM"),
        (lambda: "\x00\xff" * 50, "not a valid PEM"),
        (lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()), "shorter than 2048"),
        (lambda: _pem(ec.generate_private_key(ec.SECP384R1()).public_key()), "P-256"),
        (lambda: RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode(), "not a valid PEM"),
        (lambda: "A" * 100_000, "not a valid PEM"),
    ],
    ids=["empty", "bad-base64", "binary-junk", "rsa-1024", "p384", "private-key", "huge"],
)
def test_load_public_key_refuses(make_pem, reason):
    """Junk, short RSA, other curves and private keys raise SignatureError."""
    with pytest.raises(SignatureError, match=reason):
        load_public_key(make_pem())


def test_verify_accepts_pem_string():
    """verify_signature also takes the PEM text straight from an actor document."""
    req = signed("cavage", "GET", ACTOR)
    sig = parse_request_signature(req.method, req.target_uri, req.headers, req.body, now=T0)
    assert verify_signature(sig, _pem(RSA_KEY.public_key())).key_id == KEY_ID


# ------------------------------------------------------------------------------ hostile input


C = int(T0.timestamp())
SI = 'sig1=("content-digest")'  # covers a header present in every garbage request below


def _garbage_cases() -> dict[str, tuple[dict[str, str], str]]:
    base = {"Host": "forum.example", "Date": "Sun, 01 Mar 2026 12:00:00 GMT", "Digest": body_digest(ACTIVITY),
            "Content-Digest": content_digest(ACTIVITY)}
    rng = random.Random(9421)
    random_text = bytes(rng.randrange(256) for _ in range(300)).decode("latin-1")
    printable_text = "".join(chr(rng.randrange(32, 256)) for _ in range(300))
    sig = "sig1=:AA==:"
    cases = {
        "cavage-empty": ({"Signature": ""}, "empty"),
        "cavage-only-prefix": ({"Signature": "Signature "}, "has no value"),
        "cavage-random-bytes": ({"Signature": random_text}, "line break"),
        "cavage-random-printable": ({"Signature": printable_text}, "malformed|no value"),
        "cavage-unbalanced-quotes": ({"Signature": 'keyId="abc,signature="xyz'}, "malformed"),
        "cavage-unterminated-quote": ({"Signature": 'keyId="abc'}, "unbalanced quotes"),
        "cavage-trailing-backslash": ({"Signature": 'keyId="abc\\'}, "unbalanced quotes"),
        "cavage-no-value": ({"Signature": "keyId"}, "no value"),
        "cavage-empty-value": ({"Signature": 'keyId=,signature="AA=="'}, "malformed"),
        "cavage-trailing-comma": ({"Signature": 'keyId="a",signature="AA==",'}, "malformed"),
        "cavage-repeated-param": ({"Signature": 'keyId="a",keyId="b",signature="AA=="'}, "repeated"),
        "cavage-no-keyid": ({"Signature": 'signature="AA=="'}, "no keyId"),
        "cavage-no-signature": ({"Signature": 'keyId="a"'}, "no signature"),
        "cavage-signature-not-base64": ({"Signature": 'keyId="a",headers="date",signature="!!!"'}, "not valid base64"),
        "cavage-signature-bad-padding": ({"Signature": 'keyId="a",headers="date",signature="AAA"'}, "not valid base64"),
        "cavage-empty-headers": ({"Signature": 'keyId="a",headers="",signature="AA=="'}, "headers parameter is empty"),
        "cavage-unknown-pseudo": ({"Signature": 'keyId="a",headers="(foo) date",signature="AA=="'}, "unknown pseudo-header"),
        "cavage-created-not-number": ({"Signature": f'keyId="a",headers="(created)",created="soon",signature="AA=="'}, "not a valid timestamp"),
        "cavage-created-huge": ({"Signature": 'keyId="a",headers="(created)",created="99999999999999999",signature="AA=="'}, "not a valid timestamp"),
        "cavage-created-missing": ({"Signature": 'keyId="a",algorithm="hs2019",signature="AA=="'}, "created parameter is missing"),
        "cavage-huge": ({"Signature": 'keyId="' + "a" * 20_000 + '",signature="AA=="'}, "too long"),
        "cavage-newline-in-header": ({"Signature": 'keyId="a",headers="host",signature="AA=="', "Host": "a\nb"}, "line break"),
        "rfc9421-empty-input": ({"Signature-Input": "", "Signature": sig}, "not a valid structured dictionary"),
        "rfc9421-random-bytes": ({"Signature-Input": random_text, "Signature": random_text}, "line break"),
        "rfc9421-random-printable": ({"Signature-Input": printable_text, "Signature": sig}, "not a valid structured dictionary"),
        "rfc9421-unbalanced-quotes": ({"Signature-Input": 'sig1=("@method);created=1', "Signature": sig}, "not a valid structured dictionary"),
        "rfc9421-no-signature-header": ({"Signature-Input": f'{SI};created={C};keyid="a"'}, "without a signature header"),
        "rfc9421-label-mismatch": ({"Signature-Input": f'{SI};created={C};keyid="a"', "Signature": "sig2=:AA==:"}, "no 'sig1' member"),
        "rfc9421-signature-not-bytes": ({"Signature-Input": f'{SI};created={C};keyid="a"', "Signature": 'sig1="AA=="'}, "not a byte sequence"),
        "rfc9421-item-not-list": ({"Signature-Input": f'sig1="date";created={C};keyid="a"', "Signature": sig}, "not an inner list"),
        "rfc9421-token-components": ({"Signature-Input": f'sig1=(date);created={C};keyid="a"', "Signature": sig}, "must be strings"),
        "rfc9421-uppercase-component": ({"Signature-Input": f'sig1=("Date");created={C};keyid="a"', "Signature": sig}, "lowercase"),
        "rfc9421-duplicate-component": ({"Signature-Input": f'sig1=("date" "date");created={C};keyid="a"', "Signature": sig}, "covered twice"),
        "rfc9421-unknown-derived": ({"Signature-Input": f'sig1=("@foo");created={C};keyid="a"', "Signature": sig}, "unknown derived"),
        "rfc9421-sf-param": ({"Signature-Input": f'sig1=("date";sf);created={C};keyid="a"', "Signature": sig}, "not supported"),
        "rfc9421-query-param-no-name": ({"Signature-Input": f'sig1=("@query-param");created={C};keyid="a"', "Signature": sig}, "needs a name"),
        "rfc9421-query-param-absent": ({"Signature-Input": f'sig1=("@query-param";name="x");created={C};keyid="a"', "Signature": sig}, "'x' is missing"),
        "rfc9421-missing-header": ({"Signature-Input": f'sig1=("x-nope");created={C};keyid="a"', "Signature": sig}, "'x-nope' is missing"),
        "rfc9421-created-string": ({"Signature-Input": f'{SI};created="{C}";keyid="a"', "Signature": sig}, "wrong type"),
        "rfc9421-created-huge": ({"Signature-Input": f'{SI};created=999999999999999;keyid="a"', "Signature": sig}, "not a valid timestamp"),
        "rfc9421-created-negative": ({"Signature-Input": f'{SI};created=-999999999999999;keyid="a"', "Signature": sig}, "not a valid timestamp"),
        "rfc9421-keyid-token": ({"Signature-Input": f'{SI};created={C};keyid=a', "Signature": sig}, "wrong type"),
        "rfc9421-no-keyid": ({"Signature-Input": f'{SI};created={C}', "Signature": sig}, "no keyid"),
        "rfc9421-empty-signature": ({"Signature-Input": f'{SI};created={C};keyid="a"', "Signature": "sig1=::"}, "signature is empty"),
        "rfc9421-non-ascii": ({"Signature-Input": f'sig1=("dätë");created={C};keyid="a"', "Signature": sig}, "not a valid structured dictionary"),
        "rfc9421-huge": ({"Signature-Input": "sig1=(" + '"a" ' * 6000 + ")", "Signature": sig}, "too long"),
        "content-digest-garbage": ({"Signature-Input": f'{SI};created={C};keyid="a"', "Signature": sig,
                                    "Content-Digest": "sha-256=:::"}, "not a valid structured dictionary"),
        "content-digest-token": ({"Signature-Input": f'{SI};created={C};keyid="a"', "Signature": sig,
                                  "Content-Digest": "sha-256=abc"}, "not a byte sequence"),
    }
    return {name: ({**base, **headers}, reason) for name, (headers, reason) in cases.items()}


GARBAGE = _garbage_cases()


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_headers_raise_signature_error(case):
    """Malformed or hostile signature headers raise SignatureError naming the problem, never another exception."""
    headers, reason = GARBAGE[case]
    with pytest.raises(SignatureError, match=reason):
        parse_request_signature("POST", INBOX, headers, ACTIVITY, now=T0, require_strength=False)
    with pytest.raises(SignatureError):
        parse_request_signature("POST", INBOX, headers, ACTIVITY, now=T0)


@pytest.mark.parametrize("header", ["Signature", "Signature-Input", "Digest", "Content-Digest", "Date"])
def test_fuzzed_headers_never_crash(header):
    """Random mutations of a valid signed request only ever raise SignatureError."""
    rng = random.Random(header)
    scheme = "rfc9421" if header in ("Signature-Input", "Content-Digest") else "cavage"
    req = signed(scheme, "POST", INBOX, body=ACTIVITY)
    original = req.headers.get(header, "")
    alphabet = '"=,;:() \\\t\x00\x7fé' + "abcAZ019+/@-*"
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(300):
        chars = list(original)
        for _ in range(rng.randrange(1, 6)):
            pos = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5 and chars:
                del chars[min(pos, len(chars) - 1)]
            else:
                chars.insert(pos, rng.choice(alphabet))
        mutated = req.with_headers(**{header.replace("-", "_"): "".join(chars)})
        try:
            check(mutated)
            outcomes["accepted"] += 1
        except SignatureError:  # any other exception fails the test
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0, "the mutations must actually be exercised"
    assert outcomes["accepted"] + outcomes["refused"] == 300


def _params_or_refusal(read, text):
    try:
        return read(text)
    except SignatureError as error:
        return ("refused", error.reason)


def test_plain_signature_headers_read_in_one_match_give_what_the_general_reader_gives():
    """The usual ``name="value",…`` shape is read by two regular expressions; on random headers near
    that shape (spaces, repeats, escapes, bare values, line breaks) the parameters, or the refusal,
    are those of the general reader."""
    rng = random.Random(9421)
    names = ["keyId", "algorithm", "headers", "signature", "created", "x", "key-id", "a!b"]
    pieces = ['"', "\\", ",", "=", " ", "\t", "\r", "\n", "\x00", "é", "a", "Z", "0", "/", "+", "#", "(", ")"]
    plain = 0
    for _ in range(5000):
        pairs = []
        for _ in range(rng.randrange(1, 6)):
            value = "".join(rng.choice(pieces) if rng.random() < 0.15 else rng.choice("abcXYZ019+/=#:()- ")
                            for _ in range(rng.randrange(0, 20)))
            quoted = rng.random() < 0.9
            pairs.append(f'{rng.choice(names)}{rng.choice(["=", "=", "=", " =", "= "])}'
                         + (f'"{value}"' if quoted else value.replace(" ", "")))
        text = rng.choice([",", ",", ", ", " ,", ",\t"]).join(pairs)
        if rng.random() < 0.05:
            text = "Signature " + text
        stripped = httpsig_cavage.strip_bogus_prefix(text)
        expected = _params_or_refusal(httpsig_cavage._parse_params, stripped) if stripped else None
        if expected is None:
            continue
        assert _params_or_refusal(httpsig_cavage.parse_signature_params, text) == expected, text
        plain += bool(httpsig_cavage._PLAIN_PARAMS.fullmatch(stripped))
    assert plain > 500  # the one-match reader was exercised, not only the general one
