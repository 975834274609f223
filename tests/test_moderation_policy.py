"""The moderation policy as a pure function: each rule, its order, dry runs and the facts read from documents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from node.config import load
from node.moderation.policy import (RULE_NAMES, Candidate, Policy, PolicyConfig, Verdict, config_problems,
                                    count_links, count_mentions, mention_hrefs, parse_first_comments, plain_text)
from tests.payloads import lemmy_comment, misskey_reply, mention
from tests.fakes.remote import RemoteActor

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def trusted(**facts) -> Candidate:
    """A comment from an approved author of a known instance, to which ``facts`` add one thing."""
    return Candidate(**{"actor_ap_id": "https://mastodon.example/users/alice", "domain": "mastodon.example",
                        "now": NOW, "approved": 3, **facts})


def judge(candidate: Candidate, **config):
    return Policy(PolicyConfig(**config))(candidate)


@pytest.mark.parametrize("facts, rule, verdict", [
    ({"banned": True}, "banned", Verdict.REJECT),
    ({"domain_severity": "suspend"}, "suspended", Verdict.REJECT),
    ({"thread_locked": True}, "locked", Verdict.REJECT),
    ({"reply_policy": "closed"}, "closed", Verdict.REJECT),
    ({"replies_close_at": NOW - timedelta(days=1)}, "closed", Verdict.REJECT),
    ({"reply_policy": "followers"}, "followers-only", Verdict.REJECT),
    ({"reply_policy": "approval"}, "approval", Verdict.HOLD),
    ({"domain_severity": "silence"}, "silenced", Verdict.HOLD),
    ({"approved": 0}, "first-comments", Verdict.HOLD),
    ({"instance_seen": False}, "new-instance", Verdict.HOLD),
    ({"mentions": 5}, "mentions", Verdict.HOLD),
    ({"text": "Buy CHEAP pills now"}, "patterns", Verdict.HOLD),
    ({"actor_recent": 10}, "actor-rate", Verdict.HOLD),
    ({"instance_recent": 60}, "instance-rate", Verdict.HOLD),
])
def test_each_rule_gives_its_verdict(facts, rule, verdict):
    """One fact that a rule looks for makes that rule decide, with its verdict and a reason."""
    judgement = judge(trusted(**facts), patterns=(r"cheap\s+pills",))
    assert (judgement.rule, judgement.verdict) == (rule, verdict)
    assert judgement.reason


def test_a_trusted_author_with_nothing_suspicious_is_published():
    assert judge(trusted()).verdict is Verdict.PUBLISH


def test_rejections_for_locks_and_reply_policies_are_sent_back_to_the_author():
    """Locked, closed and followers-only rejections owe the author's server a Reject; blocks and bans do not."""
    assert judge(trusted(thread_locked=True)).send_reject
    assert judge(trusted(reply_policy="followers")).send_reject
    assert not judge(trusted(banned=True)).send_reject
    assert not judge(trusted(domain_severity="suspend")).send_reject


def test_links_and_new_accounts_are_held_only_from_never_approved_authors():
    new_account = {"actor_published": NOW - timedelta(days=2), "actor_followers": None}
    assert judge(trusted(links=2)).verdict is Verdict.PUBLISH
    assert judge(trusted(approved=0, links=2), trusted_after=0).rule == "links"
    assert judge(trusted(**new_account)).verdict is Verdict.PUBLISH
    assert judge(trusted(approved=0, **new_account), trusted_after=0).rule == "new-account"
    assert judge(trusted(approved=0, actor_published=NOW - timedelta(days=2), actor_followers=40),
                 trusted_after=0).verdict is Verdict.PUBLISH


def test_followers_only_article_takes_replies_from_followers():
    assert judge(trusted(reply_policy="followers", follows_site=True)).verdict is Verdict.PUBLISH


@pytest.mark.parametrize("setting, approved, verdict", [
    ("off", 0, Verdict.PUBLISH), ("first", 0, Verdict.HOLD), ("first", 1, Verdict.PUBLISH),
    ("3", 2, Verdict.HOLD), ("3", 3, Verdict.PUBLISH), ("all", 50, Verdict.HOLD),
])
def test_first_comments_setting_counts_approved_comments(setting, approved, verdict):
    """off, first, N and all, as WordPress ("comment author must have a previously approved comment") and Discourse."""
    judgement = judge(trusted(approved=approved), trusted_after=parse_first_comments(setting), hold_links=False)
    assert judgement.verdict is verdict


