"""Many rows in few round trips, without building one SQL text per row.

Why not peewee's `insert_many` / one `Model.update()` per row: peewee renders every value of
every row through its query builder, which cost more than the database work itself at CDR
volumes (a 10,000-leg spool spent 11 s building SQL). Here the statement is written once with
placeholders and the rows go as parameters: `executemany` on SQLite (the statement is prepared
once), `psycopg2.extras.execute_values` / `execute_batch` on PostgreSQL (hundreds of rows per
round trip). Column and table names come from the peewee models, never from data.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import peewee

PAGE = 500


def _is_pg(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(model: type[peewee.Model], names: Sequence[str]) -> list[str]:
    return [model._meta.fields[n].column_name for n in names]


def _default(field: peewee.Field) -> object:
    return field.default() if callable(field.default) else field.default


def insert_rows(model: type[peewee.Model], rows: Sequence[dict], *, ignore_conflicts: bool = False) -> None:
    """INSERT every row (dicts keyed by model field name; a missing field gets its model default)."""
    if not rows:
        return
    db = model._meta.database
    fields = [f for f in model._meta.sorted_fields if not isinstance(f, peewee.AutoField)]
    names = [f.name for f in fields]
    defaults = {f.name: _default(f) for f in fields}
    cols = ", ".join(_q(f.column_name) for f in fields)
    head = f"INSERT INTO {_q(model._meta.table_name)} ({cols}) VALUES "
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    params: list[tuple] | None = None
    if len(names) > 1 and all(len(row) == len(names) for row in rows):  # every field given: one C call a row
        get = itemgetter(*names)
        try:
            params = [get(row) for row in rows]
        except KeyError:
            params = None
    if params is None:
        params = [tuple(row.get(n, defaults[n]) for n in names) for row in rows]
    cursor = db.cursor()
    if _is_pg(db):
        from psycopg2.extras import execute_values

        execute_values(cursor, head + "%s" + tail, params, page_size=PAGE)
    else:
        cursor.executemany(head + "(" + ", ".join("?" * len(names)) + ")" + tail, params)


def update_rows(model: type[peewee.Model], key: str, rows: Sequence[dict]) -> None:
    """UPDATE ... SET <every other key> WHERE <key> = row[key], for each row (same keys)."""
    if not rows:
        return
    db = model._meta.database
    names = [n for n in rows[0] if n != key]
    mark = "%s" if _is_pg(db) else "?"
    sets = ", ".join(f"{_q(c)} = {mark}" for c in _columns(model, names))
    sql = f"UPDATE {_q(model._meta.table_name)} SET {sets} WHERE {_q(_columns(model, [key])[0])} = {mark}"
    params = [tuple(row[n] for n in names) + (row[key],) for row in rows]
    cursor = db.cursor()
    if _is_pg(db):
        from psycopg2.extras import execute_batch

        execute_batch(cursor, sql, params, page_size=200)
    else:
        cursor.executemany(sql, params)


def select_in(model: type[peewee.Model], columns: Sequence[str], key: str, values: Sequence[object],
              page: int = PAGE, *, equal: tuple[str, object] | None = None) -> list[tuple]:
    """`SELECT columns FROM model WHERE [equal[0] = equal[1] AND] key IN (values)` in pages."""
    if not values:
        return []
    db = model._meta.database
    mark = "%s" if _is_pg(db) else "?"
    cols = ", ".join(_q(c) for c in _columns(model, columns))
    where = _q(_columns(model, [key])[0])
    head: list[object] = []
    if equal is not None:
        where = f"{_q(_columns(model, [equal[0]])[0])} = {mark} AND {where}"
        head = [equal[1]]
    out: list[tuple] = []
    cursor = db.cursor()
    for start in range(0, len(values), page):
        part = list(values[start:start + page])
        cursor.execute(f"SELECT {cols} FROM {_q(model._meta.table_name)} WHERE {where} IN "
                       f"({', '.join([mark] * len(part))})", head + part)
        out.extend(cursor.fetchall())
    return out
