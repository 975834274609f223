"""The remote-reply rules (node.services.remote_reply), as tables: handles, templates, reasons.

``/interact`` sends a reader to their own server to reply; these are the pure parts behind it,
called directly.  The form over real HTTP, WebFinger against a fake server, the cookie, the
cross-site and CSRF checks and the lookup limit are in tests/test_remote_reply.py.
"""

from __future__ import annotations

import pytest

from node.errors import (BadContentType, BlockedAddress, BlockedDomain, FetchError, InvalidDocument,
                         ResponseTooLarge, TooManyRedirects)
from node.services.remote_reply import Handle, InteractError, ascii_url, fill_template, parse_handle, unreachable

POST = "https://forum.example/articles/topic?x=1#c-4"
ENCODED = "https%3A%2F%2Fforum.example%2Farticles%2Ftopic%3Fx%3D1%23c-4"


@pytest.mark.parametrize("typed, handle", [
    ("@alice@mastodon.social", Handle("alice", "mastodon.social")),
    ("alice@Mastodon.Social", Handle("alice", "mastodon.social")),         # no leading @, host in capitals
    ("  @alice@mastodon.social\n", Handle("alice", "mastodon.social")),    # pasted with blanks
    ("acct:bob@gts.example.org", Handle("bob", "gts.example.org")),        # WebFinger's acct: form
    ("@carol@bücher.example", Handle("carol", "xn--bcher-kva.example")),   # an IDN host, as punycode
    ("@dan@social.example:8443", Handle("dan", "social.example:8443")),    # a port
    ("@Eve_99@misskey.io", Handle("Eve_99", "misskey.io")),                # the user part keeps its case
], ids=["mastodon", "bare-and-capitals", "blanks", "acct", "idn", "port", "user-case"])
def test_handles_as_readers_type_them(typed, handle):
    """Every way people write a fediverse handle reads as the same user at the normalised host."""
    # Given a handle as typed
    # When it is parsed
    # Then it is that user at that host
    assert parse_handle(typed) == handle


@pytest.mark.parametrize("typed, says", [
    ("", "Please type your fediverse handle"),
    ("@" + "a" * 400 + "@mastodon.social", "too long"),
    ("https://mastodon.social/@alice", "not a web address"),
    ("alice", "is not a fediverse handle"),
    ("@alice", "is not a fediverse handle"),
    ("@a@b@c", "is not a fediverse handle"),
    ("@alice@exa mple.org", "is not a fediverse handle"),
    ("@alice@mastodon.social/path", "is not a fediverse handle"),
    ("@alice@host:99999", "impossible port"),
    ("@alice@-bad-.example", "is not a server name"),
], ids=["empty", "too-long", "web-address", "no-host", "at-no-host", "two-hosts", "space", "path", "port-range",
        "bad-label"])
def test_what_is_not_a_handle_is_refused_in_words(typed, says):
    """Anything else is a 400 whose message tells the reader what to type."""
    # Given something that is not a handle
    # When it is parsed
    with pytest.raises(InteractError) as refused:
        parse_handle(typed)
    # Then the refusal is a 400 saying what is wrong
    assert refused.value.status == 400 and says in refused.value.message


@pytest.mark.parametrize("template, url", [
    # Mastodon's WebFinger subscribe link (app/views/well_known/webfinger).
    ("https://mastodon.social/authorize_interaction?uri={uri}",
     f"https://mastodon.social/authorize_interaction?uri={ENCODED}"),
    # Misskey's.
    ("https://misskey.io/authorize-follow?acct={uri}", f"https://misskey.io/authorize-follow?acct={ENCODED}"),
    # An IDN host in the template becomes punycode, fit for a Location header.
    ("https://bücher.example/i?uri={uri}", f"https://xn--bcher-kva.example/i?uri={ENCODED}"),
    # Non-ASCII in the path is percent-encoded; what the template escaped stays as it was.
    ("https://social.example/ä/%41?uri={uri}", f"https://social.example/%C3%A4/%41?uri={ENCODED}"),
], ids=["mastodon", "misskey", "idn-host", "non-ascii-path"])
def test_the_template_gets_the_posts_address_encoded(template, url):
    """``{uri}`` is replaced by the post's id, percent-encoded whole (its ``?`` and ``#`` included)."""
    # Given the reader's server's subscribe template
    # When it is filled with the post's id
    # Then the reader is sent to this ASCII URL
    assert fill_template(template, POST) == url


@pytest.mark.parametrize("template, says", [
    ("https://mastodon.social/share", "no place for the post's address"),
    ("javascript:alert({uri})", "not a web address"),
    ("/authorize_interaction?uri={uri}", "not a web address"),
    ("data:text/html,{uri}", "not a web address"),
], ids=["no-placeholder", "javascript", "relative", "data"])
def test_a_template_that_cannot_send_the_reader_anywhere_safe_is_a_502(template, says):
    """The reader's server answered something we will not redirect a browser to: its fault, a 502."""
    # Given an unusable template
    # When it is filled
    with pytest.raises(InteractError) as refused:
        fill_template(template, POST)
    # Then it is refused as the other server's failure
    assert refused.value.status == 502 and says in refused.value.message


def test_an_ascii_url_is_left_as_it_is():
    """Nothing to encode: the URL comes back unchanged, byte for byte."""
    # Given an ASCII URL with escapes of its own
    url = "https://social.example/a%20b?uri=x%2Fy#frag"
    # When it is made fit for a Location header
    # Then it is the same
    assert ascii_url(url) == url


@pytest.mark.parametrize("error, says", [
    (BlockedDomain("blocked"), "does not deal with social.example"),
    (BlockedAddress("private"), "not a server on the public internet"),
    (TooManyRedirects("4 redirects"), "kept sending us elsewhere"),
    (InvalidDocument("not JSON"), "did not answer like a fediverse server"),
    (ResponseTooLarge("too big"), "did not answer like a fediverse server"),
    (BadContentType("text/html"), "did not answer like a fediverse server"),
    (FetchError("timed out after 10 s"), "did not answer in time"),
    (FetchError("DNS lookup failed"), "There is no server called social.example"),
    (FetchError("Connection refused"), "Could not connect to social.example"),
], ids=["blocked-domain", "private-address", "redirects", "invalid", "too-large", "content-type", "timeout", "dns",
        "refused"])
def test_why_a_server_could_not_be_asked_is_said_in_words(error, says):
    """Each failure of the lookup becomes a sentence for the reader, never an exception's name."""
    # Given a failed WebFinger lookup of a handle's server
    handle = Handle("alice", "social.example")
    # When the reason is put into words
    message = unreachable(handle, error)
    # Then it says what happened
    assert says in message and type(error).__name__ not in message
