"""Published test vectors for node.federation.httpsig (draft-cavage-12 Appendix C, RFC 9421 Appendix B).

The values are copied here so the tests are self-contained; each block names where it comes from.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from node.errors import SignatureError
from node.federation import httpsig, httpsig_rfc9421
from node.federation.httpsig import (
    load_public_key,
    parse_request_signature,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)

# ---------------------------------------------------------------------------------------------
# draft-cavage-http-signatures-12 Appendix C, values as carried by go-fed/httpsig httpsig_test.go
# (BSD-3-Clause), Test_Verifying_HTTP_Messages_AppendixC. The spec sends them in an
# "Authorization: Signature ..." header; we put them, "Signature " prefix included, in the
# Signature header, which also exercises our tolerance of that bogus prefix.
# ---------------------------------------------------------------------------------------------
CAVAGE_KEY_ID = "Test"
CAVAGE_PRIVATE_KEY_PEM = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
CAVAGE_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""
CAVAGE_METHOD = "POST"
CAVAGE_URL = "http://example.com/foo?param=value&pet=dog"
CAVAGE_BODY = b'{"hello": "world"}'
CAVAGE_HEADERS = {
    "Host": "example.com",
    "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "Content-Type": "application/json",
    "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Length": "18",
}
CAVAGE_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=timezone.utc)
CAVAGE_SIGNATURES = {
    "C.1": 'Signature keyId="Test",algorithm="rsa-sha256",signature="SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25WqS+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM="',
    "C.2": 'Signature keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",signature="qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0="',
    "C.3": 'Signature keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date content-type digest content-length",signature="vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE="',
}
# Signing strings as printed in draft-cavage-12 Appendix C.2 and C.3 (C.1 signs only "date").
CAVAGE_SIGNING_STRINGS = {
    "C.1": "date: Sun, 05 Jan 2014 21:31:40 GMT",
    "C.2": (
        "(request-target): post /foo?param=value&pet=dog\n"
        "host: example.com\n"
        "date: Sun, 05 Jan 2014 21:31:40 GMT"
    ),
    "C.3": (
        "(request-target): post /foo?param=value&pet=dog\n"
        "host: example.com\n"
        "date: Sun, 05 Jan 2014 21:31:40 GMT\n"
        "content-type: application/json\n"
        "digest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\n"
        "content-length: 18"
    ),
}
CAVAGE_COVERED = {
    "C.1": ("date",),
    "C.2": ("(request-target)", "host", "date"),
    "C.3": ("(request-target)", "host", "date", "content-type", "digest", "content-length"),
}

# ---------------------------------------------------------------------------------------------
# RFC 9421 Appendix B, values as carried by pyauth/http-message-signatures test/ (Apache-2.0):
# test/test.py (request, response, Signature-Input and Signature values) and
# test/test-key-{rsa-pss,ed25519}.pem (public keys).
# ---------------------------------------------------------------------------------------------
RFC_METHOD = "POST"
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_HEADERS = {
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
}
RFC_NOW = datetime.fromtimestamp(1618884473, timezone.utc)

# pyauth test/test-key-rsa-pss.pem (RFC 9421 Appendix B.1.2 test-key-rsa-pss, public part)
RSA_PSS_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""
# pyauth test/test-key-ed25519.pem (RFC 9421 Appendix B.1.4 test-key-ed25519, public part)
ED25519_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
# RFC 9421 Appendix B.1.4 test-key-ed25519, private part (Ed25519 is deterministic, so we can
# reproduce the published B.2.6 signature byte for byte).
ED25519_PRIVATE_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
# RFC 9421 Appendix B.1.3 test-key-ecc-p256 (public and private parts).
P256_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----
"""
P256_PRIVATE_KEY_PEM = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49
AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM
4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END EC PRIVATE KEY-----
"""

# B.2.6 (ed25519, deterministic)
B26_INPUT = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'
B26_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
# B.2.1 (rsa-pss-sha512, no covered components, no alg parameter; signature randomized)
B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_SIGNATURE = (
    "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopem"
    "LJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG"
    "52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx"
    "2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6"
    "UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3"
    "+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:"
)
B21_BASE = '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
# B.2.4 (ecdsa-p256-sha256 over a RESPONSE; signature randomized). Response values from
# pyauth test/test.py setUp().
B24_INPUT = 'sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"'
B24_SIGNATURE = "sig-b24=:0Ry6HsvzS5VmA6HlfBYS/fYYeNs7fYuA7s0tAdxfUlPGv0CSVuwrrzBOjcCFHTxVRJ01wjvSzM2BetJauj8dsw==:"
B24_RESPONSE_STATUS = 200
B24_RESPONSE_HEADERS = {
    "Date": "Tue, 20 Apr 2021 02:07:56 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:JlEy2bfUz7WrWIjc1qV6KVLpdr/7L5/L4h7Sxvh6sNHpDQWDCL+GauFQWcZBvVDhiyOnAQsxzZFYwi0wDH+1pw==:",
    "Content-Length": "23",
}
B24_BASE = (
    '"@status": 200\n'
    '"content-type": application/json\n'
    '"content-digest": sha-512=:JlEy2bfUz7WrWIjc1qV6KVLpdr/7L5/L4h7Sxvh6sNHpDQWDCL+GauFQWcZBvVDhiyOnAQsxzZFYwi0wDH+1pw==:\n'
    '"content-length": 23\n'
    '"@signature-params": ("@status" "content-type" "content-digest" "content-length")'
    ';created=1618884473;keyid="test-key-ecc-p256"'
)


def _rfc_request(signature_input: str, signature: str) -> dict[str, str]:
    return {**RFC_HEADERS, "Signature-Input": signature_input, "Signature": signature}


def _flip_last_byte(signature_header: str) -> str:
    """Corrupt one byte of a ``label=:b64:`` or cavage signature value, keeping it well-formed."""
    label, _, rest = signature_header.partition("=:")
    raw = bytearray(base64.b64decode(rest.rstrip(":")))
    raw[-1] ^= 0x01
    return f"{label}=:{base64.b64encode(bytes(raw)).decode()}:"


# ------------------------------------------------------------------------------ cavage


@pytest.mark.parametrize("name", sorted(CAVAGE_SIGNATURES))
def test_cavage_appendix_c_verifies(name):
    """Each draft-cavage-12 Appendix C signature verifies with the 1024-bit test key."""
    key = load_public_key(CAVAGE_PUBLIC_KEY_PEM, min_rsa_bits=1024)
    headers = {**CAVAGE_HEADERS, "Signature": CAVAGE_SIGNATURES[name]}
    sig = parse_request_signature(CAVAGE_METHOD, CAVAGE_URL, headers, CAVAGE_BODY,
                                  now=CAVAGE_NOW, require_strength=False)
    assert sig.scheme == "cavage"
    assert sig.key_id == CAVAGE_KEY_ID
    assert sig.covered == CAVAGE_COVERED[name]
    assert sig.created == CAVAGE_NOW
    assert verify_signature(sig, key).key_id == CAVAGE_KEY_ID


@pytest.mark.parametrize("name", sorted(CAVAGE_SIGNATURES))
def test_cavage_appendix_c_signing_string(name):
    """The signing string we rebuild equals the one printed in Appendix C."""
    headers = {**CAVAGE_HEADERS, "Signature": CAVAGE_SIGNATURES[name]}
    sig = parse_request_signature(CAVAGE_METHOD, CAVAGE_URL, headers, CAVAGE_BODY,
                                  now=CAVAGE_NOW, require_strength=False)
    assert sig.bases[0].decode() == CAVAGE_SIGNING_STRINGS[name]


@pytest.mark.parametrize("name", sorted(CAVAGE_SIGNATURES))
def test_cavage_appendix_c_signing_reproduces_signature(name):
    """sign_cavage with the Appendix C private key reproduces the published (deterministic) signature."""
    private_key = load_pem_private_key(CAVAGE_PRIVATE_KEY_PEM.encode(), password=None)
    added = sign_cavage(CAVAGE_METHOD, CAVAGE_URL, CAVAGE_HEADERS, CAVAGE_BODY, private_key,
                        CAVAGE_KEY_ID, now=CAVAGE_NOW, covered=CAVAGE_COVERED[name])
    published = CAVAGE_SIGNATURES[name].split('signature="')[1].rstrip('"')
    assert added["Signature"].endswith(f'signature="{published}"')
    assert added["Host"] == CAVAGE_HEADERS["Host"]
    assert added["Date"] == CAVAGE_HEADERS["Date"]
    assert added["Digest"] == CAVAGE_HEADERS["Digest"]


@pytest.mark.parametrize("name", sorted(CAVAGE_SIGNATURES))
def test_cavage_appendix_c_tampered_signature_fails(name):
    """Appendix C with the Date header moved by one second no longer verifies."""
    key = load_public_key(CAVAGE_PUBLIC_KEY_PEM, min_rsa_bits=1024)
    headers = {**CAVAGE_HEADERS, "Signature": CAVAGE_SIGNATURES[name], "Date": "Sun, 05 Jan 2014 21:31:41 GMT"}
    sig = parse_request_signature(CAVAGE_METHOD, CAVAGE_URL, headers, CAVAGE_BODY,
                                  now=CAVAGE_NOW, require_strength=False)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(sig, key)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("C.1", "cover \\(request-target\\) or digest"), ("C.2", "cover digest on POST"), ("C.3", None)],
    ids=["C.1-date-only", "C.2-no-digest", "C.3-strong-enough"],
)
def test_cavage_appendix_c_strength_rules(name, reason):
    """With the strength rules on, only C.3 (which signs digest) is strong enough for a POST."""
    headers = {**CAVAGE_HEADERS, "Signature": CAVAGE_SIGNATURES[name]}
    if reason is None:
        parse_request_signature(CAVAGE_METHOD, CAVAGE_URL, headers, CAVAGE_BODY, now=CAVAGE_NOW)
    else:
        with pytest.raises(SignatureError, match=reason):
            parse_request_signature(CAVAGE_METHOD, CAVAGE_URL, headers, CAVAGE_BODY, now=CAVAGE_NOW)


def test_cavage_appendix_c_key_is_too_short_by_default():
    """The 1024-bit Appendix C key is refused unless min_rsa_bits is lowered."""
    with pytest.raises(SignatureError, match="shorter than 2048"):
        load_public_key(CAVAGE_PUBLIC_KEY_PEM)


# ------------------------------------------------------------------------------ RFC 9421


def test_rfc9421_b26_ed25519_verifies_and_base_matches():
    """RFC 9421 B.2.6 (ed25519) verifies and our signature base equals the published one."""
    sig = parse_request_signature(RFC_METHOD, RFC_URL, _rfc_request(B26_INPUT, B26_SIGNATURE),
                                  RFC_BODY, now=RFC_NOW, require_strength=False)
    assert sig.bases[0].decode() == B26_BASE
    assert sig.label == "sig-b26"
    assert sig.algorithm is None
    verified = verify_signature(sig, load_public_key(ED25519_PUBLIC_KEY_PEM))
    assert verified.key_id == "test-key-ed25519"
    assert verified.covered == ("date", "@method", "@path", "@authority", "content-type", "content-length")


def test_rfc9421_b26_signing_reproduces_published_signature():
    """sign_rfc9421 with the B.1.4 private key reproduces B.2.6's Signature-Input and Signature exactly."""
    private_key = load_pem_private_key(ED25519_PRIVATE_KEY_PEM.encode(), password=None)
    added = sign_rfc9421(RFC_METHOD, RFC_URL, RFC_HEADERS, RFC_BODY, private_key, "test-key-ed25519",
                         now=RFC_NOW, label="sig-b26", include_alg=False,
                         components=["date", "@method", "@path", "@authority", "content-type", "content-length"])
    assert added["Signature-Input"] == B26_INPUT
    assert added["Signature"] == B26_SIGNATURE


