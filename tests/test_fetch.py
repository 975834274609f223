"""The outgoing fetcher against real HTTP servers on 127.0.0.1.

The rules come from Mastodon's `Request` limits and `fetch_resource` id check (app/lib/request.rb,
app/helpers/jsonld_helper.rb), the media types of ActivityPub §3.2, SSRF as in Fedify's
CVE-2024-39687, and never fetching from ourselves, as Akkoma's `contain_local_fetch`.

Each fake remote is an aiohttp app bound to 127.0.0.1 on a free port by
pytest-aiohttp's ``aiohttp_server``; it records every request it receives so a
test can prove that a refused fetch never reached it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from node.errors import (BadContentType, BadStatus, BlockedAddress, BlockedDomain, FetchError, Gone, InvalidDocument, NotFound,
                         OriginMismatch, ResponseTooLarge, TooManyRedirects)
from node.federation.fetch import (FetchPolicy, Fetcher, GuardedResolver, SchemeMemory, is_activitypub_content_type,
                                   redirect_target)
from node.federation.netguard import is_public_address
from node.federation.vocab import ACTIVITY_JSON, AP_ACCEPT, AS_NS

LD_AS = f'application/ld+json; profile="{AS_NS}"'
MIB = 1024 * 1024
# Guard off: tests talk to 127.0.0.1 on purpose. Short timeouts keep failures fast.
OPEN = FetchPolicy(allow_http=True, allow_private_network=True, connect_timeout=2, read_timeout=2, total_timeout=5)
# Guard on (the production setting), with http allowed so no TLS is needed.
GUARDED = FetchPolicy(allow_http=True, connect_timeout=1, read_timeout=1, total_timeout=3)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Remote:
    """A fake remote server: a table of path → handler, and a log of every request received."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.base = ""

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base + path

    @property
    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [path for path, _ in self.seen]

    def add(self, path: str, handler: Handler) -> str:
        """Serve ``path`` with ``handler``; returns its URL."""
        self.routes[path] = handler
        return self.url(path)

    def document(self, path: str, doc: dict | None = None, *, content_type: str = ACTIVITY_JSON,
                 status: int = 200, id_: str | None = None) -> str:
        """Serve an AS2 document whose id defaults to its own URL."""
        body = doc if doc is not None else {"@context": AS_NS, "id": id_ or self.url(path), "type": "Note"}

        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, body=json.dumps(body).encode(), content_type=None,
                                headers={"Content-Type": content_type})
        return self.add(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer ``path`` with a redirect to ``location``."""
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": location})
        return self.add(path, handler)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Log the request, then hand it to its route (404 when there is none)."""
        self.seen.append((request.path_qs, dict(request.headers)))
        handler = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)


@pytest.fixture
async def start_remote(aiohttp_server):
    """Start fake remotes on 127.0.0.1 (free ports); pytest-aiohttp stops them after the test."""
    async def start() -> Remote:
        remote = Remote()
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", remote.dispatch)
        server = await aiohttp_server(app, host="127.0.0.1")
        remote.base = str(server.make_url("")).rstrip("/")
        return remote
    return start


@pytest.fixture
async def remote(start_remote):
    """One fake remote."""
    return await start_remote()


@pytest.fixture
async def make_fetcher():
    """Build Fetchers and close them all at the end of the test."""
    made: list[Fetcher] = []

    def make(policy: FetchPolicy = OPEN, **kwargs) -> Fetcher:
        fetcher = Fetcher(policy, **kwargs)
        made.append(fetcher)
        return fetcher
    yield make
    for fetcher in made:
        await fetcher.close()


class StaticResolver(AbstractResolver):
    """Test DNS: fixed name → addresses; unknown names fail like NXDOMAIN."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.asked.append(host)
        if host not in self.table:
            raise OSError(socket.EAI_NONAME, f"{host} not found")
        return [{"hostname": host, "host": ip, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in ip else socket.AF_INET} for ip in self.table[host]]

    async def close(self):
        pass


class FakeSigner:
    """Marks each request with a fake signature of the scheme asked for, and logs the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def sign(self, method, url, headers, body, scheme):
        self.calls.append((scheme, url))
        if scheme == "rfc9421":
            return {"Signature-Input": 'sig1=("@method" "@target-uri");keyid="fake"', "Signature": "sig1=:ZmFrZQ==:"}
        return {"Signature": "fake-cavage"}


