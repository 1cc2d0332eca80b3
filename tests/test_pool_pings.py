"""Pooled PostgreSQL connections are pinged only after being idle
(``checkout.db.ping_when_idle``, issue 16): a connection the server dropped is
replaced before a request uses it, and a busy pool costs no round trip per
request. PostgreSQL only (a SQLite file is never pinged)."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from checkout import merchants
from checkout.db import db
from checkout.sandbox import bills

database = sys.modules["checkout.db"]  # the module (``checkout.db`` is also the handle's name)


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs CHECKOUT_TEST_DATABASE_URL (PostgreSQL)")
    return db.engine


@pytest.fixture
def pings(postgresql, monkeypatch):
    seen = []
    ping = postgresql.dialect.do_ping

    def counted(dbapi_connection):
        seen.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(postgresql.dialect, "do_ping", counted)
    return seen


def backend_pid() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    return pid


def test_a_connection_back_from_the_pool_at_once_is_not_pinged(postgresql, pings):
    backend_pid()  # the pool's connection has been used and checked in
    pings.clear()
    backend_pid()
    assert pings == []


def test_a_connection_idle_in_the_pool_is_pinged_before_use(postgresql, pings, monkeypatch):
    backend_pid()
    pings.clear()
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    backend_pid()
    assert len(pings) == 1


def test_a_connection_the_server_dropped_is_replaced_before_use(postgresql, monkeypatch):
    dropped = backend_pid()
    admin = create_engine(postgresql.url, poolclass=NullPool)  # a connection of its own
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    admin.dispose()
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # as after a second in the pool
    assert backend_pid() != dropped


def test_a_new_bill_is_made_when_its_unpinged_connection_was_dropped(postgresql, merchant_app,
                                                                     monkeypatch):
    # Within a second of its last use a pooled connection is not pinged: the
    # write queue then runs its batch once more on a fresh connection.
    from tests.test_bill_fast_path import request_for, rows

    copy = merchants.get_merchant_for_reading(merchant_app)  # the REST API's merchant
    db.session.commit()
    assert bills.create_bill(copy, request_for(), test_mode=True)["result_code"] == 0
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 1e9)
    pooled = [postgresql.raw_connection() for _ in range(postgresql.pool.checkedin())]
    pids = [connection.driver_connection.info.backend_pid for connection in pooled]
    for connection in pooled:
        connection.close()
    admin = create_engine(postgresql.url, poolclass=NullPool)
    with admin.begin() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    request = request_for()
    assert bills.create_bill(copy, request, test_mode=True)["result_code"] == 0
    assert len(rows(request["bill_no"])) == 1


@pytest.fixture
def merchant_app(make_merchant) -> str:
    return make_merchant().app_id
