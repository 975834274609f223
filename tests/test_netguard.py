"""Address policy (SSRF guard) and host/origin normalisation (R10)."""

from __future__ import annotations

import random

import pytest

from node.errors import InvalidDocument
from node.federation import netguard
from node.federation.netguard import (InvalidURL, canonical_url, host_of, is_numeric_host, is_public_address,
                                      normalize_host, same_origin, same_url)

BLOCKED = [
    # IPv4 special-purpose ranges, one or more addresses each
    "0.0.0.0", "0.1.2.3",
    "10.0.0.1", "10.255.255.255",
    "100.64.0.1", "100.127.255.254",
    "127.0.0.1", "127.255.255.254",
    "169.254.169.254", "169.254.0.1",
    "172.16.0.1", "172.31.255.255",
    "192.0.0.1", "192.0.0.170",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.0.1", "192.168.255.255",
    "198.18.0.1", "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255",
    # IPv6
    "::", "::1", "::2", "::a00:1",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
    "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1", "64:ff9b:1:ffff::8.8.8.8",
    "100::1",
    "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1", "2001:db8:ffff::1",
    "2002::1", "2002:c000:0204::1",
    "3fff::1",
    "fc00::1", "fd12:3456:789a::1",
    "fe80::1", "febf::1",
    "fec0::1",
    "ff02::1", "ff05::1:3",
    "1::1", "4000::1",  # outside 2000::/3 global unicast
]