# -- the SSRF guard (allow_private_network=False) ----------------------------------


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}/",
    "http://[::1]:{port}/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[64:ff9b::a00:1]/",
    "http://[64:ff9b::7f00:1]:{port}/",
    "http://localhost:{port}/",
    "http://LocalHost.:{port}/",
    "http://api.localhost:{port}/",
    "http://0.0.0.0:{port}/",
    "http://2130706433:{port}/",
    "http://127.1:{port}/",
    "http://0x7f000001:{port}/",
])
async def test_private_targets_are_refused_without_connecting(remote, make_fetcher, template):
    """Loopback, private, metadata, mapped/NAT64 and localhost URLs raise BlockedAddress; nothing connects."""
    port = remote.base.rsplit(":", 1)[1]
    remote.document("/")
    fetcher = make_fetcher(GUARDED)
    with pytest.raises(BlockedAddress):
        await fetcher.get(template.format(port=port), accept=ACTIVITY_JSON)
    assert remote.seen == []


@pytest.mark.parametrize("addresses", [["127.0.0.1"], ["10.0.0.1", "::1"], ["169.254.169.254"]])
async def test_names_resolving_to_private_addresses_are_refused(remote, make_fetcher, addresses):
    """A DNS name whose addresses are all private is refused by the resolver guard, before connecting."""
    port = remote.base.rsplit(":", 1)[1]
    remote.document("/")
    resolver = StaticResolver({"internal.test": addresses})
    fetcher = make_fetcher(GUARDED, resolver=resolver)
    with pytest.raises(BlockedAddress):
        await fetcher.get(f"http://internal.test:{port}/", accept=ACTIVITY_JSON)
    assert resolver.asked == ["internal.test"]
    assert remote.seen == []


async def test_guarded_resolver_keeps_only_public_addresses():
    """Mixed DNS answers are filtered: only the public address is handed to the connector."""
    guard = GuardedResolver(StaticResolver({"mixed.test": ["127.0.0.1", "93.184.216.34", "fd00::1"]}),
                            lambda host, ip: is_public_address(ip))
    results = await guard.resolve("mixed.test", 443, socket.AF_UNSPEC)
    assert [r["host"] for r in results] == ["93.184.216.34"]


def _public_test_seam(port: str) -> dict:
    """Fetcher arguments that make ``public.test`` a stand-in for a public server.

    A test cannot reach a real public address, so ``public.test`` resolves to the
    fake server on 127.0.0.1 and ``is_allowed_address`` accepts an address only
    when it was reached through that one name; every other host keeps the real
    ``is_public_address`` rule. The first hop therefore behaves like a public
    server, and whatever its redirect points at is judged by the production guard.
    """
    return {
        "resolver": StaticResolver({"public.test": ["127.0.0.1"], "internal.test": ["127.0.0.1"]}),
        "is_allowed_address": lambda host, ip: host == "public.test" or is_public_address(ip),
    }


async def test_public_test_seam_reaches_the_fake_server(remote, make_fetcher):
    """Sanity check of the seam: public.test itself is fetchable with the guard on."""
    port = remote.base.rsplit(":", 1)[1]
    remote.document("/doc", id_=f"http://public.test:{port}/doc")
    fetcher = make_fetcher(GUARDED, **_public_test_seam(port))
    document = await fetcher.get_activitypub(f"http://public.test:{port}/doc")
    assert document["id"] == f"http://public.test:{port}/doc"


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/secret",
    "http://[::1]:{port}/secret",
    "http://internal.test:{port}/secret",
    "http://10.0.0.1/secret",
    "http://169.254.169.254/latest/meta-data/",
])
async def test_public_name_redirecting_to_private_address_is_refused(remote, make_fetcher, target):
    """A public server's redirect to a private address is re-checked and refused (Fedify CVE-2026-77632)."""
    port = remote.base.rsplit(":", 1)[1]
    remote.redirect("/start", target.format(port=port))
    remote.document("/secret")
    fetcher = make_fetcher(GUARDED, signer=FakeSigner(), **_public_test_seam(port))
    with pytest.raises(BlockedAddress):
        await fetcher.get_activitypub(f"http://public.test:{port}/start")
    assert remote.paths == ["/start"]


# -- scheme, redirects, own host ---------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/", "ftp://127.0.0.1:{port}/", "file:///etc/passwd",
                                 "gopher://127.0.0.1:{port}/", "/relative", "http://user:pw@127.0.0.1:{port}/"])
