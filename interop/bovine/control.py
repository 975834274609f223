"""Drive one bovine-herd actor through its client-to-server API, for Fednode's interop tests.

    interop/bovine/.venv/bin/python interop/bovine/control.py --domain http://127.0.0.1:8123 --secret z3u2...

It logs in with ``bovine.BovineClient`` (Moo-Auth-1, the Ed25519 secret printed by
``python -m bovine_store key --new``), then reads one JSON command per line on stdin and
answers one JSON line on stdout: ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error": "..."}``. The activities are built with bovine's own factories and POSTed to the
actor's outbox, so bovine itself stores, signs and delivers them.

Commands (``op`` and its fields):

- ``actor``: the actor document as the owner sees it.
- ``get`` ``url``: a GET with the actor's Moo-Auth-1 credentials (bovine's own objects and
  collections) -> ``{status, body}``.
- ``items`` ``url``: every item of one of the actor's own collections (following, followers,
  inbox, outbox), following ``first``/``next`` pages, ids as listed.
- ``proxy`` ``url``: bovine's server fetches a remote object (its ``proxyUrl`` endpoint, a
  signed GET by the actor) -> ``{status, body}``.
- ``follow`` ``target``; ``unfollow`` ``follow_id``; ``reply`` ``in_reply_to`` ``content``;
  ``like`` ``object``; ``delete`` ``object_id``: built with bovine's factories and sent to
  the outbox -> ``{status, location, activity}`` (``location`` is the id bovine gave the
  activity; ``reply`` adds ``object_id``, the id of the new Note).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Any
from urllib.parse import urlencode

from bovine import BovineClient


async def answer(response) -> dict[str, Any]:
    text = await response.text()
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    return {"status": response.status, "body": body}


class Controller:
    def __init__(self, client: BovineClient):
        self.client = client

    @property
    def me(self) -> dict:
        return self.client.information

    async def send(self, activity: dict) -> dict:
        response = await self.client.send_to_outbox(activity)
        body = await response.text()
        return {
            "status": response.status,
            "location": response.headers.get("location"),
            "activity": activity,
            "body": body,
        }

    async def object_of(self, sent: dict) -> str | None:
        """The id bovine gave the object of an activity it just accepted in its outbox."""
        if not sent["location"]:
            return None
        got = await self.get(sent["location"])
        obj = got["body"].get("object") if isinstance(got["body"], dict) else None
        return obj.get("id") if isinstance(obj, dict) else obj

    async def get(self, url: str) -> dict:
        return await answer(await self.client.client.get(url))

    async def proxy(self, url: str) -> dict:
        response = await self.client.client.post(
            self.me["endpoints"]["proxyUrl"],
            urlencode({"id": url}),
            content_type="application/x-www-form-urlencoded",
        )
        return await answer(response)

    async def items(self, url: str) -> list:
        got = await self.get(url)
        if got["status"] != 200:
            raise RuntimeError(f"GET {url} -> {got['status']}: {got['body']}")
        page: Any = got["body"]
        found: list = []
        seen: set[str] = set()
        if isinstance(page, dict) and "first" in page and not page.get("orderedItems") and not page.get("items"):
            page = page["first"]
        while page:
            if isinstance(page, str):
                if page in seen:
                    break
                seen.add(page)
                got = await self.get(page)
                if got["status"] != 200:
                    raise RuntimeError(f"GET {page} -> {got['status']}: {got['body']}")
                page = got["body"]
            found += page.get("orderedItems", page.get("items", []))
            page = page.get("next")
        return found

    async def run(self, command: dict) -> Any:
        op = command["op"]
        activities, objects = self.client.factories
        if op == "actor":
            return self.me
        if op == "get":
            return await self.get(command["url"])
        if op == "items":
            return await self.items(command["url"])
        if op == "proxy":
            return await self.proxy(command["url"])
        if op == "follow":
            return await self.send(activities.follow(command["target"]).build())
        if op == "unfollow":
            got = await self.get(command["follow_id"])
            if got["status"] != 200:
                raise RuntimeError(f"bovine does not hold the Follow {command['follow_id']}: {got}")
            follow = got["body"]
            # bovine's store gives a lone recipient as a string; its undo() iterates `to`/`cc`
            # as lists (a string would be addressed character by character).
            for key in ("to", "cc"):
                if isinstance(follow.get(key), str):
                    follow[key] = [follow[key]]
            return await self.send(activities.undo(follow).build())
        if op == "reply":
            parent = await self.proxy(command["in_reply_to"])
            if parent["status"] != 200:
                raise RuntimeError(f"bovine could not fetch {command['in_reply_to']}: {parent}")
            note = objects.reply(parent["body"], content=command["content"]).build()
            sent = await self.send(activities.create(note).build())
            sent["object_id"] = await self.object_of(sent)
            return sent
        if op == "like":
            liked = await self.proxy(command["object"])
            if liked["status"] != 200:
                raise RuntimeError(f"bovine could not fetch {command['object']}: {liked}")
            # Addressed to the author, as a reaction is (bovine's proxy embeds attributedTo).
            author = liked["body"].get("attributedTo")
            author = author.get("id") if isinstance(author, dict) else author
            if not isinstance(author, str):
                raise RuntimeError(f"{command['object']} names no author: {liked['body']}")
            return await self.send(activities.like(command["object"], to={author}).build())
        if op == "delete":
            # bovine's outbox copies to/cc from the stored object and leaves a Tombstone.
            return await self.send(activities.delete(command["object_id"]).build())
        raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True, help="http://127.0.0.1:PORT of the bovine server")
    parser.add_argument("--secret", required=True, help="the Moo-Auth-1 Ed25519 secret (z3u2...)")
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    async with BovineClient(domain=args.domain, secret=args.secret) as client:
        controller = Controller(client)
        say({"ok": True, "result": {"ready": client.actor_id}})
        while line := await reader.readline():
            if not line.strip():
                continue
            try:
                say({"ok": True, "result": await controller.run(json.loads(line))})
            except Exception as exc:  # reported to the test, which shows it with bovine's log
                say({"ok": False, "error": f"{exc!r}", "traceback": traceback.format_exc()})


if __name__ == "__main__":
    asyncio.run(main())
