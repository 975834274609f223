"""Every setting of the node, in one table, and how they are loaded.

Precedence, lowest first: the defaults in ``SETTINGS`` < the TOML config file
< ``FEDNODE_*`` environment variables < command-line flags.  ``docs/configuration.md``
has a heading per setting and ``tests/test_docs.py`` keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from node.errors import ConfigError

ENV_PREFIX = "FEDNODE_"
DEFAULT_CONFIG_FILE = "fednode.toml"
USERNAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
REGISTRATION_MODES = ("open", "approval", "invite", "closed")


@dataclass(frozen=True)
class Setting:
    """One configurable value: its name, type, default and a one-line help."""

    name: str
    type: type
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("base_url", str, "http://localhost:8080",
            "Public URL of the node as remote servers and browsers reach it (scheme, host, optional port)."),
    Setting("listen_host", str, "127.0.0.1",
            "Address the HTTP server binds to; keep 127.0.0.1 behind a reverse proxy."),
    Setting("listen_port", int, 8080, "TCP port the HTTP server binds to."),
    Setting("database_url", str, "sqlite+aiosqlite:///fednode.db",
            "SQLAlchemy URL of the database: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db."),
    Setting("keys_dir", str, "keys", "Folder that holds the actors' private keys (PEM, mode 0600)."),
    Setting("site_username", str, "forum", "Username of the site's Group actor (the forum): 1-30 of a-z, 0-9 and _, e.g. forum "
            "(its handle is then @forum@<host of base_url>)."),
    Setting("site_name", str, "Fednode forum", "Display name of the site and of its Group actor."),
    Setting("site_summary", str, "A discussion forum on the fediverse.",
            "Short plain-text description of the site, shown on its profile and in NodeInfo."),
    Setting("site_rules", str, "",
            "The site's rules, one a line, shown to people who join and comment (admins can change them at /admin/site)."),
    Setting("default_author", str, "editor", "Username of the first local author that `fednode init` creates."),
    Setting("open_registrations", bool, False, "Reported in NodeInfo: whether people can sign up here."),
    Setting("authorized_fetch", bool, False,
            "Require a signed GET for our ActivityStreams documents (except the instance actor and keys)."),
    Setting("allow_http", bool, False,
            "Allow fetching remote documents over plain http (only for testing; https is the default)."),
    Setting("allow_private_network", bool, False,
            "Allow fetching from loopback and private addresses (only for tests on one machine)."),
    Setting("manual_approval", bool, False,
            "Hold new followers of the site and authors for approval (`fednode followers approve`) instead of accepting them."),
    Setting("run_worker", bool, True,
            "Run the delivery worker inside `fednode serve`; turn off when `fednode worker` runs separately."),
    Setting("delivery_concurrency", int, 128,
            "How many deliveries to servers that answer are sent at the same time (the fast lane)."),
    Setting("delivery_per_host", int, 4, "How many deliveries are sent at the same time to one server."),
    Setting("apply_lease_seconds", int, 600,
            "How long a process holds the received activities it claimed to apply; a crashed one's are applied by another after this."),
    Setting("delivery_slow_lane", int, 128,
            "How many deliveries to slow or unreachable servers may wait at the same time, apart from the others."),
    Setting("delivery_lease_seconds", int, 120,
            "How long a worker holds the deliveries it claimed; a crashed worker's claims are retried after this."),
    Setting("signing_processes", int, -1,
            "Processes that sign outgoing requests: -1 = one per CPU core (at most 4), 0 = sign in the node's own process."),
    Setting("max_body_bytes", int, 1024 * 1024, "Largest inbox request body accepted, in bytes (larger gets 413)."),
    Setting("blocked_domains", list, [], "Domains whose requests are refused with 403 and never fetched."),
    Setting("log_level", str, "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR."),
    Setting("log_format", str, "text",
            "Log line format: text, or json (one object per line with time, level, logger, message, request_id)."),
    Setting("metrics_allow", list, ["127.0.0.1", "::1"],
            "Addresses or networks (CIDR) that may read /metrics without a token; requests through a proxy never count."),
    Setting("metrics_token", str, "",
            "Bearer token that also opens /metrics from anywhere (empty: no token accepted)."),
    Setting("discuss_fetch_bytes", int, 2 * 1024 * 1024,
            "Largest web page read when a discussion of it is opened, in bytes (after decompression)."),
    Setting("discuss_fetch_seconds", int, 15,
            "How long reading a web page for a new discussion may take in all, redirects included, in seconds."),
    Setting("discuss_opens_per_hour", int, 10,
            "How many discussions of web pages one member may open in an hour (the operator's `fednode discuss` is not limited)."),
    Setting("api_origins", list, [],
            "Origins (scheme://host[:port]) whose pages may call the write API from a browser (CORS; Bearer tokens only, never cookies)."),
    Setting("webhook_allow_private_network", bool, False,
            "Let webhooks (fednode webhook add) reach private and loopback addresses over http or https, e.g. a receiver on this machine."),
    Setting("alias_hosts", list, [],
            "Other host[:port] names this node is reached under (e.g. a former domain); signed requests addressed "
            "to one of them verify against it. A request signed for any other host is refused."),
    Setting("database_busy_timeout", int, 30,
            "Seconds a request waits for a database lock before it is answered 503 with Retry-After (SQLite busy timeout)."),
    Setting("idle_timeout", int, 75,
            "Seconds an idle connection (keep-alive, or one that never sends a request) is kept open."),
    Setting("header_timeout", int, 15,
            "Seconds a client has to send a request's complete headers; slower connections are closed."),
    Setting("max_connections", int, 900,
            "Most client connections open at once; more are answered 503 and closed (keep below the file limit)."),
    Setting("max_header_bytes", int, 65536,
            "Largest request line plus headers accepted, in bytes; larger is answered 431 and closed."),
    Setting("moderation_first_comments", str, "first",
            "Hold comments of actors not yet trusted: off, first (until one is approved), a number N "
            "(until N are approved) or all."),
    Setting("moderation_hold_new_instances", bool, True,
            "Hold the first comment from an instance none of whose comments is shown yet."),
    Setting("moderation_max_mentions", int, 5, "Hold a comment with this many mentions or more (0 = off)."),
    Setting("moderation_hold_links", bool, True, "Hold a comment with links from an author never approved here."),
    Setting("moderation_new_account_days", int, 7,
            "Hold comments of accounts younger than this many days without known followers (0 = off)."),
    Setting("moderation_patterns", list, [],
            "RE2 patterns (case-insensitive) whose match in a comment's text holds it."),
    Setting("moderation_actor_rate", int, 10,
            "Hold an actor's comments past this many in an hour (0 = off)."),
    Setting("moderation_instance_rate", int, 60,
            "Hold an instance's comments past this many in an hour (0 = off)."),
    Setting("moderation_dry_run", list, [],
            "Policy rules that only count their matches, without holding or rejecting (see docs/moderation.md)."),
    Setting("discussion_page_size", int, 150,
            "Most comments one page of a discussion shows; later and deeper replies continue on pages of their own."),
    Setting("media_max_bytes", int, 8 * 1024 * 1024,
            "Largest remote image the media proxy passes on to readers, in bytes (larger ones are shown as links)."),
    Setting("embed_origins", list, [],
            "Origins of the sites that may embed discussions with embed.js, e.g. [\"https://blog.example\"] "
            "(\"*\" for any site); every other page refuses to be framed."),
    Setting("embed_open_threads", bool, False,
            "Let the first view of an embed open the discussion of its page, for pages on an embed_origins site "
            "(limited by discuss_opens_per_hour)."),
    Setting("avatar_max_bytes", int, 5 * 1024 * 1024,
            "Largest picture a member may upload as their avatar, in bytes (larger gets 413)."),
    Setting("avatar_max_pixels", int, 24_000_000,
            "Most pixels (width × height, read from the file's header before decoding) an uploaded avatar may have."),
    Setting("registration_mode", str, "closed",
            "Who can make an account: open, approval (an admin approves each application), invite (invite links only) "
            "or closed (only `fednode admin create`)."),
    Setting("session_days", int, 30,
            "Days a sign-in lasts after the browser last used it; then the member signs in again."),
    Setting("invite_days", int, 7, "Days an invite link made by `fednode admin invite` or an admin's page stays valid."),
    Setting("trusted_proxies", list, ["127.0.0.1", "::1"],
            "Addresses of reverse proxies whose X-Forwarded-For names the client (for sign-in rate limits per address)."),
    Setting("smtp_host", str, "",
            "SMTP server that sends e-mail (verification, password reset); empty: the node sends no e-mail."),
    Setting("smtp_port", int, 587, "Port of the SMTP server (587 with starttls, 465 with tls)."),
    Setting("smtp_security", str, "starttls",
            "How the SMTP connection is encrypted: starttls (upgrade a plain connection), tls (TLS from the start) or none."),
    Setting("smtp_username", str, "", "User name for the SMTP server (empty: no authentication)."),
    Setting("smtp_password", str, "", "Password for the SMTP server; a secret: never logged, best set by environment variable."),
    Setting("smtp_from", str, "", "The From address of the node's e-mail, e.g. \"Forum <forum@example.org>\" (default: noreply@<host>)."),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The loaded settings; fields mirror ``SETTINGS`` one to one."""

    base_url: str
    listen_host: str
    listen_port: int
    database_url: str
    keys_dir: str
    site_username: str
    site_name: str
    site_summary: str
    default_author: str
    open_registrations: bool
    authorized_fetch: bool
    allow_http: bool
    allow_private_network: bool
    manual_approval: bool
    run_worker: bool
    delivery_concurrency: int
    delivery_per_host: int
    delivery_lease_seconds: int
    delivery_slow_lane: int
    apply_lease_seconds: int
    signing_processes: int
    max_body_bytes: int
    blocked_domains: list = field(default_factory=list)
    log_level: str = "INFO"
    log_format: str = "text"
    metrics_allow: list = field(default_factory=lambda: ["127.0.0.1", "::1"])
    api_origins: list = field(default_factory=list)
    webhook_allow_private_network: bool = False
    metrics_token: str = ""
    discuss_fetch_bytes: int = 2 * 1024 * 1024
    discuss_fetch_seconds: int = 15
    discuss_opens_per_hour: int = 10
    alias_hosts: list = field(default_factory=list)
    database_busy_timeout: int = 30
    idle_timeout: int = 75
    header_timeout: int = 15
    max_connections: int = 900
    max_header_bytes: int = 65536
    moderation_first_comments: str = "first"
    moderation_hold_new_instances: bool = True
    moderation_max_mentions: int = 5
    moderation_hold_links: bool = True
    moderation_new_account_days: int = 7
    moderation_patterns: list = field(default_factory=list)
    moderation_actor_rate: int = 10
    moderation_instance_rate: int = 60
    moderation_dry_run: list = field(default_factory=list)
    discussion_page_size: int = 150
    media_max_bytes: int = 8 * 1024 * 1024
    embed_origins: list = field(default_factory=list)
    embed_open_threads: bool = False
    avatar_max_bytes: int = 5 * 1024 * 1024
    avatar_max_pixels: int = 24_000_000
    registration_mode: str = "closed"
    session_days: int = 30
    invite_days: int = 7
    trusted_proxies: list = field(default_factory=lambda: ["127.0.0.1", "::1"])
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)  # a secret: kept out of every repr and log line
    smtp_from: str = ""
    site_rules: str = ""
    config_file: str | None = None
    # The settings given in the config file, the environment or as flags (not left at their default).
    explicit: frozenset = frozenset()

    @property
    def is_development(self) -> bool:
        """A node without a configured ``base_url``: its public URL follows where it listens."""
        return "base_url" not in self.explicit

    @property
    def is_public(self) -> bool:
        """Whether other servers can reach this node: its public URL is not on this machine."""
        return not self.is_development and urlsplit(self.base_url).hostname not in ("localhost", "127.0.0.1", "::1")

    @property
    def base(self) -> str:
        """The base URL without a trailing slash."""
        return self.base_url.rstrip("/")

    # Read by every inbox request (node.web.inbox): worked out once per Settings (they are frozen;
    # ``replace`` makes a new one), not by splitting ``base_url`` again each time.
    @functools.cached_property
    def host(self) -> str:
        """The authority part of the base URL (host[:port]), lowercase; used in handles."""
        return urlsplit(self.base_url).netloc.lower()

    @functools.cached_property
    def signature_hosts(self) -> tuple[str, ...]:
        """The hosts a signed request may be addressed to: ``host`` first, then ``alias_hosts``."""
        return (self.host, *(alias.lower() for alias in self.alias_hosts if alias.lower() != self.host))

    @functools.cached_property
    def scheme(self) -> str:
        return urlsplit(self.base_url).scheme

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


