"""Run a bovine-herd 0.5.19 server for Fednode's interop tests (with the venv's python).

    interop/bovine/.venv/bin/python interop/bovine/server.py --port 8123 --db sqlite:///tmp/x/bovine.sqlite3

It serves bovine-herd's own Quart app, unchanged, with Hypercorn on 127.0.0.1:PORT only, in
this one process (SIGTERM or SIGINT stops it). The database must already hold the actors
(``python -m bovine_store create`` and ``register``). Logs go to stderr at INFO, so a failing
test can show what bovine did.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from bovine_herd import BovineHerd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="tortoise database URL, e.g. sqlite:///path/bovine.sqlite3")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Tortoise logs every SQL statement at INFO/DEBUG; keep the log about federation.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)

    app = Quart("bovine_interop")
    BovineHerd(app, db_url=args.db)

    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = "-"
    config.errorlog = "-"
    config.access_log_format = '%(h)s "%(r)s" %(s)s'
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
