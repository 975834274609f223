"""Statements compiled once per dialect whose rows go to the driver as they are, in one executemany.

For each row of an executemany SQLAlchemy builds the row's parameters through the
compiled statement's generic machinery (a dict per row, every parameter looked up,
defaults computed, then processed), which costs the processor more than SQLite takes
to write the row: a batch of stored replies spent a third of its CPU there
(docs/performance.md, the inbox).  A ``Prepared`` statement is compiled once per
dialect; each row becomes the tuple the driver takes, each value through its
parameter's bind processor (a time's, a JSON document's), as SQLAlchemy would send
it.  What SQLAlchemy adds by itself is added here too: a column an insert's rows
leave out gets its Python default, and an update sets the columns that have an
``onupdate`` (a callable one is called once for the whole call, so the rows of one
batch share its time).  Values every row shares are given
once (``shared``) and converted once.

Only for statements with positional parameters (SQLite's ``?``, asyncpg's ``$1``);
a dialect with named ones goes through SQLAlchemy as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert, Update


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...]  # the parameters' names in the order the driver takes them
    processors: dict[str, Callable[[Any], Any]]  # the bind processor of each parameter that has one
    defaults: dict[str, Any]  # an insert's column defaults, by name: a value, or a callable of no argument


class Prepared:
    """A statement (made by ``build`` from a dialect's name, its parameters ``bindparam``s) compiled once per
    dialect for executemany; ``Prepared.insert(table)``: an insert of the columns the rows name."""

    def __init__(self, build: Callable[[str], Any], *, columns: bool = False) -> None:
        self._build = build
        self._columns = columns  # the parameters are the columns the rows name (an insert without values)
        self._statements: dict[str, Any] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled | None] = {}  # by dialect and names given

    @classmethod
    def insert(cls, table: Any) -> "Prepared":
        """An insert into ``table`` of the columns each row names (the others get their defaults)."""
        return cls(lambda dialect: sql_insert(table), columns=True)

    def statement(self, dialect_name: str) -> Any:
        """The statement for this dialect (built once)."""
        found = self._statements.get(dialect_name)
        if found is None:
            found = self._statements[dialect_name] = self._build(dialect_name)
        return found

    def _compile(self, dialect: Any, names: tuple[str, ...]) -> _Compiled | None:
        key = (dialect.name, names)
        found = self._compiled.get(key, False)
        if found is not False:
            return found
        statement = self.statement(dialect.name)
        compiled = statement.compile(dialect=dialect, column_keys=list(names) if self._columns else None,
                                     for_executemany=True)
        order = tuple(compiled.positiontup or ())
        result = None
        if order:
            processors = {}
            for name in set(order):
                process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            defaults = {}
            if isinstance(statement, (Insert, Update)):  # the columns it fills that no parameter names
                for column in statement.table.columns:
                    default = column.default if isinstance(statement, Insert) else column.onupdate
                    if column.key in order and default is not None and not default.is_clause_element:
                        defaults[column.key] = (lambda call=default.arg: call(None)) if default.is_callable \
                            else default.arg
            result = _Compiled(compiled.string, order, processors, defaults)
        self._compiled[key] = result
        return result

    async def executemany(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]], **shared: Any) -> None:
        """Run the statement once for each row (a mapping of its parameters; ``shared``: the ones every row
        has), in the session's transaction, as one executemany.  An insert's rows must all name the same
        columns (the statement is compiled for the first row's and ``shared``'s)."""
        if not rows:
            return
        connection = await session.connection()
        compiled = self._compile(connection.dialect, (*rows[0].keys(), *shared.keys()))
        if compiled is None:  # named parameters: SQLAlchemy builds them
            await connection.execute(self.statement(connection.dialect.name),
                                     [{**shared, **row} for row in rows])
            return
        processors = compiled.processors
        fixed: dict[str, Any] = {}  # converted once for the whole call
        for name in compiled.order:
            if name in shared:
                value = shared[name]
            elif name in rows[0]:
                continue
            elif name in compiled.defaults:
                value = compiled.defaults[name]
                value = value() if callable(value) else value
            else:
                raise KeyError(f"no value for the parameter {name!r} of {compiled.sql[:60]!r}")
            process = processors.get(name)
            fixed[name] = process(value) if process is not None and value is not None else value
        # Each row's values are picked in C (itemgetter), the few with a processor converted, and the
        # shared ones put in their places: no per-parameter Python step for the others.
        varying = [name for name in compiled.order if name not in fixed]
        converted = [(i, processors[name]) for i, name in enumerate(varying) if name in processors]
        values = list(fixed.values())
        place = {name: len(varying) + i for i, name in enumerate(fixed)}
        positions = [place[name] if name in place else varying.index(name) for name in compiled.order]
        pick = itemgetter(*varying) if varying else (lambda row: ())
        arrange = itemgetter(*positions)
        parameters = []
        for row in rows:
            picked = pick(row)
            picked = list(picked) if len(varying) > 1 else [picked] if varying else []
            for i, process in converted:
                if picked[i] is not None:
                    picked[i] = process(picked[i])
            arranged = arrange(picked + values)
            parameters.append(arranged if len(positions) > 1 else (arranged,))
        await connection.exec_driver_sql(compiled.sql, parameters)
