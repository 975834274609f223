"""What a page's <head> says about itself (node.discussions.metadata): OpenGraph, canonical, fediverse alternates."""

from __future__ import annotations

from node.discussions.metadata import declared_charset, read_meta
from node.discussions.resolve import closed_at_source, decode_html

WORDPRESS = """<!DOCTYPE html><html lang="en-US"><head>
<meta charset="UTF-8"><title>Harbour plan &#8211; Harbour News</title>
<link rel="canonical" href="/2026/12/harbour-plan/" />
<meta property="og:title" content="Harbour plan &amp; what it means" />
<meta property="og:description" content="The council   decided.
Again." />
<meta property="og:url" content="https://news.example/2026/12/harbour-plan/" />
<meta property="og:site_name" content="Harbour News" />
<meta property="article:published_time" content="2026-12-01T09:30:00+00:00" />
<meta name="author" content="Ann Reporter" />
<meta name="fediverse:creator" content="@ann@social.example" />
<link rel="alternate" type="application/activity+json" href="https://news.example/?p=123" />
</head><body><meta property="og:title" content="in the body"></body></html>"""


def test_a_wordpress_page_with_the_activitypub_plugin():
    """WordPress + Yoast + the ActivityPub plugin: every claim read, URLs absolute, text plain."""
    meta = read_meta(WORDPRESS, "https://news.example/2026/12/harbour-plan/?utm_source=x")
    assert meta.title == "Harbour plan & what it means"
    assert meta.description == "The council decided. Again."
    assert meta.canonical == "https://news.example/2026/12/harbour-plan/"
    assert meta.og_url == "https://news.example/2026/12/harbour-plan/"
    assert meta.site_name == "Harbour News"
    assert meta.published == "2026-12-01T09:30:00+00:00"
    assert meta.author == "Ann Reporter" and meta.creator == "@ann@social.example"
    assert meta.activitypub == "https://news.example/?p=123"


def test_the_title_element_is_the_fallback_and_the_body_is_not_read():
    meta = read_meta("<html><head><title> Plain\n title </title></head><body>"
                     '<meta property="og:title" content="late"></body>', "https://a.example/")
    assert meta.title == "Plain title"


def test_only_http_urls_are_kept():
    meta = read_meta('<head><link rel="canonical" href="javascript:alert(1)">'
                     '<meta property="og:url" content="data:text/html,x"></head>', "https://a.example/")
    assert meta.canonical is None and meta.og_url is None


def test_long_values_are_cut():
    meta = read_meta(f'<head><meta property="og:title" content="{"x" * 5000}"></head>', "https://a.example/")
    assert len(meta.title) == 300 and meta.title.endswith("…")


def test_an_ld_json_alternate_needs_the_activitystreams_profile():
    html = ('<head><link rel="alternate" type="application/ld+json" href="/schema.json">'
            '<link rel="alternate" type=\'application/ld+json; profile="https://www.w3.org/ns/activitystreams"\' '
            'href="/ap.json"></head>')
    assert read_meta(html, "https://a.example/x").activitypub == "https://a.example/ap.json"


def test_charsets():
    assert declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">') == "shift_jis"
    assert decode_html("café".encode("latin-1"), "text/html; charset=ISO-8859-1") == "café"
    assert decode_html("café".encode(), "text/html; charset=no-such-charset") == "café"
    assert decode_html(b"\xef\xbb\xbfcaf\xc3\xa9", "text/html; charset=latin-1") == "\ufeffcafé"


def test_closed_comments_as_lemmy_and_gotosocial_say_it():
    """Lemmy's locked post, GoToSocial's reply policy without Public; open otherwise."""
    assert closed_at_source({"type": "Page", "commentsEnabled": False}) == "the source locked its comments"
    assert closed_at_source({"type": "Page", "commentsEnabled": True}) is None
    only_author = {"canReply": {"always": ["https://gts.example/users/a"], "approvalRequired": []}}
    assert closed_at_source({"type": "Note", "interactionPolicy": only_author}) is not None
    public = {"canReply": {"always": ["https://www.w3.org/ns/activitystreams#Public"]}}
    assert closed_at_source({"type": "Note", "interactionPolicy": public}) is None
    manual = {"canReply": {"automaticApproval": [], "manualApproval": ["as:Public"]}}
    assert closed_at_source({"type": "Note", "interactionPolicy": manual}) is None
    assert closed_at_source({"type": "Note"}) is None