async def test_only_https_by_default(remote, make_fetcher, url):
    """Without allow_http only https is fetched; other schemes and credentials in URLs never are."""
    port = remote.base.rsplit(":", 1)[1]
    remote.document("/")
    fetcher = make_fetcher(FetchPolicy(allow_private_network=True))
    with pytest.raises(FetchError):
        await fetcher.get(url.format(port=port), accept=ACTIVITY_JSON)
    assert remote.seen == []


def _chain(remote: Remote, length: int) -> str:
    """/r0 → /r1 → ... → /r{length}, which serves a document whose id is its own URL."""
    for i in range(length):
        remote.redirect(f"/r{i}", f"/r{i + 1}")
    remote.document(f"/r{length}")
    return remote.url("/r0")


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
async def test_up_to_three_redirects_are_followed(remote, make_fetcher, hops):
    """Up to max_redirects hops are followed; the result carries the final URL."""
    start = _chain(remote, hops)
    fetched = await make_fetcher().get(start, accept=ACTIVITY_JSON)
    assert fetched.status == 200 and fetched.url == remote.url(f"/r{hops}")
    assert len(remote.seen) == hops + 1


async def test_fourth_redirect_is_refused(remote, make_fetcher):
    """The 4th redirect raises TooManyRedirects and its target is never requested."""
    start = _chain(remote, 4)
    with pytest.raises(TooManyRedirects):
        await make_fetcher().get(start, accept=ACTIVITY_JSON)
    assert remote.paths == ["/r0", "/r1", "/r2", "/r3"]


@pytest.mark.parametrize("routes, start", [
    ({"/a": "/b", "/b": "/a"}, "/a"),
    ({"/self": "/self"}, "/self"),
    ({"/x": "{base}/y", "/y": "/x?"}, "/x"),
])
async def test_redirect_loops_are_refused(remote, make_fetcher, routes, start):
    """A URL seen before in the same chain raises TooManyRedirects (Fedify CVE-2026-34148)."""
    for path, location in routes.items():
        remote.redirect(path, location.format(base=remote.base))
    with pytest.raises(TooManyRedirects):
        await make_fetcher(FetchPolicy(allow_http=True, allow_private_network=True, max_redirects=10)).get(
            remote.url(start), accept=ACTIVITY_JSON)
    assert len(remote.seen) <= 3


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_every_redirect_status_is_followed(remote, make_fetcher, status):
    """All redirect statuses are followed by hand, with relative Locations resolved."""
    remote.redirect("/old", "new", status=status)
    remote.document("/new")
    fetched = await make_fetcher().get(remote.url("/old"), accept=ACTIVITY_JSON)
    assert fetched.url == remote.url("/new")


@pytest.mark.parametrize("current, location, expected", [
    ("https://a.example/x/y", "z", "https://a.example/x/z"),
    ("https://a.example/x", "/users/b", "https://a.example/users/b"),
    ("https://a.example/x", "//b.example/y", "https://b.example/y"),
    ("https://a.example/x", "https://b.example/y#frag", "https://b.example/y"),
    ("http://a.example/x", "https://a.example/x", "https://a.example/x"),
    ("http://a.example/x", "http://b.example/", "http://b.example/"),
])
def test_redirect_target_resolution(current, location, expected):
    """Relative Locations resolve against the current URL; fragments are dropped."""
    assert str(redirect_target(current, location)) == expected


@pytest.mark.parametrize("location", ["http://a.example/x", "http://127.0.0.1/", "ftp://a.example/", "data:,x"])
def test_https_downgrade_is_refused(location):
    """From https, a redirect may only go to https."""
    with pytest.raises(FetchError):
        redirect_target("https://a.example/start", location)


@pytest.mark.parametrize("own", ["127.0.0.1", "127.0.0.1:{port}"])
async def test_own_host_is_never_fetched(remote, make_fetcher, own):
    """R7: a URL on one of our own hosts is refused without a request."""
    port = remote.base.rsplit(":", 1)[1]
    remote.document("/")
    policy = FetchPolicy(allow_http=True, allow_private_network=True, own_hosts=frozenset({own.format(port=port)}))
    with pytest.raises(FetchError, match="own host"):
        await make_fetcher(policy).get(remote.url("/"), accept=ACTIVITY_JSON)
    assert remote.seen == []


