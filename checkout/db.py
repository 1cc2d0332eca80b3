"""The database handle. SQLite by default, PostgreSQL via DATABASE_URL; the
same Alembic migrations (``checkout/migrations``) build both."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import weakref

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from . import sqlite_wal

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers run beside the one writer; busy_timeout makes a second
    writer wait instead of failing at once (several gunicorn workers)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    sqlite_wal.set_pragmas(cursor)
    cursor.close()


# --- pinging pooled connections that have been idle (issue 16) ---------------------------
#
# A pooled PostgreSQL connection may have been dropped by the server (a
# restart, an idle timeout) while it sat in the pool, so it is pinged before
# use. SQLAlchemy's ``pool_pre_ping`` pings before every use: one more round
# trip for every request, and under load the connections are never idle. So a
# connection is pinged only when it comes back out of the pool after more than
# IDLE_PING_SECONDS there (or for its first use); a failed ping replaces it
# before the request sees it (``DisconnectionError``, SQLAlchemy's documented
# way for a checkout listener to ask for a fresh connection).
IDLE_PING_SECONDS = 1.0


def ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            record.info["checkout_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.get("checkout_idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError() from error
        if not alive:
            raise DisconnectionError()


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds: for writers whose
    rows are, once committed, exactly what they set (a new bill: every column
    set in Python; an order re-read under its row lock and updated), so that
    reading them again would be one more query for nothing (issue 16).
    Columns set to an SQL expression (a row's ``version``) are still loaded
    afresh when read."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


def as_loaded(model: type, values: dict, *, in_session: bool = True):
    """A ``model`` instance holding a row just read or written, filled as a
    query's load fills it (no per-attribute events of ``__init__``, a
    measurable part of a hot request, issue 16): persistent in the session,
    or detached for a caller that only reads it. ``values``: every column."""
    instance = model._sa_class_manager.new_instance()
    instance_state(instance).dict.update(values)
    make_transient_to_detached(instance)  # the row exists: no INSERT on the next flush
    if in_session:
        db.session.add(instance)
    return instance


def session_in_transaction() -> bool:
    """Whether this context's session has a database transaction under way
    (it has read or written on a connection), without making a session when
    there is none (the REST API's new bill needs none: making one and
    removing it at teardown was a measurable part of it). A session that
    only holds objects (``as_loaded``: a checkout's order) has begun a
    transaction in the ORM's sense but not on the database: nothing of it to
    see or commit there."""
    if not db.session.registry.has():
        return False
    transaction = db.session().get_transaction()
    # SQLAlchemy has no public "has a connection": the transaction's own map.
    return transaction is not None and bool(transaction._connections)


# --- hot statements on the driver's cursor (issue 16) ------------------------------------
#
# SQLAlchemy's per-execution work (compiled-cache key, context, result object)
# is a large part of a bill's cost. A hot statement can be compiled once per
# dialect and run on the DBAPI cursor, its parameters passed through the same
# bind processors SQLAlchemy would apply (JSON, booleans …).
_DRIVER_SQL: dict[tuple, tuple] = {}


def driver_sql(key: object, statement, dialect) -> tuple:
    """``statement`` compiled for ``dialect``, kept under ``key``: (SQL text,
    parameter names in order for a positional paramstyle or None, bind
    processors)."""
    found = _DRIVER_SQL.get((key, dialect.name, dialect.paramstyle))
    if found is None:
        compiled = statement.compile(dialect=dialect)
        found = _DRIVER_SQL[(key, dialect.name, dialect.paramstyle)] = (
            str(compiled), tuple(compiled.positiontup) if compiled.positional else None,
            dict(compiled._bind_processors))
    return found


def driver_params(found: tuple, params: dict):
    """``params`` for the cursor, as SQLAlchemy would pass them."""
    _sql, positions, processors = found
    values = {name: processors[name](value) if name in processors else value
              for name, value in params.items()}
    return tuple(values[name] for name in positions) if positions is not None else values


_ROW_PROCESSORS: dict[tuple, tuple] = {}


def read_row(key: object, statement, params: dict) -> tuple | None:
    """The first row of the SELECT ``statement`` (compiled once per dialect,
    ``driver_sql``), its values as SQLAlchemy would give them (JSON decoded,
    booleans …), or None: for hot reads of every checkout page (issue 16).

    It runs on the session's connection when the session has a transaction
    (so it sees the request's own writes), else on a pooled connection's
    cursor, whose read transaction ends here."""
    engine = db.engine
    dialect = engine.dialect
    found = driver_sql(key, statement, dialect)
    processors = _ROW_PROCESSORS.get((key, dialect.name))
    if processors is None:
        processors = _ROW_PROCESSORS[(key, dialect.name)] = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in statement.selected_columns)
    in_session = session_in_transaction()
    pooled = None if in_session else engine.raw_connection()
    try:
        connection = (db.session.connection().connection if in_session
                      else pooled).driver_connection
        # PostgreSQL: a lone read needs no transaction, whose BEGIN and
        # ROLLBACK were two of its three round trips (sqlite3 begins none
        # for a SELECT).
        alone = pooled is not None and dialect.name == "postgresql"
        if alone:
            connection.autocommit = True
        cursor = connection.cursor()
        try:
            cursor.execute(found[0], driver_params(found, params))
            row = cursor.fetchone()
        finally:
            cursor.close()
            if alone:
                connection.autocommit = False
    finally:
        if pooled is not None:
            pooled.close()  # back to the pool
    if row is None:
        return None
    return tuple(value if process is None or value is None else process(value)
                 for process, value in zip(processors, row))


# --- group commit for the hot writes (issue 16) --------------------------------------------
#
# A new bill is one INSERT and a COMMIT; a hand-off then records it on its
# order with one UPDATE and a COMMIT. Under load most of a bill's database
# time is the COMMIT (SQLite: writing the WAL frames; PostgreSQL: a round trip,
# the transaction's own work, the WAL flush) and the connection's check-out.
# So a worker's threads hand these writes to a queue, and a thread whose turn
# it is runs all that are waiting in one transaction on one pooled connection:
# one check-out, one COMMIT (PostgreSQL: one round trip) for several bills.
# Each thread answers only after the COMMIT that holds its row, so an answered
# bill is stored; a worker killed before the COMMIT answered none of them. The
# statements run one after another as before, each seeing the ones before it
# (two requests for one new bill_no: the second inserts nothing and takes the
# full path, as if it had come second). A batch whose connection fails runs
# once more on a fresh one: its writes are conditional (an INSERT on the
# bill_no being unused, an UPDATE on the row's version), so a batch that was
# in fact committed writes nothing the second time, and its callers then take
# their full path, which finds what was written.
class _Write:
    __slots__ = ("sql", "params", "lock_key", "taken", "done", "rowcount", "error")

    def __init__(self, sql: str, params, lock_key: str | None):
        self.sql, self.params, self.lock_key = sql, params, lock_key
        self.taken = self.done = False  # into a batch; its batch ran
        self.rowcount, self.error = None, None


class WriteQueue:
    """The engine's queue of hot writes (see above).

    SQLite has one writer at a time: one batch runs at a time, holding
    ``writing()``, which is also what the other hot writers of this worker
    hold around their write transaction (``lock`` among this worker's
    threads, a file lock beside the database among workers), so they queue
    without SQLite's busy handler, which sleeps 1, 2, 5 … up to 100 ms between
    tries: a writer waiting for the file lock wakes as soon as it is released.

    PostgreSQL takes several writers: up to PG_BATCHES_AT_ONCE batches of a
    worker are under way at once, so a batch waiting for its COMMIT's WAL flush
    does not hold up the next."""

    PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
    PG_BATCHES_AT_ONCE = 3

    def __init__(self, engine: Engine):
        self.lock = threading.Lock()
        self._engine_ref = weakref.ref(engine)
        self._waiting: list[_Write] = []
        self._turns = threading.Condition()  # guards _waiting, _running, _held
        self._running = 0
        self._held = False
        sqlite = engine.dialect.name == "sqlite"
        self._at_once = 1 if sqlite else self.PG_BATCHES_AT_ONCE
        database = engine.url.database if sqlite else None
        self._lock_path = (database + "-writers" if database and database != ":memory:"
                           and not database.startswith("file:") else None)
        # The file checkpointed in the background (``sqlite_wal``), not by a COMMIT in the turn.
        self.database_path = database if self._lock_path else None
        self._lock_file: tuple[int, int] | None = None  # (pid, fd): opened after the fork

    @contextlib.contextmanager
    def writing(self):
        """Hold this database's write turn (SQLite: among threads and workers)."""
        with self.lock, self._workers_turn():
            yield

    @contextlib.contextmanager
    def held(self):
        """No batch starts while this is held; the writes wait together
        (tests: to see several committed as one batch)."""
        with self._turns:
            self._held = True
        try:
            yield
        finally:
            with self._turns:
                self._held = False
                self._turns.notify_all()

    def waiting(self) -> int:
        with self._turns:
            return len(self._waiting)

    @contextlib.contextmanager
    def _workers_turn(self):
        fd = self._file_lock()
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _file_lock(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._lock_file is None or self._lock_file[0] != os.getpid():
            # Each process its own open file: a lock taken through a file
            # opened before a fork would be shared by parent and child.
            self._lock_file = (os.getpid(), os.open(self._lock_path, os.O_RDWR | os.O_CREAT,
                                                    0o600))
            sqlite_wal.watch(self)  # this process writes here: its checkpointer copies the WAL
        return self._lock_file[1]

    def write(self, sql: str, params, *, lock_key: str | None = None) -> int | None:
        """Run ``sql`` (a conditional INSERT or UPDATE, on the DBAPI cursor)
        and COMMIT it with the others waiting: its rowcount, or None when a
        unique key refused the row (nothing of it written). PostgreSQL:
        ``lock_key``'s transaction advisory lock is taken first (all of a
        batch's, in key order, so two batches never wait for each other in a
        circle)."""
        item = _Write(sql, params, lock_key)
        with self._turns:
            self._waiting.append(item)
            # Wait until a batch that holds this write is done, or until this
            # thread may run the waiting ones itself.
            while not item.done and (item.taken or self._held
                                     or self._running >= self._at_once):
                self._turns.wait()
            if item.done:
                batch = None
            else:
                batch, self._waiting = self._waiting, []
                for taken in batch:
                    taken.taken = True
                self._running += 1
        if batch is not None:
            try:
                if self._at_once == 1:
                    with self.writing():
                        self._run(batch)
                else:
                    self._run(batch)
            except BaseException as error:  # every waiter of the batch learns it
                for other in batch:
                    if not other.done:
                        other.error, other.done = error, True
            finally:
                with self._turns:
                    self._running -= 1
                    self._turns.notify_all()
        if item.error is not None:
            raise item.error
        return item.rowcount

    def _run(self, batch: list[_Write]) -> None:
        engine = self._engine_ref()
        dbapi = engine.dialect.loaded_dbapi
        try:
            self._run_once(engine, batch)
        except (dbapi.OperationalError, dbapi.InterfaceError):
            # A connection the server dropped (pooled connections are pinged
            # only after a second idle, ``ping_when_idle``), or SQLite still
            # locked after its busy timeout: once more (see above).
            self._run_once(engine, batch)

    def _run_once(self, engine: Engine, batch: list[_Write]) -> None:
        integrity_error = engine.dialect.loaded_dbapi.IntegrityError
        pooled = engine.raw_connection()
        try:
            connection = pooled.driver_connection
            if engine.dialect.name == "postgresql":
                self._run_postgresql(connection, batch, integrity_error)
            else:
                cursor = connection.cursor()
                try:
                    for item in batch:
                        try:
                            cursor.execute(item.sql, item.params)
                            item.rowcount = cursor.rowcount
                        except integrity_error:  # SQLite undoes that statement only
                            item.rowcount = None
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
                finally:
                    cursor.close()
                for item in batch:
                    item.done = True
        except BaseException:
            pooled.invalidate()  # never back to the pool in an unknown state
            raise
        finally:
            pooled.close()  # back to the pool (an invalidated one is discarded)

    def _run_postgresql(self, connection, batch: list[_Write], integrity_error) -> None:
        # One simple-protocol query (a client-side-bound ClientCursor, the only
        # kind that takes several statements): BEGIN, the advisory locks, the
        # writes, COMMIT. One round trip; in READ COMMITTED each statement
        # takes its own snapshot, so every write looks after the locks are
        # held. (The pipeline mode did the same in three times the client CPU.)
        import psycopg

        cursor = psycopg.ClientCursor(connection)
        locks = [cursor.mogrify(self.PG_LOCK_SQL, (key,))
                 for key in sorted({item.lock_key for item in batch if item.lock_key})]
        connection.autocommit = True  # the query's own BEGIN and COMMIT decide
        try:
            writes = [cursor.mogrify(item.sql, item.params) for item in batch]
            cursor.execute(";".join(["BEGIN", *locks, *writes, "COMMIT"]), prepare=False)
            counts = []
            while True:
                counts.append(cursor.rowcount)
                if not cursor.nextset():
                    break
            for item, count in zip(batch, counts[1 + len(locks):]):
                item.rowcount, item.done = count, True
        except integrity_error:
            # One row refused aborts the whole transaction: nothing of the
            # batch is written. Each then runs alone.
            cursor.execute("ROLLBACK")
            connection.autocommit = False
            if len(batch) == 1:
                batch[0].rowcount, batch[0].done = None, True
                return
            for item in batch:
                self._run_postgresql(connection, [item], integrity_error)
        finally:
            cursor.close()
            if not connection.closed and connection.autocommit:
                # An error left the batch's transaction open: the connection
                # is invalidated by ``_run_once``.
                with contextlib.suppress(psycopg.Error):
                    connection.autocommit = False


_QUEUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_QUEUES_LOCK = threading.Lock()


def write_queue(engine: Engine) -> WriteQueue:
    queue = _QUEUES.get(engine)
    if queue is None:
        with _QUEUES_LOCK:
            queue = _QUEUES.get(engine)
            if queue is None:
                queue = _QUEUES[engine] = WriteQueue(engine)
    return queue
