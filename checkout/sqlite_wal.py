"""SQLite's WAL checkpoints, kept off the bills' write path (issue 16).

In WAL mode a COMMIT appends the changed pages to the ``-wal`` file; a
checkpoint copies them back into the database file. By default the COMMIT
that takes the WAL past 1,000 pages runs that checkpoint itself, and our hot
writers hold the writers' turn (``db.WriteQueue.writing``) around their
COMMIT: a bill is ~6 WAL pages, so every ~170 bills every worker's writers
waited while one of them copied ~1,000 pages. With the checkpoint out of the
turn, bills in the bench (SQLite, 64 connections) went from 21–24 % of hello
to 29–31 % in two runs each on a quiet machine, but only by a median of
1.6 points (9 of 12 alternating pairs higher) on a busy one (bench/README.md,
the fifth stop): a small gain, kept because the turn no longer waits for a copy.

So a writing process checkpoints once a second in one thread of its own
(``watch``): first beside the writers (the bulk of the copy), then, holding the
writers' turn, the few pages committed meanwhile, so the WAL is complete and the
next writer starts it again from its beginning (a WAL is only restarted when a
checkpoint has copied all of it; with writers always appending, an unlocked
checkpoint alone would let it grow for as long as the load lasts). SQLite's own
checkpoint stays as a backstop at AUTOCHECKPOINT_PAGES, for a process that runs
no checkpointer (the CLI, the webhook worker) and for a checkpointer that falls
behind. See https://www.sqlite.org/wal.html ("Checkpointing", "Avoiding
Excessively Large WAL Files") and https://www.sqlite.org/pragma.html#pragma_wal_checkpoint.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, ContextManager, Protocol

# ≈ 80 MB of 4 KiB pages: above a second of bills at full speed (a
# checkpointer keeps the WAL to about that: ≈ 9,000 pages a second at
# 1,450 bills/s, ~6 pages a bill, measured), low enough to bound it if none runs.
AUTOCHECKPOINT_PAGES = 20_000
# A WAL restarted from its beginning keeps its size on disk; this truncates it
# back when one load made it large (https://www.sqlite.org/pragma.html#pragma_journal_size_limit).
JOURNAL_SIZE_LIMIT_BYTES = 128 * 1024 * 1024
CHECKPOINT_SECONDS = 1.0

log = logging.getLogger(__name__)


class Writers(Protocol):
    """What the checkpointer needs of a database's write queue."""

    database_path: str | None

    def writing(self) -> ContextManager: ...


def checkpoint(database_path: str, writing: Callable[[], ContextManager]) -> tuple[int, int, int]:
    """One round (see above): SQLite's answer to the second pass, (busy, pages
    in the WAL, pages copied); all copied means the next writer restarts the WAL."""
    connection = _open(database_path)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with writing():
            busy, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, pages, copied
    finally:
        connection.close()


def _open(database_path: str) -> sqlite3.Connection:
    # mode=rw: a database file removed meanwhile is an error, not a new empty file.
    uri = Path(database_path).resolve().as_uri() + "?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)


class _Checkpointer:
    """The process's one checkpointing thread, over every SQLite write queue
    that wrote in this process (held weakly: a database nobody writes to any
    more is dropped)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._watched: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process whose thread runs

    def watch(self, writers: Writers) -> None:
        with self._lock:
            self._watched.add(writers)
            if self._pid != os.getpid():  # none yet, or the one of the parent before a fork
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="sqlite-wal-checkpoints",
                                 daemon=True).start()

    def watched(self) -> list:
        with self._lock:
            return list(self._watched)

    def run_once(self) -> None:
        for writers in self.watched():
            path = writers.database_path
            if path is None or not os.path.exists(path):
                continue
            try:
                checkpoint(path, writers.writing)
            except (sqlite3.Error, OSError) as error:  # next second, once more
                if os.path.exists(path):  # not merely removed meanwhile (tests' databases)
                    log.warning("WAL checkpoint of %s failed: %s", os.path.basename(path), error)

    def _run(self) -> None:
        while True:
            time.sleep(self.seconds)  # a background thread's period, not a wait for a result
            try:
                self.run_once()
            except Exception:  # said, and the thread goes on: SQLite's backstop still holds
                log.exception("WAL checkpoints failed")


_CHECKPOINTER = _Checkpointer(CHECKPOINT_SECONDS)


def watch(writers: Writers) -> None:
    """Checkpoint ``writers.database_path`` once a second from now on, in this
    process's checkpointing thread (started on the first call in a process)."""
    _CHECKPOINTER.watch(writers)


def watched() -> list:
    return _CHECKPOINTER.watched()


def set_pragmas(cursor) -> None:
    """The backstop (see above), on every SQLite connection."""
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