_TOML_TYPES = {int: "a whole number without quotes, e.g. 8080", bool: "true or false, without quotes",
               str: "text in quotes", list: 'an array such as ["a.example", "b.example"]'}


def _coerce(setting: Setting, value: Any, source: str, *, typed: bool = False) -> Any:
    """Turn a raw value from a file, the environment or a flag into the setting's type.

    ``typed`` sources (the TOML file) already carry types, so they must have the right one:
    ``listen_port = "8081"`` or ``8081.9`` is an error, not quietly 8081. The environment and
    flags are text, which is parsed.
    """
    if typed and not _has_toml_type(setting, value):
        raise ConfigError(
            f"{setting.name}: {value!r} from {source} is not a valid {setting.type.__name__}: "
            f"write {_TOML_TYPES[setting.type]}"
        )
    try:
        if setting.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if setting.type is int:
            if isinstance(value, (bool, float)):  # never round 8081.9 to 8081
                raise ValueError(value)
            return int(value)
        if setting.type is list:
            if isinstance(value, (list, tuple)):
                return [str(v).strip() for v in value if str(v).strip()]
            return [part.strip() for part in str(value).split(",") if part.strip()]
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{setting.name}: {value!r} from {source} is not a valid {setting.type.__name__}"
        ) from None


def _has_toml_type(setting: Setting, value: Any) -> bool:
    if setting.type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if setting.type is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, setting.type)