async def test_redirect_to_own_host_is_refused(remote, make_fetcher):
    """R7 holds on every hop: a redirect to our own (IDN, trailing-dot) host is refused."""
    remote.redirect("/start", "http://Bücher.Example./users/a")
    policy = FetchPolicy(allow_http=True, allow_private_network=True, own_hosts=frozenset({"xn--bcher-kva.example"}))
    with pytest.raises(FetchError, match="own host"):
        await make_fetcher(policy).get(remote.url("/start"), accept=ACTIVITY_JSON)
    assert remote.paths == ["/start"]


async def test_a_blocked_domain_is_never_contacted(remote, make_fetcher):
    """The operator's blocked_domains (and their subdomains) are refused before any request."""
    remote.document("/")
    policy = FetchPolicy(allow_http=True, allow_private_network=True, blocked_domains=("127.0.0.1", "evil.example"))
    with pytest.raises(BlockedDomain, match="127.0.0.1 is blocked"):
        await make_fetcher(policy).get(remote.url("/"), accept=ACTIVITY_JSON)
    assert remote.seen == []


async def test_a_redirect_to_a_blocked_domain_is_refused(remote, make_fetcher):
    """A redirect does not get around a block: every hop is checked."""
    remote.redirect("/start", "http://users.Evil.Example./a")
    policy = FetchPolicy(allow_http=True, allow_private_network=True, blocked_domains=("evil.example",))
    with pytest.raises(BlockedDomain):
        await make_fetcher(policy).get(remote.url("/start"), accept=ACTIVITY_JSON)
    assert remote.paths == ["/start"]


# -- size, bombs, timeouts, statuses -----------------------------------------------


async def test_content_length_over_the_cap_is_refused(remote, make_fetcher):
    """A declared 2 MiB body raises ResponseTooLarge before the body is read."""
    async def big(request):
        return web.Response(body=b"x" * (2 * MIB), content_type="application/json")
    remote.add("/big", big)
    with pytest.raises(ResponseTooLarge, match="Content-Length"):
        await make_fetcher().get(remote.url("/big"), accept=ACTIVITY_JSON)


async def test_chunked_body_over_the_cap_is_refused(remote, make_fetcher):
    """A 2 MiB body without Content-Length is cut off while streaming."""
    async def chunked(request):
        response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON})
        await response.prepare(request)
        try:
            for _ in range(32):
                await response.write(b"x" * (64 * 1024))
        except ConnectionError:
            pass
        return response
    remote.add("/chunked", chunked)
    with pytest.raises(ResponseTooLarge, match="body is over"):
        await make_fetcher().get(remote.url("/chunked"), accept=ACTIVITY_JSON)


@pytest.mark.parametrize("size, ok", [(1024, True), (1025, False)])
async def test_size_cap_boundary(remote, make_fetcher, size, ok):
    """A body of exactly max_bytes is accepted, one byte more is not."""
    remote.add("/b", lambda request: _respond(web.Response(body=b"y" * size)))
    fetcher = make_fetcher(FetchPolicy(allow_http=True, allow_private_network=True, max_bytes=1024))
    if ok:
        assert len((await fetcher.get(remote.url("/b"), accept="*/*")).body) == size
    else:
        with pytest.raises(ResponseTooLarge):
            await fetcher.get(remote.url("/b"), accept="*/*")


async def _respond(response: web.StreamResponse) -> web.StreamResponse:
    return response


def _gzip_bomb_parts() -> tuple[bytes, bytes]:
    """The start of a gzip stream of zeros and a segment that repeats: each inflates to 1 MiB.

    A full flush resets the compressor's history, so every later 1 MiB segment of
    zeros compresses to the same ~1 KiB; 1023 repeats make a ~1 MB body that
    inflates to 1 GiB. The gzip trailer is never sent: the client must stop long before.
    """
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert segment == compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head, segment


async def test_gzip_bomb_is_cut_off_at_the_cap(remote, make_fetcher):
    """A ~1 MB gzip body that inflates to 1 GiB raises ResponseTooLarge quickly, with small memory use."""
    head, segment = _gzip_bomb_parts()

    async def bomb(request):
        response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON, "Content-Encoding": "gzip"})
        await response.prepare(request)
        try:
            await response.write(head)
            for _ in range(1023):
                await response.write(segment)
        except ConnectionError:
            pass
        return response
    remote.add("/bomb", bomb)
    fetcher = make_fetcher()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ResponseTooLarge):
            await fetcher.get(remote.url("/bomb"), accept=ACTIVITY_JSON)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5
    assert peak < 32 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert len(segment) * 1023 > 500_000  # the body on the wire really is ~1 MB