def test_rules_run_in_order_and_the_first_match_decides():
    """A banned author on a suspended domain is rejected by "banned", the first rule."""
    judgement = judge(trusted(banned=True, domain_severity="suspend", approved=0))
    assert judgement.rule == "banned"
    assert judgement.hits == ("banned",)


def test_a_rule_in_dry_run_only_counts_and_the_next_rule_decides():
    judgement = judge(trusted(approved=0, mentions=9), dry_run=frozenset({"first-comments"}))
    assert judgement.rule == "mentions"
    assert judgement.dry_hits == ("first-comments",)
    alone = judge(trusted(approved=0), dry_run=frozenset({"first-comments"}), hold_links=False)
    assert alone.verdict is Verdict.PUBLISH and alone.dry_hits == ("first-comments",)


def test_zero_turns_counting_rules_off():
    judgement = judge(trusted(mentions=50, actor_recent=500, instance_recent=5000),
                      max_mentions=0, actor_rate=0, instance_rate=0)
    assert judgement.verdict is Verdict.PUBLISH


def test_a_pattern_that_would_backtrack_forever_in_python_re_is_linear_in_re2():
    """(a+)+$ against 'aaaa…b' takes exponential time with backtracking; RE2 answers at once."""
    judgement = judge(trusted(text="a" * 5000 + "b"), patterns=(r"(a+)+$",))
    assert judgement.verdict is Verdict.PUBLISH


def test_patterns_that_do_not_compile_are_named_by_check_config():
    settings = load(environ={}, overrides={"moderation_patterns": ["ok", "(unclosed"],
                                           "moderation_first_comments": "sometimes",
                                           "moderation_dry_run": ["no-such-rule"]}, read_default_file=False)
    problems = config_problems(settings)
    assert any(p.startswith("moderation_patterns:") and "(unclosed" in p for p in problems)
    assert any(p.startswith("moderation_first_comments:") for p in problems)
    assert any(p.startswith("moderation_dry_run:") and "no-such-rule" in p for p in problems)


def test_every_rule_has_a_unique_name():
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


# --- facts read from real payload shapes -----------------------------------------------------------

def _actor(base: str, name: str) -> RemoteActor:
    ident = f"{base}/users/{name}"
    return RemoteActor(ident, None, ident + "#main-key", {"id": ident, "preferredUsername": name,
                                                          "followers": ident + "/followers"})


def test_mastodon_mentions_and_hashtags_are_not_links():
    """Mastodon marks mentions "u-url mention" and hashtags "mention hashtag"; a plain link counts."""
    html = ('<p><span class="h-card"><a href="https://a.example/@bob" class="u-url mention">@<span>bob</span></a>'
            '</span> see <a href="https://spam.example/x" rel="nofollow noopener" target="_blank">this</a> '
            '<a href="https://a.example/tags/x" class="mention hashtag" rel="tag">#<span>x</span></a></p>')
    assert count_links(html) == 1


def test_lemmy_mentions_are_plain_links_named_by_mention_tags():
    """Lemmy renders a mention as a bare link; its Mention tag names the same href."""
    lemmy = _actor("https://lemmy.example", "carol")
    activity = lemmy_comment(lemmy, "https://forum.example/articles/a",
                             '<p><a href="https://lemmy.example/u/dave">@dave@lemmy.example</a> hi</p>',
                             "[@dave@lemmy.example](https://lemmy.example/u/dave) hi",
                             community="https://lemmy.example/c/forum",
                             mentioned=("https://lemmy.example/u/dave", "@dave@lemmy.example"))
    document = activity["object"]
    assert count_links(document["content"], mention_hrefs(document)) == 0
    assert count_mentions(document) == 1


def test_misskey_mentions_are_counted_from_its_tags():
    misskey = _actor("https://misskey.example", "mei")
    others = [mention(f"https://misskey.example/users/{n}", f"@u{n}@misskey.example") for n in range(6)]
    html = " ".join(f'<a href="https://misskey.example/@u{n}" class="u-url mention">@u{n}</a>' for n in range(6))
    activity = misskey_reply(misskey, "https://forum.example/articles/a", f"<p>{html} hi all</p>",
                             " ".join(f"@u{n}" for n in range(6)) + " hi all", tags=others)
    assert count_mentions(activity["object"]) == 6


def test_pattern_text_includes_the_content_warning_and_decodes_entities():
    text = plain_text({"summary": "CW: offer"}, "<p>cheap&nbsp;pills &amp; more</p>")
    assert "CW: offer" in text and "cheap\xa0pills & more" in text
