"""A fake remote fediverse server on 127.0.0.1: serves actor and object documents, records POSTs.

Documents are plain dicts registered per path; each can be given a status, a
content type or a delay, so tests can script what a misbehaving server does.
Inbox POSTs can be scripted per path too (``script``: a sequence of answers such
as 500, then 429 with Retry-After, then 202), delayed, and counted while in
flight, so tests can check retries, timeouts and concurrency limits.
Actors get real RSA keys, and ``signed_post`` signs with Fednode's own signer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from node.federation import httpsig
from node.federation.vocab import ACTIVITY_JSON, AS_NS, SECURITY_NS
from tests.support import free_port, serving


@lru_cache(maxsize=16)
def remote_key(index: int = 0) -> rsa.RSAPrivateKey:
    """RSA-2048 keys made once per test session (generation is slow), numbered for variety."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass
class Served:
    """One document the fake serves."""

    body: Any
    status: int = 200
    content_type: str = ACTIVITY_JSON
    delay: float = 0.0


@dataclass(frozen=True)
class Answer:
    """One scripted answer to an inbox POST: a status, extra headers, a delay before answering."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: str = ""


@dataclass
class RemoteActor:
    """An actor living on the fake server, with its private key."""

    id: str
    key: rsa.RSAPrivateKey
    key_id: str
    document: dict[str, Any]

    @property
    def inbox(self) -> str:
        return self.document["inbox"]


@dataclass
class FakeRemote:
    """The fake server's state: what it serves and what it received."""

    port: int
    served: dict[str, Served] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    # Like GoToSocial and bovine: refuse GETs that do not carry a signature we can verify.
    require_signed_gets: bool = False
    verified_signers: list[str] = field(default_factory=list)
    # Inbox behaviour: verify POST signatures (with the sender's key, fetched over HTTP)
    # and accept only these schemes; other requests get 401, as a strict server answers.
    verify_posts: bool = False
    accepted_schemes: frozenset[str] = frozenset({"cavage", "rfc9421"})
    inbox_status: int = 202
    # Every POST waits this long before it is answered (to see requests overlap).
    inbox_delay: float = 0.0
    # Per path, answers used one by one by the next POSTs; afterwards ``inbox_status``.
    scripts: dict[str, deque[Answer]] = field(default_factory=dict)
    # POSTs being answered right now, in all and per path, and the most seen at once.
    in_flight: int = 0
    peak_in_flight: int = 0
    in_flight_by_path: Counter = field(default_factory=Counter)
    peak_in_flight_by_path: Counter = field(default_factory=Counter)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, path: str, body: Any, **options: Any) -> str:
        """Serve ``body`` at ``path``; return its full URL."""
        self.served[path] = Served(body, **options)
        return self.base + path

    def script(self, path: str, *answers: int | Answer) -> None:
        """Answer the next POSTs to ``path`` with ``answers`` in order (ints are bare statuses)."""
        queue = self.scripts.setdefault(path, deque())
        queue.extend(a if isinstance(a, Answer) else Answer(status=a) for a in answers)

    def posts_to(self, path: str) -> list[dict[str, Any]]:
        """The recorded POSTs to one path, oldest first."""
        return [r for r in self.received if r["path"] == path]

    def activity_ids(self, path: str | None = None) -> list[str]:
        """The ``id`` of each activity POSTed (to ``path``, or anywhere), in arrival order."""
        return [json.loads(r["body"])["id"] for r in self.received if path is None or r["path"] == path]

    def add_actor(self, username: str, *, key_index: int = 0, kind: str = "Person", **extra: Any) -> RemoteActor:
        """Serve a Mastodon-shaped actor with a real key at /users/<username>."""
        actor_id = f"{self.base}/users/{username}"
        key = remote_key(key_index)
        document = {
            "@context": [AS_NS, SECURITY_NS],
            "id": actor_id,
            "type": kind,
            "preferredUsername": username,
            "name": username.capitalize(),
            "inbox": f"{actor_id}/inbox",
            "outbox": f"{actor_id}/outbox",
            "followers": f"{actor_id}/followers",
            "following": f"{actor_id}/following",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "url": f"{self.base}/@{username}",
            "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": public_pem(key)},
            **extra,
        }
        self.serve(f"/users/{username}", document)
        return RemoteActor(actor_id, key, f"{actor_id}#main-key", document)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return await self._post(request)
        self.gets.append(request.path_qs)
        if self.require_signed_gets:
            problem = await self._check_signature(request, b"")
            if problem:
                return web.json_response({"error": problem}, status=401)
        # Ids with a query (WordPress's ``/?author=1``, ``/?p=5``) are served by path and query.
        served = self.served.get(request.path_qs) or self.served.get(request.path)
        if served is None:
            return web.json_response({"error": "not found"}, status=404)
        if served.delay:
            await asyncio.sleep(served.delay)
        if isinstance(served.body, bytes):  # a file: an image, say
            return web.Response(body=served.body, status=served.status, headers={"Content-Type": served.content_type})
        text = served.body if isinstance(served.body, str) else json.dumps(served.body)
        return web.Response(text=text, status=served.status, headers={"Content-Type": served.content_type})

    async def _post(self, request: web.Request) -> web.StreamResponse:
        """An inbox POST: verify (if asked), record, then answer as scripted, after any delay."""
        path = request.path
        self.in_flight += 1
        self.in_flight_by_path[path] += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.peak_in_flight_by_path[path] = max(self.peak_in_flight_by_path[path], self.in_flight_by_path[path])
        try:
            body = await request.read()
            if self.verify_posts:
                problem = await self._check_signature(request, body)
                if problem:
                    return web.json_response({"error": problem}, status=401)
            queue = self.scripts.get(path)
            answer = queue.popleft() if queue else Answer(status=self.inbox_status)
            self.received.append({"path": path, "headers": dict(request.headers), "body": body,
                                  "status": answer.status})
            delay = answer.delay or self.inbox_delay
            if delay:
                await asyncio.sleep(delay)
            return web.Response(status=answer.status, headers=answer.headers, text=answer.body)
        finally:
            self.in_flight -= 1
            self.in_flight_by_path[path] -= 1

    async def _check_signature(self, request: web.Request, body: bytes) -> str | None:
        """Verify a signed request the way a strict server would: fetch the keyId, check the signature."""
        from datetime import datetime, timezone

        from node.errors import SignatureError

        try:
            sig = httpsig.parse_request_signature(
                request.method, f"http://{request.host}{request.raw_path}", request.headers, body,
                now=datetime.now(timezone.utc),
            )
        except SignatureError as exc:
            return exc.reason
        if sig.scheme not in self.accepted_schemes:
            return f"{sig.scheme} signatures are not accepted here"
        async with aiohttp.ClientSession() as http:
            async with http.get(sig.key_id.split("#")[0], headers={"Accept": ACTIVITY_JSON}) as response:
                actor = await response.json(content_type=None)
        try:
            httpsig.verify_signature(sig, httpsig.load_public_key(actor["publicKey"]["publicKeyPem"]))
        except SignatureError as exc:
            return exc.reason
        self.verified_signers.append(sig.key_id)
        return None


