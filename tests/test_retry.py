"""The delivery retry policy (node.federation.retry), as tables: classify, backoff, Retry-After."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from node.federation.retry import MAX_ATTEMPTS, MAX_RETRY_AFTER, Verdict, backoff, classify, next_attempt, parse_retry_after

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)


class NoJitter(random.Random):
    """A Random whose jitter is always the lowest it can be: backoff gives the bare n⁴ + 15 s."""

    def uniform(self, a: float, b: float) -> float:
        return a


class MostJitter(random.Random):
    """A Random whose jitter is always the highest it can be."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.DONE), (202, Verdict.DONE), (204, Verdict.DONE),
    (400, Verdict.GIVE_UP), (403, Verdict.GIVE_UP), (404, Verdict.GIVE_UP), (410, Verdict.GIVE_UP),
    (422, Verdict.GIVE_UP), (501, Verdict.GIVE_UP),
    (401, Verdict.RETRY), (408, Verdict.RETRY), (429, Verdict.RETRY), (500, Verdict.RETRY),
    (502, Verdict.RETRY), (503, Verdict.RETRY), (None, Verdict.RETRY),
])
def test_classify_sorts_answers_like_mastodon(status, verdict):
    """2xx is done, a 4xx other than 401/408/429 (and 501) is given up, the rest is retried."""
    # Given an answer (None: a network error, no answer at all)
    # When it is classified
    result = classify(status)
    # Then the verdict is Mastodon's
    assert result is verdict


@pytest.mark.parametrize("attempts, low, high", [
    (1, 15, 25),                       # n = 0: 15 s + rand(10)·1
    (2, 16, 16 + 0.5 + 20),            # n = 1
    (3, 31, 31 + 8 + 30),              # n = 2
    (6, 640, 640 + 312.5 + 60),        # n = 5
    (11, 10_015, 10_015 + 5_000 + 110),  # n = 10: about 2.8 h
    (15, 38_431, 38_431 + 19_208 + 150),  # n = 14: the last wait
])
def test_backoff_stays_inside_the_formula_window(attempts, low, high):
    """After ``attempts`` failures the wait is n⁴ + 15 s plus at most 0.5·n⁴ + 10·(n+1) s of jitter."""
    # Given a seeded random source, drawn many times
    rng = random.Random(1234)
    # When the backoff is computed repeatedly
    waits = [backoff(attempts, rng).total_seconds() for _ in range(200)]
    # Then every wait is inside the window, and the jitter really varies
    assert all(low <= wait <= high for wait in waits)
    assert max(waits) - min(waits) > 1


@pytest.mark.parametrize("attempts, seconds", [(1, 15), (2, 16), (3, 31), (4, 96), (5, 271), (6, 640), (11, 10_015), (15, 38_431)])
def test_backoff_without_jitter_is_n_to_the_fourth_plus_15(attempts, seconds):
    """The bare schedule is Mastodon's n⁴ + 15 s with n = attempts - 1."""
    # Given a random source that adds no jitter
    # When the backoff is computed
    wait = backoff(attempts, NoJitter())
    # Then it is the formula's base value
    assert wait == timedelta(seconds=seconds)


def test_backoff_grows_as_the_fourth_power():
    """Each bare wait is n⁴ + 15: the differences between waits grow like the fourth power."""
    # Given the bare waits of every retry
    waits = [backoff(a, NoJitter()).total_seconds() - 15 for a in range(1, MAX_ATTEMPTS)]
    # When compared with n⁴
    # Then they are exactly n⁴, so strictly increasing, and the last is 15⁴
    assert waits == [n ** 4 for n in range(0, MAX_ATTEMPTS - 1)]
    assert waits[-1] == 50_625


@pytest.mark.parametrize("attempts", [MAX_ATTEMPTS, MAX_ATTEMPTS + 1, 100])
def test_backoff_gives_up_after_sixteen_retries(attempts):
    """After the first attempt and 16 retries (Mastodon's retry: 16) there is no next one."""
    # Given as many failed attempts as the policy allows, or more
    # When the backoff is asked for
    # Then it says give up
    assert backoff(attempts, random.Random(1)) is None


