"""What runs inside a ``fednode serve`` process, as docs/architecture.md's "Processes" table says.

Every web process applies received activities and crawls threads (a processor and a crawler), and
delivers (a delivery worker with the webhook sender) unless ``run_worker`` is off, when a separate
``fednode worker`` does.  tests/test_scale_out.py runs the worker processes themselves.
"""

from __future__ import annotations

import pytest

from tests.support import make_settings, running_node


@pytest.mark.parametrize("run_worker, delivers", [(True, True), (False, False)], ids=["run-worker", "no-run-worker"])
async def test_a_serve_process_applies_crawls_and_delivers_unless_told_not_to(tmp_path, run_worker, delivers):
    """The processor and the crawler always run beside the web server; delivery only with ``run_worker``."""
    # Given a node served as `fednode serve` serves it, with run_worker on or off
    settings = make_settings(tmp_path, run_worker=run_worker)
    async with running_node(settings) as served:
        node = served.node
        # When its background parts are looked at
        parts = {"processor": node.processor, "crawler": node.crawler, "delivery": node.delivery,
                 "webhooks": node.webhooks}
        # Then it applies and crawls, and delivers (and sends webhooks) only when told to
        assert {name: part is not None for name, part in parts.items()} == {
            "processor": True, "crawler": True, "delivery": delivers, "webhooks": delivers}