@contextlib.asynccontextmanager
async def fake_remote() -> AsyncIterator[FakeRemote]:
    """Run a FakeRemote on a free 127.0.0.1 port for the duration of the block."""
    remote = FakeRemote(port=free_port())
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", remote.handle)
    async with serving(app, remote.port):
        yield remote


async def signed_post(
    http: aiohttp.ClientSession, url: str, activity: dict[str, Any] | bytes, actor: RemoteActor, *,
    scheme: str = "cavage", key_id: str | None = None, headers: dict[str, str] | None = None,
    tamper: Any = None, **sign_options: Any,
) -> tuple[int, dict[str, Any]]:
    """POST ``activity`` to ``url`` signed as ``actor`` (production signer); return (status, JSON body).

    ``tamper(headers, body) -> (headers, body)`` changes the request after signing.
    """
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    base_headers = {"Content-Type": ACTIVITY_JSON, **(headers or {})}
    sign = httpsig.sign_rfc9421 if scheme == "rfc9421" else httpsig.sign_cavage
    added = sign("POST", url, base_headers, body, actor.key, key_id or actor.key_id, **sign_options)
    all_headers = {**base_headers, **added}
    all_headers.pop("Host", None)  # aiohttp sets Host from the URL; it is what was signed
    if tamper is not None:
        all_headers, body = tamper(all_headers, body)
    async with http.post(url, data=body, headers=all_headers) as response:
        try:
            payload = await response.json(content_type=None)
        except (json.JSONDecodeError, aiohttp.ContentTypeError):
            payload = {"text": await response.text()}
        return response.status, payload
