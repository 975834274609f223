"""A view inside: /metrics in Prometheus text format for allowed callers only, /healthz, /readyz,
request ids and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from node.db.models import Delivery, Report
from node.db.types import utcnow
from node.logs import JsonFormatter, RequestIdFilter
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.support import make_settings, running_node

TOKEN = "s3cret-metrics-token-for-tests"


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def quiet_node(tmp_path):
    """A node whose delivery worker does not run, so queued deliveries stay queued."""
    async with running_node(make_settings(tmp_path, run_worker=False)) as node:
        yield node


async def test_metrics_answer_loopback_in_prometheus_text_format(quiet_node, http):
    """From 127.0.0.1 (the default metrics_allow), /metrics is Prometheus text with the node's families."""
    async with http.get(quiet_node.url("/metrics")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        body = await response.text()
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"fednode_inbox_requests", "fednode_delivery_attempts", "fednode_delivery_host_failures",
            "fednode_fetches", "fednode_crawls", "fednode_delivery_queue_due",
            "fednode_delivery_oldest_due_age_seconds", "fednode_apply_lag_seconds",
            "fednode_apply_waiting", "fednode_hosts", "fednode_crawls_scheduled", "fednode_moderation_queue",
            "process_resident_memory_bytes"} <= names


async def test_inbox_answers_are_counted_by_status_and_outcome(quiet_node, http):
    """An unsigned inbox POST shows up as fednode_inbox_requests_total{status="401",outcome="bad signature"}."""
    async with http.post(quiet_node.url("/inbox"), data=b'{"type": "Create"}',
                         headers={"Content-Type": "application/activity+json"}) as response:
        assert response.status == 401
    async with http.get(quiet_node.url("/metrics")) as response:
        found = samples(await response.text())
    assert found[("fednode_inbox_requests_total", (("outcome", "bad signature"), ("status", "401")))] == 1


async def test_queue_depth_and_oldest_due_age_come_from_the_database(quiet_node, http):
    """Two pending deliveries due 90 s ago and one not yet due: depth 2, oldest due about 90 s."""
    now = utcnow()
    async with quiet_node.node.sessions.begin() as session:
        for n, due in enumerate((now - timedelta(seconds=90), now - timedelta(seconds=30), now + timedelta(hours=1))):
            session.add(Delivery(activity_ap_id=f"https://x.test/a/{n}", signer="forum", inbox="https://y.test/inbox",
                                 host="y.test", body="{}", next_attempt_at=due))
    async with http.get(quiet_node.url("/metrics")) as response:
        found = samples(await response.text())
    assert found[("fednode_delivery_queue_due", ())] == 2
    assert found[("fednode_delivery_queue_rows", (("status", "pending"),))] == 3
    assert 89 <= found[("fednode_delivery_oldest_due_age_seconds", ())] < 90 + 60


async def test_open_reports_count_in_the_moderation_queue(quiet_node, http):
    """A Flag received from another server waits for a moderator: fednode_moderation_queue{kind="open_reports"} is 1."""
    async with quiet_node.node.sessions.begin() as session:
        session.add(Report(ap_id="https://social.example/flags/1", reporter_ap_id="https://social.example/actor",
                           content="spam", state="open"))
    async with http.get(quiet_node.url("/metrics")) as response:
        found = samples(await response.text())
    assert found[("fednode_moderation_queue", (("kind", "open_reports"),))] == 1
    assert found[("fednode_moderation_queue", (("kind", "held_comments"),))] == 0


async def test_metrics_refuse_addresses_outside_metrics_allow(tmp_path, http):
    """With metrics_allow naming another network, a loopback caller gets 403 and no figures."""
    async with running_node(make_settings(tmp_path, metrics_allow=["10.0.0.0/8"])) as node:
        async with http.get(node.url("/metrics")) as response:
            assert response.status == 403
            body = await response.json()
    assert "metrics_allow" in body["error"]


async def test_metrics_refuse_requests_relayed_by_a_proxy(quiet_node, http):
    """Behind a proxy every visitor arrives from 127.0.0.1: a forwarded request is not trusted by address."""
    async with http.get(quiet_node.url("/metrics"), headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        assert response.status == 403


async def test_metrics_token_opens_metrics_from_anywhere(tmp_path, http):
    """With metrics_allow empty, the bearer token is the only way in; a wrong token gets 401."""
    async with running_node(make_settings(tmp_path, metrics_allow=[], metrics_token=TOKEN)) as node:
        async with http.get(node.url("/metrics")) as response:
            assert response.status == 403
        async with http.get(node.url("/metrics"), headers={"Authorization": "Bearer wrong-token-000000"}) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.get(node.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}",
                                                           "X-Forwarded-For": "203.0.113.9"}) as response:
            assert response.status == 200
            assert "fednode_delivery_queue_due" in await response.text()


async def test_healthz_answers_while_the_process_lives(node, http):
    """/healthz is 200 {"status": "ok"}."""
    async with http.get(node.url("/healthz")) as response:
        assert (response.status, await response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_with_the_schema_current(node, http):
    """A migrated node is ready."""
    async with http.get(node.url("/readyz")) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ready"


@pytest.mark.allow_server_errors  # 503 from /readyz is the point
async def test_readyz_is_not_ready_when_migrations_are_missing(node, http):
    """A database behind this code's migrations answers 503 naming the command that fixes it."""
    async with node.node.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    async with http.get(node.url("/readyz")) as response:
        assert response.status == 503
        body = await response.json()
    assert body["status"] == "not ready"
    assert "fednode db upgrade" in body["problems"][0]


async def test_a_request_id_is_made_up_or_kept(node, http):
    """Without X-Request-Id the answer carries a fresh one; a plain one from the proxy is echoed; junk is replaced."""
    async with http.get(node.url("/healthz")) as response:
        made_up = response.headers["X-Request-Id"]
    assert len(made_up) == 32
    async with http.get(node.url("/healthz"), headers={"X-Request-Id": "nginx-7f3a9c"}) as response:
        assert response.headers["X-Request-Id"] == "nginx-7f3a9c"
    async with http.get(node.url("/healthz"), headers={"X-Request-Id": "bad id\twith spaces"}) as response:
        assert response.headers["X-Request-Id"] not in ("bad id\twith spaces", made_up)


async def test_json_log_lines_carry_the_request_id(node, http):
    """With the JSON formatter, a line logged while a Mastodon-shaped reply is accepted names its request id."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("fednode.inbox")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        async with fake_remote() as remote:
            alice = remote.add_actor("alice")
            status, _ = await signed_post(http, node.url("/inbox"), reply_to(node.url("/articles/x"), alice), alice,
                                          headers={"X-Request-Id": "req-json-1"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert status == 202
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the inbox logged nothing"
    assert any(line.get("request_id") == "req-json-1" and line["logger"] == "fednode.inbox" for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
