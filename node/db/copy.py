"""Copying a node's whole database to another one (``fednode db copy --to URL``).

Made for moving a SQLite node to PostgreSQL when one process is no longer enough,
and works in any direction between the two.  The target is migrated to the same
schema first and must hold no rows yet.  Every table of the model is copied in
foreign-key order inside one target transaction (a failure leaves the target
empty), reading the source inside one transaction too (a consistent snapshot).
Columns that point into their own table (a comment's parent and root) are
written in a second pass, so the order rows come in never breaks a constraint.
PostgreSQL's id sequences are moved past the copied ids, so new rows get new ids.

Then the copy is checked: the row count of every table, and a sample of rows per
table compared column by column with the source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import Table, bindparam, func, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from node.db.models import Base
from node.errors import NodeError

CHUNK = 2_000  # rows read and inserted at a time
SAMPLE = 50  # rows per table compared column by column after the copy


class CopyError(NodeError):
    """The copy could not be made or did not check out (the reason says which)."""


@dataclass
class TableReport:
    """What happened to one table."""

    name: str
    copied: int = 0
    source_count: int = 0
    target_count: int = 0
    sampled: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.source_count == self.target_count == self.copied and not self.mismatches


def normalize_url(url: str) -> str:
    """``postgresql://…`` (as people write it) → the asyncpg URL the node uses; others unchanged."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def tables() -> list[Table]:
    """Every table of the model, parents before children."""
    return list(Base.metadata.sorted_tables)


def _self_references(table: Table) -> list[str]:
    """Columns of ``table`` holding a foreign key into ``table`` itself."""
    return [column.name for column in table.columns
            if any(fk.column.table is table for fk in column.foreign_keys)]


def _primary_key(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


async def _count(connection: AsyncConnection, table: Table) -> int:
    return await connection.scalar(select(func.count()).select_from(table))


async def check_target_empty(target: AsyncConnection) -> None:
    """Refuse a target that holds rows already (a copy would mix two nodes)."""
    for table in tables():
        if await _count(target, table):
            raise CopyError(f"the target database already has rows in {table.name}; "
                            "copy into a new, empty database")


async def copy_rows(source: AsyncConnection, target: AsyncConnection,
                    progress: Callable[[str, int], None] | None = None) -> list[TableReport]:
    """Copy every table's rows from ``source`` to ``target`` (both inside their transactions)."""
    reports = []
    for table in tables():
        report = TableReport(table.name)
        deferred = _self_references(table)
        # Columns an UPDATE would stamp (``onupdate``, e.g. objects.changed_at): the deferred
        # update below writes them back as they were, or the copy would differ from its source.
        stamped = [column.name for column in table.columns if column.onupdate is not None and column.name not in deferred]
        key = _primary_key(table)
        later: list[dict[str, Any]] = []
        result = await source.stream(select(table).order_by(*(table.c[k] for k in key)))
        async for chunk in result.partitions(CHUNK):
            rows = [dict(row._mapping) for row in chunk]
            if deferred:
                later += [{**{f"k_{k}": row[k] for k in key}, **{f"v_{c}": row[c] for c in (*deferred, *stamped)}}
                          for row in rows if any(row[c] is not None for c in deferred)]
                rows = [{**row, **{c: None for c in deferred}} for row in rows]
            await target.execute(table.insert(), rows)
            report.copied += len(rows)
            if progress:
                progress(table.name, report.copied)
        if later:
            statement = (update(table)
                         .where(*(table.c[k] == bindparam(f"k_{k}") for k in key))
                         .values({c: bindparam(f"v_{c}") for c in (*deferred, *stamped)}))
            for start in range(0, len(later), CHUNK):
                await target.execute(statement, later[start:start + CHUNK])
        reports.append(report)
    return reports


async def reset_sequences(target: AsyncConnection) -> None:
    """On PostgreSQL, move each integer id's sequence past the largest copied id."""
    if target.dialect.name != "postgresql":
        return
    for table in tables():
        key = _primary_key(table)
        if len(key) != 1 or not table.c[key[0]].autoincrement or table.c[key[0]].type.python_type is not int:
            continue
        sequence = await target.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                       {"t": table.name, "c": key[0]})
        if sequence:
            await target.execute(text(
                f'SELECT setval(:s, COALESCE((SELECT MAX("{key[0]}") FROM "{table.name}"), 0) + 1, false)'),
                {"s": sequence})


async def verify(source: AsyncConnection, target: AsyncConnection, reports: list[TableReport],
                 rng: random.Random | None = None) -> None:
    """Fill in each report's counts and compare a sample of rows column by column."""
    rng = rng or random.Random()
    by_name = {report.name: report for report in reports}
    for table in tables():
        report = by_name[table.name]
        report.source_count = await _count(source, table)
        report.target_count = await _count(target, table)
        key = _primary_key(table)
        ids = (await source.execute(select(*(table.c[k] for k in key)))).all()
        for ident in rng.sample(ids, min(SAMPLE, len(ids))):
            where = [table.c[k] == value for k, value in zip(key, ident)]
            theirs = (await source.execute(select(table).where(*where))).one()._mapping
            ours = (await target.execute(select(table).where(*where))).one_or_none()
            report.sampled += 1
            if ours is None:
                report.mismatches.append(f"row {tuple(ident)} is missing")
                continue
            for column in table.columns:
                if theirs[column.name] != ours._mapping[column.name]:
                    report.mismatches.append(f"row {tuple(ident)}: {column.name} differs")


async def copy_database(source: AsyncEngine, target: AsyncEngine,
                        progress: Callable[[str, int], None] | None = None) -> list[TableReport]:
    """Copy everything from ``source`` to the migrated, empty ``target``; return the checked reports."""
    names = set(await _table_names(source))
    unknown = sorted(names - {t.name for t in tables()} - {"alembic_version"})
    if unknown:
        raise CopyError(f"the source has tables this version does not know: {', '.join(unknown)} "
                        "(copy with the version that made them)")
    async with source.connect() as reading, target.connect() as writing:
        await reading.begin()  # one snapshot of the source for the whole copy
        async with writing.begin():
            await check_target_empty(writing)
            reports = await copy_rows(reading, writing, progress)
            await reset_sequences(writing)
        await verify(reading, writing, reports)
        await reading.rollback()
    return reports


async def _table_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