async def test_trickling_server_hits_the_total_deadline(remote, make_fetcher):
    """A server sending one byte every 0.1 s (never idle long enough for sock_read) times out at total."""
    async def trickle(request):
        response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON})
        await response.prepare(request)
        try:
            for _ in range(100):  # gives up by itself after ~10 s at most
                await response.write(b" ")
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        return response
    remote.add("/slow", trickle)
    policy = FetchPolicy(allow_http=True, allow_private_network=True, read_timeout=10, total_timeout=1)
    started = time.perf_counter()
    with pytest.raises(FetchError, match="timed out"):
        await make_fetcher(policy).get(remote.url("/slow"), accept=ACTIVITY_JSON)
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize("status, error", [(404, NotFound), (410, Gone), (500, BadStatus), (403, BadStatus),
                                           (204, BadStatus), (304, BadStatus)])
async def test_non_200_statuses(remote, make_fetcher, status, error):
    """Only 200 is a document: 404 → NotFound, 410 → Gone, anything else → BadStatus(status)."""
    remote.add("/s", lambda request: _respond(web.Response(status=status)))
    with pytest.raises(error) as caught:
        await make_fetcher().get(remote.url("/s"), accept=ACTIVITY_JSON)
    assert caught.value.status == status


async def test_connection_refused_is_a_fetch_error(make_fetcher):
    """A closed port becomes a FetchError, not an aiohttp exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError):
        await make_fetcher().get(f"http://127.0.0.1:{port}/", accept=ACTIVITY_JSON)


# -- ActivityPub documents: content type and id (R4, R5) ----------------------------


@pytest.mark.parametrize("content_type, ok", [
    (ACTIVITY_JSON, True),
    ("application/activity+json; charset=utf-8", True),
    (LD_AS, True),
    (f'application/ld+json;profile="{AS_NS} https://w3id.org/security/v1"', True),
    ("text/html; charset=utf-8", False),
    ("application/json", False),
    ("application/ld+json", False),
    ('application/ld+json; profile="https://example.com/profile"', False),
    ("image/png", False),
    ("", False),
])
async def test_content_type_rule(remote, make_fetcher, content_type, ok):
    """R5 (Mastodon CVE-2024-25623): activity+json, or ld+json with the AS2 profile; nothing else."""
    url = remote.document("/note", content_type=content_type)
    fetcher = make_fetcher()
    if ok:
        assert (await fetcher.get_activitypub(url))["id"] == url
    else:
        with pytest.raises(BadContentType):
            await fetcher.get_activitypub(url)
    assert is_activitypub_content_type(content_type) is ok


async def test_ap_fetch_sends_the_ap_accept_header(remote, make_fetcher):
    """get_activitypub asks for both AS2 media types and sends our User-Agent."""
    url = remote.document("/note")
    await make_fetcher(user_agent="Fednode/test").get_activitypub(url, signed=False)
    headers = remote.seen[0][1]
    assert headers["Accept"] == AP_ACCEPT and headers["User-Agent"] == "Fednode/test"


@pytest.mark.parametrize("doc, error", [
    ({"id": "https://elsewhere.example/notes/1", "type": "Note"}, OriginMismatch),
    ({"type": "Note"}, InvalidDocument),
    ({"id": ["x"], "type": "Note"}, InvalidDocument),
])
async def test_id_on_another_origin_is_refused(remote, make_fetcher, doc, error):
    """A document naming an id on another origin (or no id) is refused without following it."""
    url = remote.document("/note", doc)
    with pytest.raises(error):
        await make_fetcher().get_activitypub(url)
    assert remote.paths == ["/note"]


async def test_top_level_array_is_refused(remote, make_fetcher):
    """An AS2 response must be a JSON object."""
    async def array(request):
        return web.Response(text="[1, 2]", headers={"Content-Type": ACTIVITY_JSON})
    with pytest.raises(InvalidDocument):
        await make_fetcher().get_activitypub(remote.add("/a", array))


async def test_same_origin_id_is_refetched_by_id(remote, make_fetcher):
    """A display URL whose document names another id on the same origin is refetched by that id."""
    canonical = remote.document("/users/alice")
    remote.document("/@alice", id_=canonical)
    document = await make_fetcher().get_activitypub(remote.url("/@alice"))
    assert document["id"] == canonical
    assert remote.paths == ["/@alice", "/users/alice"]


async def test_refetched_document_must_carry_its_own_id(remote, make_fetcher):
    """If the document at the id names yet another id, it is refused (no second refetch)."""
    remote.document("/a", id_=remote.url("/b"))
    remote.document("/b", id_=remote.url("/c"))
    remote.document("/c")
    with pytest.raises(OriginMismatch):
        await make_fetcher().get_activitypub(remote.url("/a"))
    assert remote.paths == ["/a", "/b"]


async def test_id_matching_after_host_normalisation(remote, make_fetcher):
    """Host case and a default port do not make an id differ from its URL (R10)."""
    url = remote.url("/n")
    remote.document("/n", id_=url.replace("http://127.0.0.1", "HTTP://127.0.0.1"))
    assert (await make_fetcher().get_activitypub(url))["type"] == "Note"


@pytest.mark.parametrize("id_path", ["/new", "/old"])
async def test_same_origin_redirect_accepts_final_or_requested_id(remote, make_fetcher, id_path):
    """After a same-origin redirect the id may be the final URL or the requested one."""
    remote.redirect("/old", "/new")
    remote.document("/new", id_=remote.url(id_path))
    document = await make_fetcher().get_activitypub(remote.url("/old"))
    assert document["id"] == remote.url(id_path)


async def test_cross_origin_redirect_cannot_claim_the_requested_id(start_remote, make_fetcher):
    """A redirect to another origin serving a document with the *requested* id is refused (open-redirect spoof)."""
    victim, attacker = await start_remote(), await start_remote()
    victim.redirect("/users/bob", attacker.url("/fake"))
    attacker.document("/fake", id_=victim.url("/users/bob"))
    with pytest.raises(OriginMismatch):
        await make_fetcher().get_activitypub(victim.url("/users/bob"))
    assert victim.paths == ["/users/bob"]


async def test_cross_origin_redirect_to_a_self_identified_document(start_remote, make_fetcher):
    """A redirect to another origin whose document carries its own id there is accepted as that object."""
    old, new = await start_remote(), await start_remote()
    old.redirect("/users/bob", new.url("/users/bob"))
    url = new.document("/users/bob")
    assert (await make_fetcher().get_activitypub(old.url("/users/bob")))["id"] == url


# -- single flight ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["get_activitypub", "get"])
async def test_concurrent_fetches_share_one_request(remote, make_fetcher, method):
    """Ten concurrent fetches of one URL cause exactly one request; results are independent copies."""
    async def slow_doc(request):
        await asyncio.sleep(0.2)
        return web.Response(text=json.dumps({"id": remote.url("/n"), "type": "Note", "tag": []}),
                            headers={"Content-Type": ACTIVITY_JSON})
    url = remote.add("/n", slow_doc)
    fetcher = make_fetcher()
    call = (lambda: fetcher.get_activitypub(url)) if method == "get_activitypub" else \
        (lambda: fetcher.get(url, accept=AP_ACCEPT))
    results = await asyncio.gather(*(call() for _ in range(10)))
    assert len(remote.seen) == 1
    if method == "get_activitypub":
        results[0]["tag"].append("mutated")
        assert all(r["tag"] == [] for r in results[1:])
    assert fetcher._inflight == {}
    await call()
    assert len(remote.seen) == 2  # nothing cached: the next fetch after completion is a new request


async def test_single_flight_shares_failures_too(remote, make_fetcher):
    """Concurrent callers of a failing URL all get the error from one request."""
    async def gone(request):
        await asyncio.sleep(0.1)
        return web.Response(status=410)
    url = remote.add("/g", gone)
    fetcher = make_fetcher()
    results = await asyncio.gather(*(fetcher.get_activitypub(url) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, Gone) for r in results) and len(remote.seen) == 1


# -- signed fetches: double knock ---------------------------------------------------


def _needs_rfc9421(remote: Remote, path: str) -> str:
    async def handler(request):
        if "Signature-Input" not in request.headers:
            return web.Response(status=401)
        return web.Response(text=json.dumps({"id": remote.url(path), "type": "Note"}),
                            headers={"Content-Type": ACTIVITY_JSON})
    return remote.add(path, handler)


async def test_signed_fetch_falls_back_to_rfc9421_and_remembers(remote, make_fetcher):
    """Cavage first; on 401 one retry with RFC 9421, which is remembered for the host's next fetch."""
    url = _needs_rfc9421(remote, "/n")
    signer, memory = FakeSigner(), SchemeMemory()
    fetcher = make_fetcher(signer=signer, scheme_memory=memory)
    await fetcher.get_activitypub(url)
    assert [scheme for scheme, _ in signer.calls] == ["cavage", "rfc9421"]
    assert [h.get("Signature") for _, h in remote.seen] == ["fake-cavage", "sig1=:ZmFrZQ==:"]
    assert memory.preferred(remote.base.split("//", 1)[1]) == "rfc9421"
    await fetcher.get_activitypub(url)
    assert [scheme for scheme, _ in signer.calls] == ["cavage", "rfc9421", "rfc9421"]
    assert len(remote.seen) == 3


