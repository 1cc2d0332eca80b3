"""The database handle. SQLite by default, PostgreSQL via DATABASE_URL; the
same Alembic migrations (``checkout/migrations``) build both."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

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
    cursor.close()


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


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
