"""The moderation policy: one verdict (publish, hold or reject) for each incoming comment.

Pure: ``Policy(candidate)`` reads only the ``Candidate`` (facts gathered before
the decision, see ``node.moderation.decide``) and its own configuration, so it
runs at the decide step of any store path and is tested with tables.

Named rules are evaluated in order; the first one that matches decides.  A rule
in dry-run mode only counts what it would have done and lets the evaluation go
on.  The anchors: WordPress holds a comment until its author has one approved
comment; Pleroma's MRF policies (AntiMentionSpam/Hellthread, AntiLinkSpam,
Keyword); Mastodon's domain blocks (silence, suspend); GoToSocial's
interaction policies (who may reply).  Trust is keyed on the signature-verified
actor and its instance, never on anything a sender merely claims.

Patterns are RE2 (google-re2): matching is linear in the text, so no pattern
can hang the node, whatever it and the comment contain.
"""

from __future__ import annotations

import enum
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import re2

# --- verdicts -----------------------------------------------------------------------------------


class Verdict(str, enum.Enum):
    """What becomes of a comment."""

    PUBLISH = "publish"  # stored, shown, announced by the Group
    HOLD = "hold"  # stored, shown to nobody, until a moderator decides
    REJECT = "reject"  # not stored as a comment (its activity row says why)


@dataclass(frozen=True)
class Judgement:
    """The verdict, the rule that gave it and why; ``send_reject`` when the author's server gets a ``Reject``."""

    verdict: Verdict
    rule: str | None = None
    reason: str | None = None
    send_reject: bool = False
    hits: tuple[str, ...] = ()  # rules that matched and decided (at most one) or were in dry-run mode
    dry_hits: tuple[str, ...] = ()  # rules in dry-run mode that matched

    @property
    def shown(self) -> bool:
        return self.verdict is Verdict.PUBLISH


PUBLISH = Judgement(Verdict.PUBLISH)


# --- the facts about one comment ----------------------------------------------------------------


@dataclass(slots=True)
class Candidate:
    """Everything the rules may look at, gathered before the decision (no I/O in the rules).

    Not frozen, though no rule changes it: the decide step builds one per incoming comment, and a
    frozen dataclass's ``__init__`` (``object.__setattr__`` for each of the fields) costs about
    three times as much.
    """

    actor_ap_id: str
    domain: str
    now: datetime
    text: str = ""  # the comment's plain text (content, summary, name)
    mentions: int = 0
    links: int = 0
    approved: int = 0  # the author's comments shown here (its trust)
    instance_seen: bool = True  # a comment from this instance is shown here already
    actor_published: datetime | None = None  # when the account was created, as its server says
    actor_followers: int | None = None  # its followers, when its server says (None: unknown)
    banned: bool = False
    domain_severity: str | None = None  # silence | suspend | None
    thread_locked: bool = False
    reply_policy: str = "open"  # open | followers | approval | closed
    replies_close_at: datetime | None = None
    follows_site: bool = False  # the author follows the site Group or the article's author
    # Posts by the author, and from its instance, in the last hour, this one excluded.  The decide step
    # reads them only up to the rule's limit (all the rule needs), so past it they are lower bounds.
    actor_recent: int = 0
    instance_recent: int = 0


# --- configuration ------------------------------------------------------------------------------

FIRST_COMMENTS_CHOICES = ("off", "first", "all")


def parse_first_comments(value: str) -> int | None:
    """``moderation_first_comments`` as the number of approved comments an actor needs before it is
    trusted: off → 0, first → 1, N → N, all → None (never trusted)."""
    text = str(value).strip().lower()
    if text == "off":
        return 0
    if text == "first":
        return 1
    if text == "all":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(f"{value!r} is not off, first, all or a number of comments")


@dataclass(frozen=True)
class PolicyConfig:
    """The settings the rules read (``from_settings`` maps ``moderation_*`` onto them)."""

    trusted_after: int | None = 1  # approved comments before an actor is trusted (None: never)
    hold_new_instances: bool = True
    max_mentions: int = 5  # hold at this many mentions or more (0: off)
    hold_links: bool = True  # hold links from never-approved actors
    new_account_days: int = 7  # hold accounts younger than this without followers (0: off)
    patterns: tuple[str, ...] = ()  # RE2 patterns, matched case-insensitively against the text
    actor_rate: int = 10  # comments an hour from one actor before its next are held (0: off)
    instance_rate: int = 60  # comments an hour from one instance before its next are held (0: off)
    dry_run: frozenset[str] = field(default_factory=frozenset)  # rule names that only count

    @classmethod
    def from_settings(cls, settings: Any) -> "PolicyConfig":
        return cls(
            trusted_after=parse_first_comments(settings.moderation_first_comments),
            hold_new_instances=settings.moderation_hold_new_instances,
            max_mentions=settings.moderation_max_mentions,
            hold_links=settings.moderation_hold_links,
            new_account_days=settings.moderation_new_account_days,
            patterns=tuple(settings.moderation_patterns),
            actor_rate=settings.moderation_actor_rate,
            instance_rate=settings.moderation_instance_rate,
            dry_run=frozenset(settings.moderation_dry_run),
        )


