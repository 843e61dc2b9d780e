"""API keys: Bearer tokens with a scope (read, write, admin) and an optional list of knowledge bases.

A key is 32 random bytes (``secrets.token_urlsafe``) behind the prefix ``rk-``. Only its SHA-256 is stored
(in ``ragkit.sqlite`` of the data directory); the token itself is shown once, when it is created. A plain
SHA-256 is enough here, unlike for passwords: a 256-bit random token cannot be guessed or brute-forced from its
hash, so a slow, salted hash would add cost to every request and no safety. Looking a key up by its hash also
means no token is ever compared character by character.

Scopes include the ones below them: ``admin`` > ``write`` > ``read``.

>>> import sqlite3
>>> keys = ApiKeys(sqlite3.connect(":memory:"))
>>> token, key = keys.create("ci", scope="read", kbs=["docs"])
>>> token.startswith("rk-"), keys.verify(token).name, keys.verify(token).allows("write")
(True, 'ci', False)
>>> keys.verify(token).can_see("docs"), keys.verify(token).can_see("other"), keys.verify("rk-wrong")
(True, False, None)
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
PREFIX = "rk-"


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the token, only its id, name, first characters, scope and knowledge bases."""

    id: str
    name: str
    prefix: str
    scope: Scope
    kbs: tuple[str, ...]  # empty: every knowledge base
    created: float
    last_used: float | None
    revoked: bool

    def allows(self, scope: Scope) -> bool:
        """Whether this key's scope includes ``scope``."""
        return SCOPES.index(self.scope) >= SCOPES.index(scope)

    def can_see(self, kb: str) -> bool:
        return not self.kbs or kb in self.kbs

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "scope": self.scope, "kbs": list(self.kbs),
                "created": self.created, "last_used": self.last_used, "revoked": self.revoked}


class ApiKeys:
    """The keys of a data directory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL,"
                " hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, kbs TEXT NOT NULL DEFAULT '[]',"
                " created REAL NOT NULL, last_used REAL, revoked INTEGER NOT NULL DEFAULT 0)"
            )

    def create(self, name: str, *, scope: Scope = "read", kbs: list[str] | tuple[str, ...] = ()) -> tuple[str, ApiKey]:
        """A new key: (the token, to show once; its stored record)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if not name.strip():
            raise ValueError("a key needs a name")
        token = PREFIX + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(4)
        with self._conn:
            self._conn.execute(
                "INSERT INTO api_keys(id, name, prefix, hash, scope, kbs, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, name.strip(), token[:7], digest(token), scope, json.dumps(sorted(set(kbs))), time.time()),
            )
        key = self.get(key_id)
        assert key is not None
        return token, key

    def _row(self, row: tuple) -> ApiKey:
        key_id, name, prefix, scope, kbs, created, last_used, revoked = row
        return ApiKey(key_id, name, prefix, scope, tuple(json.loads(kbs)), created, last_used, bool(revoked))

    _COLUMNS = "id, name, prefix, scope, kbs, created, last_used, revoked"

    def get(self, key_id: str) -> ApiKey | None:
        row = self._conn.execute(f"SELECT {self._COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return self._row(row) if row else None

    def list(self) -> list[ApiKey]:
        return [self._row(r) for r in self._conn.execute(f"SELECT {self._COLUMNS} FROM api_keys ORDER BY created")]

    def active(self) -> bool:
        """Whether any key is in force (then every protected route needs one)."""
        return self._conn.execute("SELECT 1 FROM api_keys WHERE revoked = 0 LIMIT 1").fetchone() is not None

    def verify(self, token: str) -> ApiKey | None:
        """The key a token belongs to, unless unknown or revoked."""
        row = self._conn.execute(f"SELECT {self._COLUMNS} FROM api_keys WHERE hash = ? AND revoked = 0",
                                 (digest(token),)).fetchone()
        if row is None:
            return None
        key = self._row(row)
        if key.last_used is None or time.time() - key.last_used > 60:  # not a write per request
            with self._conn:
                self._conn.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (time.time(), key.id))
        return key

    def revoke(self, key_id_or_name: str) -> list[ApiKey]:
        """Revoke the key with this id (or every key with this name); returns what was revoked."""
        found = [k for k in self.list() if not k.revoked and key_id_or_name in (k.id, k.name)]
        with self._conn:
            self._conn.executemany("UPDATE api_keys SET revoked = 1 WHERE id = ?", [(k.id,) for k in found])
        return found