def blocked_domain(entry: str) -> str:
    """The host a ``blocked_domains`` entry names, as the block compares it; ValueError if none.

    People write a domain (``spam.example``), a URL (``https://spam.example/``), a wildcard
    (``*.spam.example``; a blocked domain always covers its subdomains, so it is the domain) or a
    handle's host (``@spam.example``); each becomes the bare, lowercase, punycode host.
    """
    from node.federation.netguard import InvalidURL, normalize_host

    text = entry.strip()
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise ValueError(f"{entry!r} is not an http(s) URL")
        text = rest
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.removeprefix("@").removeprefix("*.").removeprefix(".")
    if text.startswith("[") and "]" in text:
        text = text[: text.index("]") + 1]  # an IPv6 literal, without a port
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # host:port
    if "*" in text or "@" in text or not text:
        raise ValueError(f"{entry!r} is not a domain")
    try:
        host = normalize_host(text)
    except InvalidURL:
        raise ValueError(f"{entry!r} is not a domain") from None
    return host


def _blocked_domains(entries: list[str]) -> tuple[list[str], list[str]]:
    """(normalised hosts, problems) of the ``blocked_domains`` entries."""
    hosts: list[str] = []
    errors: list[str] = []
    for entry in entries:
        try:
            host = blocked_domain(entry)
        except ValueError as exc:
            errors.append(f"blocked_domains: {exc}; write spam.example, *.spam.example or https://spam.example/")
            continue
        if host not in hosts:
            hosts.append(host)
    return hosts, errors


