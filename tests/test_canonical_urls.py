"""The URL canonicaliser (node.discussions.canonical), as a table: input, expected form, where the case comes from.

Sources named per case: "h" is Hypothesis's ``h/util/uri.py`` and its tests (normalisation of
annotated documents), "lemmy" is Lemmy's ``clean_url_params`` (link posts), "rfc3986" is RFC 3986
§6.2 (syntax-based normalisation), "mastodon" is what Mastodon's link previews hand out, and
"field" is a spelling seen in shared news links.
"""

from __future__ import annotations

import pytest

from node.discussions.canonical import NotDiscussable, canonicalize, fetchable, lookup_keys, same_site

CASES = [
    # scheme, host and port (h: _normalize_netloc; rfc3986 6.2.2.1, 6.2.3)
    ("HTTP://example.com/a", "http://example.com/a", "rfc3986: scheme is case-insensitive"),
    ("https://EXAMPLE.com/a", "https://example.com/a", "h: host lower-cased"),
    ("https://example.com./a", "https://example.com/a", "field: a trailing dot names the same host"),
    ("http://example.com:80/a", "http://example.com/a", "h: default http port dropped"),
    ("https://example.com:443/a", "https://example.com/a", "h: default https port dropped"),
    ("https://example.com:8443/a", "https://example.com:8443/a", "h: other ports kept"),
    ("http://example.com:443/a", "http://example.com:443/a", "rfc3986: 443 is not http's default"),
    ("https://bücher.example/a", "https://xn--bcher-kva.example/a", "rfc3986 3.2.2: IDN as punycode"),
    ("https://XN--BCHER-KVA.example/a", "https://xn--bcher-kva.example/a", "field: punycode in capitals"),
    ("https://[2001:DB8::1]/a", "https://[2001:db8::1]/a", "rfc3986: IPv6 literal compressed, lower case"),
    ("  https://example.com/a  ", "https://example.com/a", "field: pasted with spaces around"),
    # path (h: _normalize_path; rfc3986 6.2.2.2 and 6.2.2.3)
    ("https://example.com", "https://example.com/", "rfc3986: empty path is /"),
    ("https://example.com/a/", "https://example.com/a", "h: trailing slash dropped"),
    ("https://example.com/a//", "https://example.com/a", "h: every trailing slash dropped"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c", "rfc3986 5.2.4: dot segments removed"),
    ("https://example.com/../../a", "https://example.com/a", "rfc3986 5.2.4: no climbing above the root"),
    ("https://example.com/a//b", "https://example.com/a/b", "field: doubled slashes"),
    ("https://example.com/%7Euser", "https://example.com/~user", "rfc3986 6.2.2.2: unreserved escapes decoded"),
    ("https://example.com/a%2fb", "https://example.com/a%2Fb", "rfc3986 6.2.2.1: escapes upper-cased, %2F kept"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9", "h: percent-encoding normalised"),
    ("https://example.com/café", "https://example.com/caf%C3%A9", "h: non-ASCII encoded as UTF-8"),
    ("https://example.com/a b", "https://example.com/a%20b", "h: spaces encoded"),
    ("https://example.com/Path/Case", "https://example.com/Path/Case", "rfc3986: paths are case-sensitive"),
    # fragments (h: fragment dropped)
    ("https://example.com/a#comments", "https://example.com/a", "h: fragment dropped"),
    ("https://example.com/a#", "https://example.com/a", "h: empty fragment dropped"),
    ("https://example.com/#!/story/1", "https://example.com/#!/story/1", "field: a #! route names a page"),
    # query (h: _normalize_query; lemmy: clean_url_params)
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2", "h: query sorted by name"),
    ("https://example.com/a?b=2&a=1&b=1", "https://example.com/a?a=1&b=2&b=1", "h: values of a name keep their order"),
    ("https://example.com/a?", "https://example.com/a", "h: empty query dropped"),
    ("https://example.com/a?&&a=1&", "https://example.com/a?a=1", "field: empty pairs dropped"),
    ("https://example.com/a?q=", "https://example.com/a?q=", "h: blank values kept"),
    ("https://example.com/a?q=a+b", "https://example.com/a?q=a%20b", "h: + in a query is a space"),
    ("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3", "lemmy: utm_* dropped"),
    ("https://example.com/a?utm_content=buffercf3b2&utm_medium=social&username=randomuser&id=123",
     "https://example.com/a?id=123&username=randomuser", "lemmy: its own test case"),
    ("https://example.com/a?UTM_Campaign=x", "https://example.com/a", "field: tracking names in any case"),
    ("https://example.com/a?fbclid=IwAR3x", "https://example.com/a", "lemmy: fbclid"),
    ("https://example.com/a?gclid=1&gclsrc=aw.ds&dclid=2", "https://example.com/a", "lemmy, h: Google Ads ids"),
    ("https://example.com/a?mc_cid=1&mc_eid=2", "https://example.com/a", "field: Mailchimp"),
    ("https://example.com/a?igshid=MzRl", "https://example.com/a", "field: Instagram share"),
    ("https://example.com/a?msclkid=9&yclid=8&twclid=7", "https://example.com/a", "field: Bing, Yandex, X ads"),
    ("https://example.com/a?WT.mc_id=tw", "https://example.com/a", "h: WebTrends WT.*"),
    ("https://example.com/a?_hsenc=p2&_hsmi=1", "https://example.com/a", "field: HubSpot"),
    ("https://example.com/a?ref_src=twsrc%5Etfw", "https://example.com/a", "field: Twitter embeds"),
    ("https://example.com/a?page=2&utm_source=x", "https://example.com/a?page=2", "lemmy: other parameters kept"),
    ("https://example.com/a?%7Ex=1", "https://example.com/a?~x=1", "rfc3986: unreserved escapes in names"),
    # AMP and mobile renderings (field, mastodon: previews of shared mobile links)
    ("https://m.example.com/a", "https://example.com/a", "field: m. host is the mobile site"),
    ("https://mobile.example.com/a", "https://example.com/a", "field: mobile. host"),
    ("https://en.m.wikipedia.org/wiki/Fediverse", "https://en.wikipedia.org/wiki/Fediverse", "field: Wikipedia mobile"),
    ("https://m.example/a", "https://m.example/a", "field: a two-label host is a site of its own"),
    ("https://amp.example.com/a", "https://example.com/a", "field: amp. host"),
    ("https://example.com/a/amp", "https://example.com/a", "field: /amp ending"),
    ("https://example.com/a/amp/", "https://example.com/a", "field: /amp/ ending"),
    ("https://example.com/a.amp", "https://example.com/a", "field: .amp ending"),
    ("https://example.com/a?amp=1", "https://example.com/a", "field: ?amp=1"),
    ("https://example.com/a?outputType=amp", "https://example.com/a", "field: WordPress AMP ?outputType=amp"),
    ("https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a/amp/",
     "https://www.example.com/a", "field: Google AMP cache, https"),
    ("https://example-com.cdn.ampproject.org/c/example.com/a", "http://example.com/a", "field: AMP cache, http"),
    ("https://www.google.com/amp/s/www.example.com/a?utm_source=x", "https://www.example.com/a", "field: Google AMP viewer"),
    ("https://example.com/amp", "https://example.com/amp", "field: a page called amp is not an ending"),
    # already canonical stays the same (idempotence)
    ("https://example.com/a?a=1&b=2", "https://example.com/a?a=1&b=2", "h: canonical is a fixed point"),
]


@pytest.mark.parametrize("given, expected, source", CASES, ids=[f"{i:02d}-{c[2][:40]}" for i, c in enumerate(CASES)])
def test_canonical_form(given, expected, source):
    assert canonicalize(given) == expected, source
    assert canonicalize(expected) == expected, f"{source}: the canonical form is a fixed point"


def test_the_table_has_at_least_forty_cases():
    assert len(CASES) >= 40


REFUSED = [
    ("ftp://example.com/file", "only http and https pages can be discussed, not ftp:"),
    ("javascript:alert(1)", "only http and https pages can be discussed, not javascript:"),
    ("data:text/html,<b>x</b>", "only http and https pages can be discussed, not data:"),
    ("mailto:a@example.com", "only http and https pages can be discussed, not mailto:"),
    ("//example.com/a", "only http and https pages can be discussed, not a relative address"),
    ("https:///a", "the URL has no host"),
    ("https://user:pw@example.com/", "the URL carries a user name or password; remove them"),
    ("https://example.com:0x50/", "not a valid URL"),
    ("https://exa mple.com/", "the host is not valid"),
    ("https://example.com/\x00", "the URL contains control characters"),
    ("https://example.com/" + "a" * 2100, "the URL is longer than 2048 characters"),
]


@pytest.mark.parametrize("given, reason", REFUSED)
def test_refusals_say_why(given, reason):
    with pytest.raises(NotDiscussable) as caught:
        canonicalize(given)
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_http_and_https_are_looked_up_together():
    """h: http and https of one address are one document."""
    assert lookup_keys("https://example.com/a") == ["https://example.com/a", "http://example.com/a"]


@pytest.mark.parametrize("a, b, expected", [
    ("https://example.com/a", "https://example.com/b", True),
    ("https://www.example.com/a", "https://example.com/b", True),
    ("https://m.example.com/a", "https://www.example.com/b", True),
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", True),
    ("https://example.com/a", "https://example.org/a", False),
    ("https://evil-example.com/a", "https://example.com/a", False),
    ("https://example.com.evil.org/a", "https://example.com/a", False),
    ("http://127.0.0.1/a", "http://127.0.0.2/a", False),
])
def test_same_site(a, b, expected):
    """A page's claims about its address are believed within its own site only (ports ignored, as same-site is)."""
    assert same_site(a, b) is expected


def test_the_fetched_url_keeps_the_path_but_drops_tracking_and_fragment():
    assert fetchable("https://Example.com/a/?utm_source=x&id=2&fbclid=y#top") == "https://Example.com/a/?id=2"