def compile_patterns(patterns: Iterable[str]) -> list[tuple[str, Any]]:
    """Each pattern compiled with RE2; ValueError naming the first that does not compile."""
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 8 << 20  # a pathological pattern fails to compile instead of eating memory
    compiled = []
    for pattern in patterns:
        try:
            compiled.append((pattern, re2.compile(pattern, options)))
        except re2.error as exc:
            raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
    return compiled


def config_problems(settings: Any) -> list[str]:
    """Problems with the ``moderation_*`` settings, each naming its setting (for check-config)."""
    found = []
    try:
        parse_first_comments(settings.moderation_first_comments)
    except ValueError as exc:
        found.append(f"moderation_first_comments: {exc}")
    for pattern in settings.moderation_patterns:
        try:
            compile_patterns([pattern])
        except ValueError as exc:
            found.append(f"moderation_patterns: {exc}")
    unknown = sorted(set(settings.moderation_dry_run) - set(RULE_NAMES))
    if unknown:
        found.append(f"moderation_dry_run: no rule named {', '.join(unknown)} (rules: {', '.join(RULE_NAMES)})")
    for name in ("moderation_max_mentions", "moderation_new_account_days", "moderation_actor_rate",
                 "moderation_instance_rate"):
        if getattr(settings, name) < 0:
            found.append(f"{name}: must be 0 (off) or more")
    return found


# --- the rules ----------------------------------------------------------------------------------

Check = Callable[[Candidate, PolicyConfig, "Policy"], "str | None"]


@dataclass(frozen=True)
class Rule:
    """A named check: the reason it gives when it matches (None when it does not) and its verdict."""

    name: str
    verdict: Verdict
    check: Check
    send_reject: bool = False
    description: str = ""


def _untrusted(c: Candidate, cfg: PolicyConfig) -> bool:
    return cfg.trusted_after is None or c.approved < cfg.trusted_after