PUBLIC = [
    "93.184.216.34", "1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255",
    "100.128.0.1", "192.0.3.1", "198.20.0.1", "223.255.255.255",
    "2606:4700::1111", "2a00:1450:4001:82b::200e", "2001:4860:4860::8888",
    "::ffff:93.184.216.34", "64:ff9b::5db8:d822",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_special_purpose_addresses_are_not_public(address):
    """Loopback, private, link-local, documentation, NAT64/mapped-private... are refused."""
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_global_addresses_are_public(address):
    """Ordinary global unicast addresses (and mapped/NAT64 forms of them) are allowed."""
    assert is_public_address(address) is True


@pytest.mark.parametrize("garbage", ["", "localhost", "example.com", "1.2.3", "::g", "fe80::1%eth0"])
def test_unparseable_or_scoped_input_is_not_public(garbage):
    """The guard fails closed on anything that is not a plain address."""
    assert is_public_address(garbage) is False


@pytest.mark.parametrize("host, expected", [
    ("example.com", "example.com"),
    ("EXAMPLE.Com", "example.com"),
    ("example.com.", "example.com"),
    ("Bücher.DE.", "xn--bcher-kva.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, as yarl sends it (not IDNA 2003's "fass.de")
    ("example\u3002com", "example.com"),  # ideographic full stop is a label separator
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("::FFFF:10.0.0.1", "::ffff:a00:1"),
    ("[2606:4700:0:0::1111]", "2606:4700::1111"),
    ("a_b.example", "a_b.example"),
])
def test_normalize_host(host, expected):
    """Lowercase, no trailing dot, punycode, compressed IP literals."""
    assert normalize_host(host) == expected


@pytest.mark.parametrize("host", ["", ".", "a..b", "exa mple.com", "xn--zz.com", "-bad.example",
                                  "bad-.example", "a/b", "[not-ip]", "fe80::1%eth0", "x" * 64 + ".com",
                                  "\u2488.example"])
def test_normalize_host_refuses_invalid(host):
    """Hosts that are no DNS name or invalid IDNA raise InvalidURL (a ValueError and an InvalidDocument)."""
    with pytest.raises(InvalidURL) as caught:
        normalize_host(host)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, InvalidDocument)


@pytest.mark.parametrize("a, b, expected", [
    ("https://example.com/a", "https://example.com/b", True),
    ("https://EXAMPLE.com./a", "https://example.com/b", True),
    ("https://example.com:443/a", "https://example.com/b", True),
    ("https://bücher.de/u", "https://xn--bcher-kva.de/x", True),
    ("http://example.com:80/", "http://example.com/", True),
    ("https://example.com/", "http://example.com/", False),
    ("https://example.com/", "https://example.com:8443/", False),
    ("https://example.com/", "https://www.example.com/", False),
    ("https://example.com.evil.test/", "https://example.com/", False),
    ("https://evil.test/?https://example.com/", "https://example.com/", False),
    ("ftp://example.com/", "ftp://example.com/", False),
    ("not a url", "not a url", False),
    ("https://[::1]:8080/a", "https://[0:0::1]:8080/b", True),
])
def test_same_origin(a, b, expected):
    """Scheme, host and port compared after normalisation; anything odd is never same-origin."""
    assert same_origin(a, b) is expected
    assert same_origin(b, a) is expected


@pytest.mark.parametrize("url, host", [
    ("https://Example.COM./users/a", "example.com"),
    ("https://user@bücher.de:8443/x", "xn--bcher-kva.de"),
    ("http://[::1]:8080/", "::1"),
])
def test_host_of(url, host):
    """The normalised host, without port."""
    assert host_of(url) == host


@pytest.mark.parametrize("url", ["", "/relative", "mailto:a@example.com", "https://", "https://[::1/", "https://[::1]@",
                                 "https://[::1]:8080@/users/a", "http://x]@/a"])
def test_host_of_refuses_non_http_urls(url):
    """No usable http(s) host raises InvalidURL."""
    with pytest.raises(InvalidURL):
        host_of(url)


def _whole(url: str):
    """What the parser makes of the whole URL, without the shortcut through its origin part or the memos."""
    try:
        return netguard._parse_url(url)
    except InvalidURL:
        return "refused"


def _by_origin(url: str):
    try:
        return netguard._parse_string.__wrapped__(url)  # the shortcut, not what the memo kept of earlier calls
    except InvalidURL:
        return "refused"


def test_the_origin_part_decides_like_the_whole_url():
    """Ids are parsed by their ``scheme://authority`` (the memo keeps hitting): on random URLs, odd
    authorities and printable paths, queries and fragments, that gives what parsing the whole URL gives."""
    rnd = random.Random(17)
    printable = [chr(c) for c in range(0x21, 0x7F)]
    odd = printable + ["\t", " ", "ü", "\u3002", "\n", "\x00"]
    hosts = ["a.example", "A.Example.", "a.example:443", "a.example:80", "[::1]", "[::1]:8080", "127.0.0.1",
             "xn--bcher-kva.example", "bücher.example", "user:pw@a.example", "a.example:", "a.example:99999", "",
             "a..b", "@", "a.example@b.example", "a%2eexample", "a.example\\@b.example", "[::1", "a.example:8x",
             "%41.example", ":80", "a b", "[::1]:8080@"]
    schemes = ["http", "https", "HTTPS", "ftp", "hTTp", "http+x"]
    compared = 0
    for _ in range(20_000):
        if rnd.random() < 0.5:
            host = rnd.choice(hosts) + "".join(rnd.choice(":@[]%.0") for _ in range(rnd.randint(0, 2)))
        else:
            host = "".join(rnd.choice(odd) for _ in range(rnd.randint(0, 10)))
        rest = rnd.choice(["", "/", "?", "#", "//", "/@", "?@b.example/", "/%zz", "/..", "#@"])
        rest += "".join(rnd.choice(printable if rnd.random() < 0.9 else odd) for _ in range(rnd.randint(0, 12)))
        url = f"{rnd.choice(schemes)}://{host}{rest}"
        assert _by_origin(url) == _whole(url), url
        compared += 1
    assert compared == 20_000


@pytest.mark.parametrize("a, b, expected", [
    ("https://Example.com:443/users/a", "https://example.com/users/a", True),
    ("https://example.com", "https://example.com/", True),
    ("https://example.com/users/a", "https://example.com/users/a/", False),
    ("https://example.com/users/a", "https://example.com/users/A", False),
    ("https://example.com/a?x=1", "https://example.com/a?x=2", False),
    ("https://example.com/a", "http://example.com/a", False),
])
def test_same_url(a, b, expected):
    """Only scheme/host/port are normalised; path and query must be identical (R4)."""
    assert same_url(a, b) is expected


def test_canonical_url_keeps_path_and_non_default_port():
    """canonical_url rewrites the host to punycode and drops only default ports."""
    assert canonical_url("HTTPS://Bücher.de:443/a/b?c=d#e") == "https://xn--bcher-kva.de/a/b?c=d#e"
    assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"


@pytest.mark.parametrize("host, expected", [
    ("2130706433", True), ("0x7f000001", True), ("127.1", True), ("0x7f.0.0.1", True), ("017700000001", True),
    ("127.0.0.1", False), ("example.com", False), ("1e100.net", False), ("123.example", False),
])
def test_numeric_host_spellings(host, expected):
    """Legacy numeric IPv4 spellings are recognised so the fetcher can refuse them."""
    assert is_numeric_host(host) is expected
