"""``fednode webhook add | list | remove``: the site owner's webhooks (docs/cli.md, docs/api.md)."""

from __future__ import annotations

import argparse

from node.api import webhooks
from node.app import opened_node
from node.cli import command
from node.config import Settings
from node.db import webhooks as db


def add_parsers(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``fednode webhook`` and its actions to the main parser."""
    webhook = sub.add_parser("webhook", parents=[parent], help="webhooks: POST signed JSON to your URL on new comments")
    actions = webhook.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[parent], help="add a webhook and print its signing secret (shown once)")
    add.add_argument("url", help="where to POST the events, e.g. https://blog.example/fednode-hook")
    add.add_argument("--events", action="append", metavar="EVENT[,EVENT]",
                     help=f"which events (default: all): {', '.join(sorted(webhooks.EVENTS))}")
    actions.add_parser("list", parents=[parent], help="list the webhooks and their recent deliveries")
    remove = actions.add_parser("remove", parents=[parent], help="remove a webhook (its pending deliveries too)")
    remove.add_argument("id", type=int, help="the webhook's number, from `fednode webhook list`")


@command("webhook add")
async def webhook_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a webhook; print its number and secret."""
    async with opened_node(settings) as node:
        row, secret = await webhooks.add_webhook(node, args.url, args.events)
    print(f"webhook {row.id}: {row.url}")
    print(f"  events: {', '.join(row.events.split())}")
    print(f"  secret: {secret}")
    print("  Keep the secret: it is shown only now. Check X-Fednode-Signature with it (docs/api.md#webhooks).")
    return 0


@command("webhook list")
async def webhook_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the webhooks with their last deliveries (never their secrets)."""
    async with opened_node(settings) as node:
        hooks = await webhooks.list_webhooks(node)
        async with node.sessions() as session:
            recent = {hook.id: await db.list_deliveries(session, hook.id, limit=3) for hook in hooks}
    if not hooks:
        print("no webhooks (add one with `fednode webhook add URL`)")
    for hook in hooks:
        print(f"{hook.id:>4}  {hook.url}  [{', '.join(hook.events.split())}]")
        for delivery in recent[hook.id]:
            detail = f" ({delivery.last_error})" if delivery.last_error and delivery.status != db.DELIVERED else ""
            print(f"        {delivery.created_at:%Y-%m-%d %H:%M}  {delivery.event:<18} {delivery.status}"
                  f" after {delivery.attempts} attempt(s){detail}")
    return 0


@command("webhook remove")
async def webhook_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a webhook."""
    async with opened_node(settings) as node:
        removed = await webhooks.remove_webhook(node, args.id)
    if not removed:
        print(f"no webhook {args.id} (see `fednode webhook list`)")
        return 1
    print(f"removed webhook {args.id}")
    return 0
