"""The delivery retry policy: pure functions, tested with tables.

Mastodon's numbers (``app/workers/activitypub/delivery_worker.rb``, Sidekiq's backoff): retry n waits n⁴ + 15 s plus jitter,
16 retries after the first attempt (about two to three days); 2xx is done; a 4xx other than
401, 408 and 429 (and 501) will never succeed, so it is given up at once;
everything else, network errors included, is retried.
"""

from __future__ import annotations

import enum
import random
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Mastodon's DeliveryWorker has `retry: 16`: the first attempt and 16 retries, 49.6 h of
# waits before jitter (up to ~75 h with it).
MAX_ATTEMPTS = 17
MAX_RETRY_AFTER = timedelta(days=1)  # a Retry-After beyond this is a misconfiguration, not a plan
RETRYABLE_4XX = frozenset({401, 408, 429})


class Verdict(enum.Enum):
    """What to do with a delivery after one attempt."""

    DONE = "done"
    RETRY = "retry"
    GIVE_UP = "give up"


def classify(status: int | None) -> Verdict:
    """Sort an answer (None: no answer, a network error) into done, retry or give up."""
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.DONE
    if status == 501 or (400 <= status < 500 and status not in RETRYABLE_4XX):
        return Verdict.GIVE_UP
    return Verdict.RETRY


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """How long to wait after ``attempts`` failed attempts, or None when it is time to give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    rng = rng or random
    n = attempts - 1  # the first retry is Mastodon's n = 0
    base = n ** 4 + 15
    jitter = rng.uniform(0, 0.5 * n ** 4) + rng.uniform(0, 10) * (n + 1)
    return timedelta(seconds=base + jitter)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date, capped at a day; None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    # isdigit() alone also accepts "²" or "１２" (int() then raises), and a long run of
    # digits overflows timedelta: only ASCII digits count, and any long number is "too long".
    if value.isascii() and value.isdigit():
        wait = MAX_RETRY_AFTER if len(value) > 9 else timedelta(seconds=int(value))
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        wait = moment - now
    if wait <= timedelta(0):
        return timedelta(0)
    return min(wait, MAX_RETRY_AFTER)


def next_attempt(attempts: int, retry_after: str | None, now: datetime, rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts`` failures: the later of the backoff and Retry-After."""
    wait = backoff(attempts, rng)
    if wait is None:
        return None
    asked = parse_retry_after(retry_after, now)
    if asked is not None and asked > wait:
        wait = asked
    return now + wait