def _banned(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    return "its author is banned here" if c.banned else None


def _suspended(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    return f"{c.domain} is suspended here" if c.domain_severity == "suspend" else None


def _locked(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    return "the thread is locked" if c.thread_locked else None


def _closed(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if c.reply_policy == "closed":
        return "the article is closed to comments"
    if c.replies_close_at is not None and c.now >= c.replies_close_at:
        return "the article closed to comments on " + c.replies_close_at.strftime("%Y-%m-%d")
    return None


def _followers_only(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if c.reply_policy == "followers" and not c.follows_site:
        return "only followers may reply to this article"
    return None


def _approval(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    return "replies to this article need approval" if c.reply_policy == "approval" else None


def _silenced(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    return f"{c.domain} is silenced here" if c.domain_severity == "silence" else None


def _first_comments(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.trusted_after == 0 or not _untrusted(c, cfg):
        return None
    if cfg.trusted_after is None:
        return "every comment is held for approval"
    if c.approved == 0:
        return "the author's first comment here"
    return f"the author has {c.approved} of {cfg.trusted_after} approved comments needed"


def _new_instance(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.hold_new_instances and not c.instance_seen:
        return f"the first comment from {c.domain}"
    return None


def _mentions(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.max_mentions and c.mentions >= cfg.max_mentions:
        return f"{c.mentions} mentions (at most {cfg.max_mentions - 1} pass)"
    return None


def _links(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.hold_links and c.links and c.approved == 0:
        return f"{c.links} link(s) from an author never approved here"
    return None


def _new_account(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if not cfg.new_account_days or c.approved or c.actor_published is None or c.actor_followers:
        return None
    if c.now - c.actor_published < timedelta(days=cfg.new_account_days):
        return f"an account created {c.actor_published:%Y-%m-%d}, without known followers"
    return None


def _patterns(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    for source, pattern in p.patterns:
        if pattern.search(c.text):
            return f"matches the pattern {source!r}"
    return None


def _actor_rate(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.actor_rate and c.actor_recent >= cfg.actor_rate:
        return f"its author sent at least {c.actor_recent} comments in the last hour (limit {cfg.actor_rate})"
    return None


def _instance_rate(c: Candidate, cfg: PolicyConfig, p: "Policy") -> str | None:
    if cfg.instance_rate and c.instance_recent >= cfg.instance_rate:
        return f"{c.domain} sent at least {c.instance_recent} comments in the last hour (limit {cfg.instance_rate})"
    return None


RULES: tuple[Rule, ...] = (
    Rule("banned", Verdict.REJECT, _banned, description="the author is banned"),
    Rule("suspended", Verdict.REJECT, _suspended, description="the author's domain is suspended"),
    Rule("locked", Verdict.REJECT, _locked, send_reject=True, description="the thread is locked"),
    Rule("closed", Verdict.REJECT, _closed, send_reject=True,
         description="the article is closed, or closed after its time"),
    Rule("followers-only", Verdict.REJECT, _followers_only, send_reject=True,
         description="the article takes replies from followers only"),
    Rule("approval", Verdict.HOLD, _approval, description="the article's replies need approval"),
    Rule("silenced", Verdict.HOLD, _silenced, description="the author's domain is silenced"),
    Rule("first-comments", Verdict.HOLD, _first_comments,
         description="the author has fewer approved comments than moderation_first_comments asks"),
    Rule("new-instance", Verdict.HOLD, _new_instance, description="no comment from the instance is shown yet"),
    Rule("mentions", Verdict.HOLD, _mentions, description="moderation_max_mentions or more mentions"),
    Rule("links", Verdict.HOLD, _links, description="links, from an author never approved"),
    Rule("new-account", Verdict.HOLD, _new_account,
         description="an account younger than moderation_new_account_days without followers"),
    Rule("patterns", Verdict.HOLD, _patterns, description="the text matches one of moderation_patterns"),
    Rule("actor-rate", Verdict.HOLD, _actor_rate, description="the author is over moderation_actor_rate"),
    Rule("instance-rate", Verdict.HOLD, _instance_rate, description="the instance is over moderation_instance_rate"),
)
RULE_NAMES = tuple(rule.name for rule in RULES)
RATE_RULES = ("actor-rate", "instance-rate")  # the rules that read actor_recent and instance_recent


class Policy:
    """``Policy(config)(candidate) -> Judgement``: the rules in order, the first live match decides."""

    def __init__(self, config: PolicyConfig | None = None, rules: tuple[Rule, ...] = RULES) -> None:
        self.config = config or PolicyConfig()
        self.rules = rules
        self.patterns = compile_patterns(self.config.patterns)
        self._steps = tuple((rule.check, rule) for rule in rules)  # read once per comment, so kept at hand

    @classmethod
    def from_settings(cls, settings: Any) -> "Policy":
        return cls(PolicyConfig.from_settings(settings))

    def __call__(self, candidate: Candidate) -> Judgement:
        config = self.config
        dry: list[str] = []
        for check, rule in self._steps:
            reason = check(candidate, config, self)
            if reason is None:
                continue
            if rule.name in config.dry_run:
                dry.append(rule.name)
                continue
            return Judgement(rule.verdict, rule.name, reason, rule.send_reject, (rule.name,), tuple(dry))
        return Judgement(Verdict.PUBLISH, dry_hits=tuple(dry)) if dry else PUBLISH


# --- facts read from a document (pure helpers for the fact gathering) ---------------------------

_ANCHOR = re.compile(r"<a\s[^>]*>", re.IGNORECASE)  # linear: no nested quantifiers
_CLASS = re.compile(r"""\bclass\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def count_links(content_html: str, mention_hrefs: Iterable[str] = ()) -> int:
    """Links in a comment's HTML that are neither mentions nor hashtags.

    Mastodon and Misskey mark mentions and hashtags with classes (``u-url mention``,
    ``hashtag``); Lemmy does not, so a link to an actor the object's ``Mention``
    tags name is a mention too.
    """
    skip = set(mention_hrefs)
    count = 0
    for anchor in _ANCHOR.findall(content_html or ""):
        found = _CLASS.search(anchor)
        classes = set(found.group(1).split()) if found else set()
        href = _HREF.search(anchor)
        if classes & {"mention", "hashtag"} or (href and html.unescape(href.group(1)) in skip):
            continue
        count += 1
    return count


def mention_hrefs(document: dict[str, Any]) -> set[str]:
    """The actor ids the object's ``Mention`` tags name."""
    return {t["href"] for t in _tags(document) if t.get("type") == "Mention" and isinstance(t.get("href"), str)}


def _tags(document: dict[str, Any]) -> list[dict[str, Any]]:
    tags = document.get("tag")
    tags = tags if isinstance(tags, list) else [tags] if isinstance(tags, dict) else []
    return [t for t in tags if isinstance(t, dict)]


def count_mentions(document: dict[str, Any]) -> int:
    """Distinct ``Mention`` tags of an object (Mastodon, Misskey, Lemmy and GoToSocial all send them)."""
    return len({t.get("href") or t.get("name") for t in _tags(document) if t.get("type") == "Mention"})


def plain_text(document: dict[str, Any], content_html: str) -> str:
    """What the pattern rules read: the summary, the name and the content without its tags."""
    parts = [document.get(key) for key in ("summary", "name")]
    parts.append(html.unescape(_TAG.sub(" ", content_html or "")))
    return "\n".join(part for part in parts if isinstance(part, str))