PATH_SETTINGS = ("keys_dir", "database_url")
SQLITE_PREFIX = "sqlite+aiosqlite:///"


def sqlite_path(database_url: str) -> str | None:
    """The file path of a SQLite ``database_url`` (as written, maybe relative), else None."""
    if not database_url.startswith(SQLITE_PREFIX):
        return None
    path = database_url[len(SQLITE_PREFIX):].split("?", 1)[0]
    return None if path in ("", ":memory:") else path


def _anchored(name: str, value: str, folder: Path) -> str:
    """A path setting's value with a relative path made absolute against ``folder``."""
    if name == "keys_dir":
        return value if Path(value).is_absolute() else str(folder / value)
    path = sqlite_path(value)
    if path is None or Path(path).is_absolute():
        return value
    return SQLITE_PREFIX + str(folder / path) + value[len(SQLITE_PREFIX) + len(path):]


def relative_to_config(name: str, value: str, config_file: Path) -> str:
    """A path setting's value as ``init`` writes it into ``config_file``: relative to the file's
    folder when inside it (the folder can move), else absolute; resolved the same way on load."""
    folder = config_file.resolve().parent
    if name == "keys_dir":
        target = Path(value).resolve()
        return os.path.relpath(target, folder) if target.is_relative_to(folder) else str(target)
    path = sqlite_path(value)
    if path is None:
        return value
    target = Path(path).resolve()
    written = os.path.relpath(target, folder) if target.is_relative_to(folder) else str(target)
    return SQLITE_PREFIX + written + value[len(SQLITE_PREFIX) + len(path):]


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file; unknown keys are an error that names them."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return data


