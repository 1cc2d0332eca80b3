"""SQLite's WAL is checkpointed by the process's own thread, not by the
COMMITs of the hot writes (``checkout/sqlite_wal.py``, issue 16)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import pytest
from sqlalchemy import create_engine, text

from checkout import sqlite_wal
from checkout.db import WriteQueue

INSERT = "INSERT INTO notes (body) VALUES (?)"


@pytest.fixture(autouse=True)
def checkpointer(monkeypatch):
    """The process's checkpointer, its thread asleep: each test runs its rounds."""
    quiet = sqlite_wal._Checkpointer(seconds=3600)
    monkeypatch.setattr(sqlite_wal, "_CHECKPOINTER", quiet)
    return quiet


@pytest.fixture
def queue(tmp_path):
    """A write queue on a SQLite file of its own (WAL, the app's pragmas)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        connection.execute(text("CREATE INDEX ix_notes_body ON notes (body)"))
    yield WriteQueue(engine)
    engine.dispose()


def wal_pages(queue: WriteQueue) -> int:
    """Pages the WAL file has held since it was made (it is reused from its
    beginning after a complete checkpoint, not shortened)."""
    size = os.path.getsize(queue.database_path + "-wal")
    return (size - 32) // (24 + 4096) if size else 0


def write_notes(queue: WriteQueue, count: int) -> None:
    for i in range(count):
        assert queue.write(INSERT, (f"note {i} " + "x" * 2000,)) == 1


def test_every_sqlite_connection_leaves_checkpoints_to_the_backstop(queue):
    raw = queue._engine_ref().raw_connection()
    try:
        [pages] = raw.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()
    finally:
        raw.close()
    assert pages == sqlite_wal.AUTOCHECKPOINT_PAGES > 1000


def test_hot_writes_do_not_checkpoint_the_wal_in_their_turn(queue):
    # With SQLite's default the COMMIT that passes 1,000 pages copies them
    # back, and the WAL starts again: it would never hold more than ~1,000.
    write_notes(queue, 700)
    assert wal_pages(queue) > 1_200


def test_one_round_copies_the_whole_wal_and_the_next_writer_starts_it_again(queue):
    write_notes(queue, 300)
    busy, pages, copied = sqlite_wal.checkpoint(queue.database_path, queue.writing)
    assert busy == 0 and pages == copied > 300
    write_notes(queue, 1)
    reader = sqlite3.connect(queue.database_path)
    try:
        _, pages_now, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        [[notes]] = reader.execute("SELECT count(*) FROM notes").fetchall()
    finally:
        reader.close()
    assert pages_now < 10 and notes == 301


def test_a_round_copies_beside_the_writers_then_finishes_in_their_turn(queue, monkeypatch):
    seen = []
    open_connection = sqlite_wal._open

    class Seen:
        def __init__(self, path):
            self.connection = open_connection(path)

        def execute(self, sql):
            seen.append((sql, queue.lock.locked()))
            return self.connection.execute(sql)

        def close(self):
            self.connection.close()

    monkeypatch.setattr(sqlite_wal, "_open", Seen)
    write_notes(queue, 5)
    sqlite_wal.checkpoint(queue.database_path, queue.writing)
    assert seen == [("PRAGMA wal_checkpoint(PASSIVE)", False),
                    ("PRAGMA wal_checkpoint(PASSIVE)", True)]


def test_a_process_that_writes_to_a_sqlite_file_has_it_checkpointed(queue, checkpointer):
    assert queue not in sqlite_wal.watched()
    write_notes(queue, 300)
    assert queue in sqlite_wal.watched()
    checkpointer.run_once()
    write_notes(queue, 1)
    assert wal_pages(queue) > 300  # the file keeps its size; what it holds starts again:
    _, pages_now, _ = sqlite_wal.checkpoint(queue.database_path, queue.writing)
    assert pages_now < 10


def test_a_round_skips_a_database_file_that_is_gone(queue, checkpointer, caplog):
    write_notes(queue, 1)
    os.remove(queue.database_path)
    checkpointer.run_once()
    assert not os.path.exists(queue.database_path) and "failed" not in caplog.text


def test_a_failed_checkpoint_is_logged_without_the_database_path(queue, checkpointer, caplog,
                                                                 monkeypatch):
    write_notes(queue, 1)

    def failing(path, writing):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_wal, "checkpoint", failing)
    checkpointer.run_once()
    assert "WAL checkpoint of wal.sqlite3 failed: disk I/O error" in caplog.text
    assert str(queue.database_path.rsplit("/", 1)[0]) not in caplog.text


def test_a_checkpoint_never_makes_a_database_file(tmp_path):
    gone = tmp_path / "gone.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        sqlite_wal.checkpoint(str(gone), contextlib.nullcontext)
    assert not gone.exists()


def test_a_database_path_with_uri_characters_is_checkpointed(tmp_path):
    folder = tmp_path / "商店 #1"
    folder.mkdir()
    engine = create_engine(f"sqlite:///{folder / 'wal.sqlite3'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        queue = WriteQueue(engine)
        write_notes(queue, 3)
        busy, pages, copied = sqlite_wal.checkpoint(queue.database_path, queue.writing)
        assert queue.database_path.endswith("商店 #1/wal.sqlite3")
        assert busy == 0 and pages == copied > 0
    finally:
        engine.dispose()
