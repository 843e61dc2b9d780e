"""A LangChain ``RecordManager`` on the standard library's sqlite3, for ``langchain_core.indexing.index``.

LangChain's own SQL record manager lives in the private ``langchain_community.indexes._sql_record_manager``
(and in the legacy ``langchain_classic``) and brings SQLAlchemy; this one shares ragkit's SQLite file.

>>> import sqlite3
>>> rm = SQLiteRecordManager(sqlite3.connect(":memory:"), namespace="kb")
>>> rm.update(["h1", "h2"], group_ids=["a.md", "a.md"])
>>> rm.exists(["h1", "h3"]), sorted(rm.list_keys(group_ids=["a.md"]))
([True, False], ['h1', 'h2'])
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence

from langchain_core.indexing import RecordManager


class SQLiteRecordManager(RecordManager):
    """Records (key, group id, updated-at) per namespace in a ``records`` table."""

    def __init__(self, conn: sqlite3.Connection, *, namespace: str) -> None:
        super().__init__(namespace)
        self._conn = conn
        self.create_schema()

    def create_schema(self) -> None:
        with self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS records (namespace TEXT NOT NULL, key TEXT NOT NULL, group_id TEXT,"
                " updated_at REAL NOT NULL, PRIMARY KEY (namespace, key))"
            )
            self._conn.execute("CREATE INDEX IF NOT EXISTS records_group ON records(namespace, group_id)")

    def get_time(self) -> float:
        return time.time()

    def update(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        if group_ids is not None and len(keys) != len(group_ids):
            raise ValueError("Length of keys must match length of group_ids")
        now = self.get_time()
        if time_at_least is not None and time_at_least > now:
            raise ValueError("time_at_least must be in the past")
        groups = list(group_ids) if group_ids is not None else [None] * len(keys)
        with self._conn:
            self._conn.executemany(
                "INSERT INTO records(namespace, key, group_id, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(namespace, key) DO UPDATE SET group_id = excluded.group_id, updated_at = excluded.updated_at",
                [(self.namespace, key, group, now) for key, group in zip(keys, groups, strict=True)],
            )

    def exists(self, keys: Sequence[str]) -> list[bool]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            batch = list(keys[start : start + 500])
            sql = f"SELECT key FROM records WHERE namespace = ? AND key IN ({','.join('?' * len(batch))})"
            found.update(r[0] for r in self._conn.execute(sql, [self.namespace, *batch]))
        return [key in found for key in keys]

    def list_keys(
        self,
        *,
        before: float | None = None,
        after: float | None = None,
        group_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        sql, params = "SELECT key FROM records WHERE namespace = ?", [self.namespace]
        if before is not None:
            sql, params = sql + " AND updated_at < ?", [*params, before]
        if after is not None:
            sql, params = sql + " AND updated_at > ?", [*params, after]
        if group_ids is not None:
            sql += f" AND group_id IN ({','.join('?' * len(group_ids))})"
            params.extend(group_ids)
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return [r[0] for r in self._conn.execute(sql, params)]

    def delete_keys(self, keys: Sequence[str]) -> None:
        with self._conn:
            self._conn.executemany(
                "DELETE FROM records WHERE namespace = ? AND key = ?", [(self.namespace, k) for k in keys]
            )

    def groups(self) -> dict[str, int]:
        """Record counts per group id (source)."""
        sql = "SELECT group_id, count(*) FROM records WHERE namespace = ? GROUP BY group_id"
        return {g: n for g, n in self._conn.execute(sql, (self.namespace,))}

    # The async API runs the same code in a worker thread.
    async def acreate_schema(self) -> None:
        await asyncio.to_thread(self.create_schema)

    async def aget_time(self) -> float:
        return self.get_time()

    async def aupdate(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        await asyncio.to_thread(self.update, keys, group_ids=group_ids, time_at_least=time_at_least)

    async def aexists(self, keys: Sequence[str]) -> list[bool]:
        return await asyncio.to_thread(self.exists, keys)

    async def alist_keys(
        self,
        *,
        before: float | None = None,
        after: float | None = None,
        group_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        return await asyncio.to_thread(
            self.list_keys, before=before, after=after, group_ids=group_ids, limit=limit
        )

    async def adelete_keys(self, keys: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_keys, keys)