def load(
    config_file: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    missing_ok: bool = False,
    read_default_file: bool = True,
) -> Settings:
    """Build Settings: defaults < config file < FEDNODE_* environment < overrides (flags).

    Without an explicit path, ``FEDNODE_CONFIG`` or ``./fednode.toml`` is read when present.
    ``missing_ok`` lets an explicit path not exist yet (``fednode init`` is about to write it).
    Every value of the wrong type is reported at once, each by its setting's name.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    path = config_file or environ.get(ENV_PREFIX + "CONFIG")
    used_file = None
    if path:
        if Path(path).is_file():
            used_file = Path(path)
        elif not missing_ok:
            raise ConfigError(f"config file {path} does not exist")
    elif read_default_file and Path(DEFAULT_CONFIG_FILE).is_file():
        used_file = Path(DEFAULT_CONFIG_FILE)
    raw_values: list[tuple[Setting, Any, str]] = []
    if used_file is not None:
        raw_values += [(SETTINGS_BY_NAME[n], raw, str(used_file)) for n, raw in read_config_file(used_file).items()]
    raw_values += [(s, environ[s.env_var], s.env_var) for s in SETTINGS if s.env_var in environ]
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in SETTINGS_BY_NAME:
            raise ConfigError(f"unknown setting {name}")
        raw_values.append((SETTINGS_BY_NAME[name], raw, SETTINGS_BY_NAME[name].flag))
    errors: list[str] = []
    for setting, raw, source in raw_values:  # lowest precedence first: later sources win
        in_file = used_file is not None and source == str(used_file)
        try:
            values[setting.name] = _coerce(setting, raw, source, typed=in_file)
        except ConfigError as exc:
            errors.append(exc.reason)
            continue
        if in_file and setting.name in PATH_SETTINGS:
            # A path in a config file means the same wherever the command runs: it is relative
            # to the file's folder (environment and flags stay relative to the current folder).
            values[setting.name] = _anchored(setting.name, values[setting.name], used_file.resolve().parent)
    values["blocked_domains"], blocked_errors = _blocked_domains(values["blocked_domains"])
    errors += blocked_errors
    if errors:
        raise ConfigError("; ".join(errors))
    explicit = frozenset(setting.name for setting, _, _ in raw_values)
    if "base_url" not in explicit:
        # A development node: links, handles and WebFinger answers must point where it really listens.
        values["base_url"] = listening_url(values["listen_host"], values["listen_port"])
    return Settings(**values, config_file=str(used_file) if used_file else None, explicit=explicit)


LOOPBACK_OR_ANY = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}


def listening_url(listen_host: str, listen_port: int) -> str:
    """The http URL of a listening address, as a browser on this machine would type it.

    Loopback and wildcard addresses become ``localhost``; other addresses are kept.
    """
    host = "localhost" if listen_host in LOOPBACK_OR_ANY else listen_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{listen_port}"


def problems(settings: Settings) -> list[str]:
    """Every problem with these settings, each sentence starting with the setting's name."""
    found: list[str] = []
    parts = urlsplit(settings.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        found.append(f"base_url: {settings.base_url!r} must be an absolute http(s) URL such as https://forum.example.org")
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        found.append("base_url: must not have a path, query or fragment (the node serves from the root)")
    elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1") and not settings.is_development:
        found.append("base_url: remote servers only talk to https; use https:// behind a TLS proxy")
    if not (0 < settings.listen_port < 65536):
        found.append(f"listen_port: {settings.listen_port} is not a TCP port (1-65535)")
    if not settings.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        found.append("database_url: must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    for name in ("site_username", "default_author"):
        if not USERNAME_RE.match(getattr(settings, name)):
            found.append(f"{name}: {getattr(settings, name)!r} must be 1-30 characters of a-z, 0-9 and _")
    if settings.site_username == settings.default_author:
        found.append("default_author: must differ from site_username")
    for name in ("delivery_concurrency", "delivery_per_host", "delivery_lease_seconds", "delivery_slow_lane",
                 "apply_lease_seconds"):
        if getattr(settings, name) < 1:
            found.append(f"{name}: must be at least 1")
    # A claim must outlast what one delivery may take (the POST's connect and read timeouts), or a
    # live worker's row is claimed again by another worker mid-POST and sent twice.
    from node.federation.fetch import FetchPolicy

    slowest = FetchPolicy.connect_timeout + FetchPolicy.read_timeout
    if 1 <= settings.delivery_lease_seconds < slowest:
        found.append(f"delivery_lease_seconds: must be at least {slowest:g} (a delivery may take "
                     f"{FetchPolicy.connect_timeout:g} s to connect and {FetchPolicy.read_timeout:g} s to read)")
    # A received activity that needs a document fetched keeps its claim while the document is
    # fetched: one deadline for the URL and, when the document's id is another URL, one more for
    # the refetch by id (Fetcher.get_activitypub).  A claim shorter than that runs out mid-fetch,
    # and the 2 s poll hands the row to a processor that fetches it all over again.
    one_fetch = 2 * FetchPolicy.total_timeout
    if 1 <= settings.apply_lease_seconds < one_fetch:
        found.append(f"apply_lease_seconds: must be at least {one_fetch:g} (applying an activity may fetch a document: "
                     f"{FetchPolicy.total_timeout:g} s for its URL and {FetchPolicy.total_timeout:g} s more "
                     "when it must be fetched again by its id)")
    if settings.signing_processes < -1:
        found.append("signing_processes: must be -1 (one per CPU core), 0 (none) or a number of processes")
    if settings.max_body_bytes < 1024:
        found.append("max_body_bytes: must be at least 1024")
    if settings.discuss_fetch_bytes < 16 * 1024:
        found.append("discuss_fetch_bytes: must be at least 16384 (a page's head alone can be that long)")
    if not 1 <= settings.discuss_fetch_seconds <= 120:
        found.append("discuss_fetch_seconds: must be between 1 and 120")
    if settings.discuss_opens_per_hour < 0:
        found.append("discuss_opens_per_hour: must be 0 (members open none) or more")
    for name in ("database_busy_timeout", "idle_timeout", "header_timeout", "max_connections"):
        if getattr(settings, name) < 1:
            found.append(f"{name}: must be at least 1")
    if settings.max_header_bytes < 8192:
        found.append("max_header_bytes: must be at least 8192 (one long header line)")
    if settings.discussion_page_size < 10:
        found.append("discussion_page_size: must be at least 10")
    if settings.media_max_bytes < 1024:
        found.append("media_max_bytes: must be at least 1024")
    if settings.avatar_max_bytes < 1024:
        found.append("avatar_max_bytes: must be at least 1024")
    if settings.avatar_max_pixels < 400 * 400:
        found.append("avatar_max_pixels: must be at least 160000 (a 400 × 400 picture)")
    if settings.registration_mode not in REGISTRATION_MODES:
        found.append(f"registration_mode: {settings.registration_mode!r} is not one of {', '.join(REGISTRATION_MODES)}")
    if not 1 <= settings.session_days <= 400:
        found.append("session_days: must be between 1 and 400 (browsers keep cookies at most 400 days)")
    if not 1 <= settings.invite_days <= 365:
        found.append("invite_days: must be between 1 and 365")
    for entry in settings.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            found.append(f"trusted_proxies: {entry!r} is not an IP address or network (CIDR)")
    if settings.smtp_security not in ("starttls", "tls", "none"):
        found.append(f"smtp_security: {settings.smtp_security!r} is not one of starttls, tls, none")
    if not 0 < settings.smtp_port < 65536:
        found.append(f"smtp_port: {settings.smtp_port} is not a TCP port (1-65535)")
    if settings.smtp_password and not settings.smtp_username:
        found.append("smtp_password: is set but smtp_username is empty")
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        found.append(f"log_level: {settings.log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    if settings.log_format not in ("text", "json"):
        found.append(f"log_format: {settings.log_format!r} is not one of text, json")
    for entry in settings.metrics_allow:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            found.append(f"metrics_allow: {entry!r} is not an IP address or network (CIDR)")
    for entry in settings.api_origins:
        if not re.fullmatch(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?", entry):
            found.append(f"api_origins: {entry!r} is not an origin like https://blog.example (lower case, no path, no *)")
    if settings.metrics_token and len(settings.metrics_token) < 16:
        found.append("metrics_token: must be at least 16 characters (or empty for none)")
    from node.embed_policy import origin_of

    for entry in settings.embed_origins:
        try:
            origin_of(entry)
        except ValueError as exc:
            found.append(f"embed_origins: {exc}")
    from node.moderation.policy import config_problems  # the policy names its own problems

    found += config_problems(settings)
    keys = Path(settings.keys_dir)
    if keys.exists() and not keys.is_dir():
        found.append(f"keys_dir: {keys} exists and is not a folder")
    return found


EXAMPLES = {"base_url": "https://forum.example.org"}


def to_toml(values: Mapping[str, Any]) -> str:
    """Render settings as a TOML file, each preceded by its help as a comment."""
    lines = ["# Fednode configuration. Every setting: docs/configuration.md", ""]
    for name, value in values.items():
        setting = SETTINGS_BY_NAME[name]
        lines.append(f"# {setting.help}")
        if value is None:  # unset: the setting keeps its computed default
            lines.append(f"# {name} = {_toml_value(EXAMPLES.get(name, setting.default))}")
        else:
            lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
