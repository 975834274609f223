"""The apply side of the inbox alone: CPU per reply of the processor storing replies already received.

bench/inbox.py (b) measures a reply answered and stored, request handling included.  This
measures only what follows the 202: N signed-and-verified replies (as bench/inbox.py sends
them: 64 remote authors, 100 threads, the shipped moderation defaults) are stored as ``received``
activity rows the way the inbox writer stores them, then handed to a fresh processor as the
inbox hands them over (``Processor.notify`` with the parsed activity), and the process's CPU is
read from the first claim until the last reply is stored (claim, resolve, decide, apply, settle;
the database thread's CPU included).  The event-loop thread's share is printed beside it.

Baseline, in the same run: the least any apply step adds, writing each reply's comment row with
one Core executemany, 128 a transaction, nothing read or checked (as bench/inbox.py (c) does for
both rows).  Its CPU per reply over the processor's is the ratio printed.

Like ``fednode serve`` once started, the startup heap is frozen (``freeze_startup_heap``) before
the clock starts: without it the collector's full passes over the startup objects land in the
figure (a fifth of it here).  ``--no-freeze`` measures without.

    python bench/apply.py [--replies 4000] [--rounds 3] [--no-freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

THREADS = 100
AUTHORS = 64
GROUP = 256  # rows per inbox group commit (node.federation.inbox_writer.MAX_GROUP)


def activity_of(number: int, target: str, remote: str) -> tuple[str, dict]:
    """bench/inbox.py's reply ``number``: its author and its Create (as parsed from the request body)."""
    from bench.inbox import reply_activity

    actor, activity = reply_activity(number, target, remote, AUTHORS, THREADS)
    return actor, json.loads(json.dumps(activity))


async def apply_round(replies: int, freeze: bool) -> tuple[float, float, int]:
    """CPU seconds per reply (process, event-loop thread) of a fresh node's processor applying ``replies``
    stored replies; and how many comments it stored."""
    from bench.inbox import count_comments, seed_node
    from node.app import freeze_startup_heap
    from node.db import activities, queries
    from node.db.states import ActivityState
    from node.federation.actors import actor_values_from_ap
    from node.federation.processor import Processor
    from tests.support import POLICY_DEFAULTS, make_settings, running_node

    remote = "https://remote.example"
    with tempfile.TemporaryDirectory() as folder:
        settings = make_settings(Path(folder), run_worker=False, **POLICY_DEFAULTS)
        async with running_node(settings) as node:
            await seed_node(node, THREADS)
            async with node.node.sessions.begin() as session:  # the authors, as key checks store them
                for i in range(AUTHORS):
                    actor = f"{remote}/users/u{i}"
                    await queries.upsert_remote_actor(session, actor_values_from_ap({
                        "id": actor, "type": "Person", "preferredUsername": f"u{i}", "inbox": actor + "/inbox",
                        "followers": actor + "/followers"}))
            await node.node.processor.drain()
            await node.node.processor.stop()  # a fresh one below takes the stored rows
            handed = []
            for first in range(0, replies, GROUP):
                rows = []
                for number in range(first, min(replies, first + GROUP)):
                    actor, activity = activity_of(number, node.base, remote)
                    rows.append({"ap_id": activity["id"], "ap_type": "Create", "is_local": False,
                                 "actor_ap_id": actor, "object_ap_id": activity["object"]["id"],
                                 "status": ActivityState.RECEIVED.value, "raw": activity})
                async with node.node.sessions.begin() as session:
                    ids = await activities.insert_received(session, rows)
                handed += [(ids[row["ap_id"]], row["raw"], row["actor_ap_id"]) for row in rows]
            processor = Processor(node.node)
            node.node.processor = processor
            node.node.inbox.on_stored = processor.notify
            if freeze:
                freeze_startup_heap()
            cpu, loop_cpu = time.process_time(), time.thread_time()
            for row_id, activity, actor in handed:
                processor.notify(row_id, activity, actor)
            await processor.start()
            await processor.drain()
            cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
            stored = await count_comments(node)
    return cpu / replies, loop_cpu / replies, stored


async def baseline(replies: int) -> float:
    """CPU seconds per reply to write only its comment row (Core executemany, 128 a transaction)."""
    from sqlalchemy import insert

    from bench.inbox import floor_database
    from node.db.models import Object
    from node.db.types import utcnow

    with tempfile.TemporaryDirectory() as folder:
        engine, _, article = await floor_database(f"{folder}/baseline.db")
        documents = [activity_of(number, "https://local.example", "https://remote.example")[1]["object"]
                     for number in range(replies)]
        started = time.process_time()
        for first in range(0, replies, 128):
            async with engine.begin() as connection:
                await connection.execute(insert(Object.__table__), [{
                    "ap_id": note["id"], "ap_type": "Note", "kind": "comment", "is_local": False, "actor_id": 1,
                    "content": note["content"], "url": note["id"], "in_reply_to": article, "parent_id": 1,
                    "root_id": 1, "visibility": "public", "published": utcnow(), "raw": note}
                    for note in documents[first:first + 128]])
        cpu = time.process_time() - started
        await engine.dispose()
    return cpu / replies


async def main(args) -> None:
    floor = await baseline(args.replies)
    print(f"baseline: the comment row alone, Core executemany: {floor * 1e6:.0f} µs CPU per reply   "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for number in range(args.rounds):
        cpu, loop_cpu, stored = await apply_round(args.replies, not args.no_freeze)
        results.append(cpu)
        print(f"apply, round {number + 1}: {stored:,} of {args.replies:,} stored, {cpu * 1e6:.0f} µs CPU per reply "
              f"(event-loop thread {loop_cpu * 1e6:.0f} µs); baseline/apply {floor / cpu:.2f}   "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    median = statistics.median(results)
    print(f"apply, median of {args.rounds}: {median * 1e6:.0f} µs CPU per reply; baseline/apply {floor / median:.2f}"
          f"{'' if not args.no_freeze else '   (startup heap not frozen)'}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-freeze", action="store_true", help="leave the startup heap to the collector")
    asyncio.run(main(parser.parse_args()))
