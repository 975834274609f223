"""Mastodon's domain blocklist CSV: read it, plan what an import changes, apply all of it or nothing, write it.

The format is what Mastodon's admin export writes (and its import reads)::

    #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
    spam.example,suspend,true,true,Spam,false

``severity`` is ``silence``, ``suspend`` or ``noop`` (``noop`` only rejects
media or reports there: Fednode keeps no media, so a ``noop`` line changes
nothing and is reported as skipped).  Booleans are ``true``/``false``.

Every import remembers its source (by default the file's name): importing a
newer list from the same source also lifts the blocks the source no longer
lists (its retractions), and leaves blocks made by hand or from other sources
alone.  A file with any malformed line changes nothing; every bad line is
reported with its number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from node.errors import NodeError

HEADER = ("#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate")
SEVERITIES = ("silence", "suspend", "noop")
MAX_LINES = 100_000


class BlocklistError(NodeError):
    """A blocklist file that cannot be imported; the reason lists every bad line by number."""


@dataclass(frozen=True)
class Entry:
    domain: str
    severity: str
    reject_media: bool = False
    reject_reports: bool = False
    public_comment: str | None = None
    obfuscate: bool = False


@dataclass
class Plan:
    """What importing a list would do."""

    add: list[Entry] = field(default_factory=list)
    change: list[tuple[str, Entry]] = field(default_factory=list)  # (old severity, new entry)
    retract: list[str] = field(default_factory=list)  # domains this source listed before and no longer does
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # noop lines
    kept_manual: list[str] = field(default_factory=list)  # listed, but already blocked by hand or another list

    def lines(self) -> list[str]:
        """The preview, one line per change."""
        out = [f"+ {e.severity:<8} {e.domain}" + (f"  ({e.public_comment})" if e.public_comment else "")
               for e in self.add]
        out += [f"~ {old} → {e.severity:<8} {e.domain}" for old, e in self.change]
        out += [f"- lifted   {domain}  (no longer listed)" for domain in self.retract]
        out += [f"  skipped  {domain}  (noop: nothing to block here)" for domain in self.skipped]
        out += [f"  kept     {domain}  (already blocked by another source)" for domain in self.kept_manual]
        out.append(f"{len(self.add)} to add, {len(self.change)} to change, {len(self.retract)} to lift, "
                   f"{len(self.unchanged)} unchanged")
        return out


def _bool(value: str, line: int, column: str, errors: list[str]) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    errors.append(f"line {line}: {column} is {value!r}, not true or false")
    return False


def _valid_domain(domain: str) -> bool:
    # Mastodon obfuscates with '*' only in the public list it shows, never in exports.
    return bool(domain) and len(domain) <= 253 and all(
        part and len(part) <= 63 and all(ch.isalnum() or ch in "-_" for ch in part) for part in domain.split("."))


def parse(text: str) -> list[Entry]:
    """The entries of a blocklist file; BlocklistError naming every malformed line."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_LINES:
        raise BlocklistError(f"more than {MAX_LINES} lines")
    errors: list[str] = []
    entries: list[Entry] = []
    seen: set[str] = set()
    start = 0
    columns = list(HEADER)
    if rows and rows[0] and rows[0][0].strip().lower() in ("#domain", "domain"):
        columns = [c.strip().lower().lstrip("#") for c in rows[0]]
        columns = ["#" + c for c in columns]
        if "#severity" not in columns:
            raise BlocklistError("line 1: the header has no #severity column")
        start = 1
    for number, row in enumerate(rows[start:], start=start + 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            errors.append(f"line {number}: {len(row)} fields, the header has {len(columns)}")
            continue
        values = dict(zip(columns, row))
        domain = values.get("#domain", "").strip().lower().rstrip(".")
        try:
            domain = domain.encode("idna").decode("ascii") if domain and not domain.isascii() else domain
        except UnicodeError:
            pass
        if not _valid_domain(domain):
            errors.append(f"line {number}: {values.get('#domain', '')!r} is not a domain name")
            continue
        severity = values.get("#severity", "").strip().lower() or "suspend"
        if severity not in SEVERITIES:
            errors.append(f"line {number}: severity {severity!r} is not silence, suspend or noop")
            continue
        if domain in seen:
            errors.append(f"line {number}: {domain} is listed twice")
            continue
        seen.add(domain)
        entries.append(Entry(
            domain=domain, severity=severity,
            reject_media=_bool(values.get("#reject_media", ""), number, "reject_media", errors),
            reject_reports=_bool(values.get("#reject_reports", ""), number, "reject_reports", errors),
            public_comment=(values.get("#public_comment") or "").strip() or None,
            obfuscate=_bool(values.get("#obfuscate", ""), number, "obfuscate", errors),
        ))
    if errors:
        raise BlocklistError("nothing imported: " + "; ".join(errors))
    return entries


def plan(entries: Sequence[Entry], existing: Iterable, source: str) -> Plan:
    """What importing ``entries`` from ``source`` changes, given the blocks there are (DomainBlock rows)."""
    current = {block.domain: block for block in existing}
    result = Plan()
    listed = set()
    for entry in entries:
        if entry.severity == "noop":
            result.skipped.append(entry.domain)
            continue
        listed.add(entry.domain)
        block = current.get(entry.domain)
        if block is None:
            result.add.append(entry)
        elif block.source != source:
            result.kept_manual.append(entry.domain)
        elif block.severity != entry.severity:
            result.change.append((block.severity, entry))
        else:
            result.unchanged.append(entry.domain)
    result.retract = sorted(d for d, block in current.items() if block.source == source and d not in listed)
    return result


def export(blocks: Iterable) -> str:
    """DomainBlock rows as Mastodon's CSV, header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for block in blocks:
        writer.writerow([block.domain, block.severity, str(bool(block.reject_media)).lower(),
                         str(bool(block.reject_reports)).lower(), block.public_comment or "",
                         str(bool(block.obfuscate)).lower()])
    return out.getvalue()