def test_rfc9421_b26_tampered_signature_fails():
    """B.2.6 with one signature bit flipped does not verify."""
    sig = parse_request_signature(RFC_METHOD, RFC_URL, _rfc_request(B26_INPUT, _flip_last_byte(B26_SIGNATURE)),
                                  RFC_BODY, now=RFC_NOW, require_strength=False)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(sig, load_public_key(ED25519_PUBLIC_KEY_PEM))


def test_rfc9421_b21_rsa_pss_verifies_when_key_alg_is_known():
    """B.2.1 (rsa-pss-sha512, no alg parameter) verifies when the key's algorithm is given out of band."""
    sig = parse_request_signature(RFC_METHOD, RFC_URL, _rfc_request(B21_INPUT, B21_SIGNATURE),
                                  RFC_BODY, now=RFC_NOW, require_strength=False)
    assert sig.bases == (B21_BASE.encode(),)
    key = load_public_key(RSA_PSS_PUBLIC_KEY_PEM)
    assert verify_signature(sig, key, key_alg="rsa-pss-sha512").key_id == "test-key-rsa-pss"
    # Without it an RSA key means rsa-v1_5-sha256 (what the fediverse uses), so B.2.1 fails.
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(sig, key)


def test_rfc9421_b21_tampered_signature_fails():
    """B.2.1 with one signature bit flipped does not verify."""
    sig = parse_request_signature(RFC_METHOD, RFC_URL, _rfc_request(B21_INPUT, _flip_last_byte(B21_SIGNATURE)),
                                  RFC_BODY, now=RFC_NOW, require_strength=False)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(sig, load_public_key(RSA_PSS_PUBLIC_KEY_PEM), key_alg="rsa-pss-sha512")


