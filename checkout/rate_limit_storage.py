"""A storage for the ``limits`` library kept in the app's own database
(SQLite or PostgreSQL), for deployments without Redis.

``limits`` ships storages for Redis, Memcached, MongoDB and process memory;
none for SQL. This one implements what its moving-window strategy
(``limits.strategies.MovingWindowRateLimiter``) calls —
``acquire_entry``, ``get_moving_window`` and ``clear`` — with the
semantics of its Redis storage (``limits/storage/redis.py`` and its
``acquire_moving_window.lua`` / ``moving_window.lua``): an entry is one
timestamp; a key may take ``amount`` more entries while fewer than
``limit - amount + 1`` are younger than ``expiry`` seconds; the window's
start is the oldest of the newest ``limit`` entries still inside it.

The fixed-window calls (``incr``, ``get``, ``get_expiry``) are not
implemented: nothing here uses that strategy.

Each call runs in its own short transaction on its own connection, so a
count survives whatever the caller's session later does (a payment rolled
back still counted as a failure) and never commits the caller's work.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .models import RateLimitEntry

_table = RateLimitEntry.__table__


# Expired entries deleted per acquisition: more than one acquisition adds.
SWEEP_BATCH = 100


def _ms(seconds: float) -> int:
    # Rounded down, so a window never seems to end later than it does.
    return math.floor(seconds * 1000)


class DatabaseStorage(Storage, MovingWindowSupport):
    """``limits`` storage in the ``rate_limit_entries`` table.

    ``engine`` is a callable answering the SQLAlchemy engine (the app's
    ``db.engine``, looked up in the app context of each call); ``clock``
    answers seconds since the epoch, like ``time.time`` (tests move it)."""

    STORAGE_SCHEME = None  # built directly, never from a URI

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *,
                 engine: Callable[[], Engine], clock: Callable[[], float] = time.time,
                 **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine = engine
        self.clock = clock

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    # --- the moving window ---------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = self.clock()
        at, start = _ms(now), _ms(now - expiry)
        with self.engine().connect() as connection:
            self._lock(connection, key)
            # Written first, then counted: on SQLite the INSERT takes the
            # database's write lock, so a second writer counts after this
            # one commits (PostgreSQL: the advisory lock above does that).
            connection.execute(insert(_table), [
                {"key": key, "at": at, "expires_at": at + expiry * 1000}] * amount)
            inside = connection.execute(
                select(func.count()).select_from(_table)
                .where(_table.c.key == key, _table.c.at >= start)).scalar_one()
            if inside > limit:
                connection.rollback()
                return False
            self._sweep(connection, at)
            connection.commit()
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        with self.engine().connect() as connection:
            times = connection.execute(
                select(_table.c.at).where(_table.c.key == key, _table.c.at >= _ms(now - expiry))
                .order_by(_table.c.at.desc()).limit(limit)).scalars().all()
        if not times:
            return now, 0
        return min(times) / 1000, len(times)

    def clear(self, key: str) -> None:
        with self.engine().begin() as connection:
            connection.execute(delete(_table).where(_table.c.key == key))

    def reset(self) -> int | None:
        with self.engine().begin() as connection:
            return connection.execute(delete(_table)).rowcount

    def check(self) -> bool:
        try:
            with self.engine().connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    @staticmethod
    def _sweep(connection, now_ms: int) -> None:
        """Delete a batch of entries past every window they could count in
        (keys that never come back would keep theirs otherwise). On
        PostgreSQL rows another transaction is deleting are skipped, so two
        sweeps never wait on each other."""
        expired = select(_table.c.id).where(_table.c.expires_at < now_ms).limit(SWEEP_BATCH)
        if connection.dialect.name == "postgresql":
            expired = expired.with_for_update(skip_locked=True)
        connection.execute(delete(_table).where(_table.c.id.in_(expired.scalar_subquery())))

    @staticmethod
    def _lock(connection, key: str) -> None:
        """Serialise acquisitions of one key until commit (PostgreSQL)."""
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                               {"key": "rate-limit:" + key})

    # --- the fixed window: not used ------------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("DatabaseStorage serves the moving window only")

    def get(self, key: str) -> int:
        raise NotImplementedError("DatabaseStorage serves the moving window only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("DatabaseStorage serves the moving window only")