@pytest.mark.parametrize("status", [401, 400])
async def test_signed_fetch_refused_with_both_schemes(remote, make_fetcher, status):
    """When both schemes get 401 (or 400) the fetch raises BadStatus with that status, after two tries."""
    remote.add("/n", lambda request: _respond(web.Response(status=status)))
    memory = SchemeMemory()
    with pytest.raises(BadStatus) as caught:
        await make_fetcher(signer=FakeSigner(), scheme_memory=memory).get_activitypub(remote.url("/n"))
    assert caught.value.status == status and len(remote.seen) == 2
    assert memory.preferred(remote.base.split("//", 1)[1]) == "cavage"


async def test_cavage_that_works_is_used_alone(remote, make_fetcher):
    """A host that accepts cavage gets exactly one signed request."""
    url = remote.document("/n")
    signer = FakeSigner()
    await make_fetcher(signer=signer).get_activitypub(url)
    assert signer.calls == [("cavage", url)]
    assert remote.seen[0][1]["Signature"] == "fake-cavage"


async def test_each_redirect_hop_is_signed_for_its_own_url(remote, make_fetcher):
    """A signature covers one URL, so every hop is signed again for its target."""
    remote.redirect("/a", "/b")
    url = remote.document("/b")
    signer = FakeSigner()
    await make_fetcher(signer=signer).get(remote.url("/a"), accept=AP_ACCEPT)
    assert signer.calls == [("cavage", remote.url("/a")), ("cavage", url)]