def test_the_whole_schedule_lasts_two_to_three_days():
    """Sixteen waits between seventeen attempts: about 49.6 h bare, at most about 74.7 h with full jitter."""
    # Given every wait of the schedule with no jitter and with the most jitter
    bare = sum(backoff(a, NoJitter()).total_seconds() for a in range(1, MAX_ATTEMPTS))
    most = sum(backoff(a, MostJitter()).total_seconds() for a in range(1, MAX_ATTEMPTS))
    # When they are added up
    # Then the totals are the formula's
    assert bare == 178_552  # Σ n⁴ (n = 0..15) + 16·15
    assert most == 269_068  # + Σ 0.5·n⁴ + Σ 10·(n+1)


@pytest.mark.parametrize("value, expected", [
    ("120", timedelta(seconds=120)),
    ("  30 ", timedelta(seconds=30)),
    ("0", timedelta(0)),
    ("3600", timedelta(hours=1)),
    ("Tue, 24 Nov 2026 13:00:00 GMT", timedelta(hours=1)),
    ("Tue, 24 Nov 2026 12:00:30 +0000", timedelta(seconds=30)),
    ("Tue, 24 Nov 2026 14:00:00 +0100", timedelta(hours=1)),
    ("Tue, 24 Nov 2026 11:00:00 GMT", timedelta(0)),      # already past: now
    ("Wed, 21 Oct 2015 07:28:00 GMT", timedelta(0)),
    ("86400", MAX_RETRY_AFTER),
    ("999999", MAX_RETRY_AFTER),                         # capped at a day
    ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    ("9" * 30, MAX_RETRY_AFTER),                         # absurdly long number: still capped, no overflow
    (None, None),
    ("", None),
    ("soon", None),
    ("1.5", None),
    ("-5", None),
    ("²", None),                                         # a Unicode digit is not a number of seconds
    ("１２", None),
    ("Tue, 99 Nov 2026 13:00:00 GMT", None),
])
def test_parse_retry_after(value, expected):
    """Retry-After is seconds or an HTTP date; the past means now; garbage is ignored; a day at most."""
    # Given a Retry-After header value as a server sent it
    # When it is parsed at a fixed moment
    wait = parse_retry_after(value, NOW)
    # Then it is the expected wait
    assert wait == expected


@pytest.mark.parametrize("attempts, retry_after, low, high", [
    (1, None, 15, 25),                 # no header: the backoff
    (1, "3600", 3600, 3600),           # the header asks for longer: it wins
    (1, "5", 15, 25),                  # the header asks for less: the backoff wins
    (11, "60", 10_015, 15_125),        # late in the schedule the backoff is longer than the header
    (1, "garbage", 15, 25),
    (1, "Tue, 24 Nov 2026 14:00:00 GMT", 7200, 7200),
])
def test_next_attempt_takes_the_later_of_backoff_and_retry_after(attempts, retry_after, low, high):
    """The next attempt is never earlier than the backoff nor than what Retry-After asked."""
    # Given a number of failures and a Retry-After header (or none)
    rng = random.Random(99)
    # When the next attempt is scheduled
    when = next_attempt(attempts, retry_after, NOW, rng)
    # Then it lies in the expected window after now
    assert low <= (when - NOW).total_seconds() <= high


def test_next_attempt_is_none_once_attempts_are_used_up_even_with_retry_after():
    """A Retry-After does not extend the schedule past its last attempt."""
    # Given the last allowed attempt failed with a Retry-After
    # When the next attempt is scheduled
    when = next_attempt(MAX_ATTEMPTS, "60", NOW, random.Random(5))
    # Then there is none
    assert when is None


def test_a_seeded_random_gives_the_same_schedule():
    """The jitter comes only from the random source passed in, so a seed reproduces a schedule."""
    # Given two random sources with the same seed
    first, second = random.Random(42), random.Random(42)
    # When the whole schedule is drawn from each
    # Then both schedules are identical
    assert [backoff(a, first) for a in range(1, 16)] == [backoff(a, second) for a in range(1, 16)]