def test_rfc9421_rsa_pss_round_trip():
    """An rsa-pss-sha512 signature we make (randomized) verifies, mirroring B.2.1's shape."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    added = sign_rfc9421(RFC_METHOD, RFC_URL, RFC_HEADERS, RFC_BODY, private_key, "test-key-rsa-pss",
                         now=RFC_NOW, label="sig-b21", components=[], alg="rsa-pss-sha512")
    assert added["Signature-Input"] == 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";alg="rsa-pss-sha512"'
    headers = {**RFC_HEADERS, **added}
    sig = parse_request_signature(RFC_METHOD, RFC_URL, headers, RFC_BODY, now=RFC_NOW, require_strength=False)
    assert verify_signature(sig, private_key.public_key()).key_id == "test-key-rsa-pss"


def _b24_signature_input(signature: str) -> httpsig.SignatureInput:
    """Build a SignatureInput for the B.2.4 *response* from the lower-level RFC 9421 helpers."""
    parsed = httpsig_rfc9421.parse_signature_headers(B24_INPUT, signature)
    message = httpsig_rfc9421.HttpMessage(None, None, B24_RESPONSE_HEADERS, status=B24_RESPONSE_STATUS)
    base = httpsig_rfc9421.signature_base(parsed.components, message, parsed.params_texts[0])
    return httpsig.SignatureInput("rfc9421", parsed.params["keyid"], parsed.params.get("alg"),
                                  tuple(str(c) for c in parsed.components), None, None,
                                  (base.encode(),), parsed.signature, label=parsed.label)


def test_rfc9421_b24_ecdsa_response_verifies_and_base_matches():
    """B.2.4 (ecdsa-p256-sha256, raw r||s) verifies over the response base we build."""
    sig = _b24_signature_input(B24_SIGNATURE)
    assert sig.bases[0].decode() == B24_BASE
    assert len(sig.signature) == 64
    assert verify_signature(sig, load_public_key(P256_PUBLIC_KEY_PEM)).key_id == "test-key-ecc-p256"


def test_rfc9421_b24_tampered_signature_fails():
    """B.2.4 with one signature bit flipped does not verify."""
    sig = _b24_signature_input(_flip_last_byte(B24_SIGNATURE))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(sig, load_public_key(P256_PUBLIC_KEY_PEM))


def test_rfc9421_b24_status_is_refused_on_requests():
    """A request signature covering @status is refused (it only exists on responses)."""
    headers = _rfc_request(B24_INPUT, B24_SIGNATURE)
    with pytest.raises(SignatureError, match="@status"):
        parse_request_signature(RFC_METHOD, RFC_URL, headers, RFC_BODY, now=RFC_NOW, require_strength=False)


def test_rfc9421_ecdsa_round_trip_with_b13_key():
    """An ecdsa-p256-sha256 signature made with the B.1.3 key is raw r||s (64 bytes) and verifies."""
    private_key = load_pem_private_key(P256_PRIVATE_KEY_PEM.encode(), password=None)
    added = sign_rfc9421(RFC_METHOD, RFC_URL, RFC_HEADERS, RFC_BODY, private_key, "test-key-ecc-p256", now=RFC_NOW)
    assert 'alg="ecdsa-p256-sha256"' in added["Signature-Input"]
    sig = parse_request_signature(RFC_METHOD, RFC_URL, {**RFC_HEADERS, **added}, RFC_BODY, now=RFC_NOW)
    assert len(sig.signature) == 64
    assert verify_signature(sig, load_public_key(P256_PUBLIC_KEY_PEM)).key_id == "test-key-ecc-p256"
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(dataclasses.replace(sig, signature=sig.signature[:32] + bytes(32)),
                         load_public_key(P256_PUBLIC_KEY_PEM))


def test_rfc9421_b14_private_key_matches_published_public_key():
    """The B.1.4 Ed25519 private key we copied belongs to the published public key."""
    private_key = load_pem_private_key(ED25519_PRIVATE_KEY_PEM.encode(), password=None)
    public = load_public_key(ED25519_PUBLIC_KEY_PEM)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert private_key.public_key().public_bytes(*raw) == public.public_bytes(*raw)