@pytest.mark.parametrize("signed, with_signer", [(False, True), (True, False)])
async def test_unsigned_fetches_carry_no_signature(remote, make_fetcher, signed, with_signer):
    """signed=False, or no signer configured, sends no signature headers (and never retries)."""
    url = remote.document("/n")
    await make_fetcher(signer=FakeSigner() if with_signer else None).get_activitypub(url, signed=signed)
    headers = remote.seen[0][1]
    assert "Signature" not in headers and "Signature-Input" not in headers


def test_scheme_memory_is_a_bounded_lru():
    """SchemeMemory forgets the least recently used host beyond its capacity."""
    memory = SchemeMemory(max_hosts=2)
    memory.remember("a.example", "rfc9421")
    memory.remember("b.example", "rfc9421")
    memory.remember("a.example", "rfc9421")  # a is now the most recent
    memory.remember("c.example", "rfc9421")
    assert len(memory) == 2
    assert memory.preferred("b.example") == "cavage"
    assert memory.preferred("a.example") == "rfc9421" and memory.preferred("c.example") == "rfc9421"


# -- get_json and the session -------------------------------------------------------


async def test_get_json_parses_with_limits(remote, make_fetcher):
    """get_json returns parsed data (any JSON type) and refuses JSON bombs."""
    remote.add("/ok", lambda request: _respond(web.json_response({"links": []})))
    remote.add("/deep", lambda request: _respond(web.Response(text="[" * 5000 + "]" * 5000)))
    fetcher = make_fetcher()
    assert (await fetcher.get_json(remote.url("/ok"))).data == {"links": []}
    with pytest.raises(InvalidDocument):
        await fetcher.get_json(remote.url("/deep"))


async def test_session_is_lazy_and_closed(remote, make_fetcher):
    """The session is created on first use and closed by close(); a later fetch opens a new one."""
    fetcher = make_fetcher()
    assert fetcher._session is None
    await fetcher.get(remote.document("/n"), accept=AP_ACCEPT)
    session = fetcher._session
    await fetcher.close()
    assert session.closed and fetcher._session is None
    await fetcher.get(remote.url("/n"), accept=AP_ACCEPT)
    assert len(remote.seen) == 2
