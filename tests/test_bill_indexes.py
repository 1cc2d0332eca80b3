"""The bills' expiry, provider and check indexes hold only the rows whose
column is set (migration 0015, issue 16): the migrated definitions leave the
NULL rows out, and each lookup they serve still uses them among many bills
that are not in them (the lookup's own SQL, caught as it runs, is EXPLAINed
on the suite's database)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, insert, inspect, text

from checkout.db import db
from checkout.models import Bill
from checkout.sandbox import expiry, live_channels

NOW = 1_700_000_000_000


def statements_of(work) -> list[tuple]:
    """The (SQL, parameters) ``work()`` sends to the database."""
    seen = []

    def caught(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", caught)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", caught)
    return seen


def plan(statement: str, parameters) -> str:
    """The database's plan for one caught statement."""
    connection = db.session.connection()
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + statement,
                                                                         parameters))


def many_bills(*, without: int = 400, with_columns: int = 4) -> None:
    """``without`` test bills whose expiry, provider and check columns are
    NULL (what most new bills are) and ``with_columns`` live bills that have
    them, with the planners' statistics taken."""
    def bill(number: int, live: bool) -> dict:
        return {"id": str(uuid.uuid4()), "app_id": "app", "test_mode": not live,
                "bill_no": f"B{number}", "channel": "ALI_WEB", "title": "tea", "total_fee": 1,
                "bill_fee": 1, "discount": 0, "currency": "CNY", "channel_params": {},
                "status": Bill.OPEN, "cashier_token": uuid.uuid4().hex, "create_time": NOW,
                "refund_result": False, "revert_result": False,
                **({"expires_at": NOW + number, "provider": "alipay",
                    "provider_ref": f"B{number}", "next_check_at": NOW + number} if live else {})}
    db.session.execute(insert(Bill), [bill(n, n < with_columns)
                                      for n in range(without + with_columns)])
    db.session.commit()
    db.session.connection().exec_driver_sql("ANALYZE bills")
    db.session.commit()


def only_statement(work) -> tuple:
    [(statement, parameters)] = [found for found in statements_of(work)
                                 if "bills" in found[0] and not found[0].startswith("SAVEPOINT")]
    return statement, parameters


LOOKUPS = {
    "ix_bills_status_expires": lambda: expiry.close_expired(NOW),
    "ix_bills_next_check": lambda: live_channels._due(NOW),
    "ix_bills_provider_ref": lambda: live_channels._bill_by_ref("app", "alipay", "A1"),
}


@pytest.mark.parametrize("index", sorted(LOOKUPS))
def test_the_lookup_an_index_is_for_can_use_it(app, index):
    with app.app_context():
        many_bills()
        statement, parameters = only_statement(LOOKUPS[index])
        assert index in plan(statement, parameters)
        db.session.rollback()


@pytest.mark.parametrize("index, column", [("ix_bills_status_expires", "expires_at"),
                                           ("ix_bills_provider_ref", "provider_ref"),
                                           ("ix_bills_next_check", "next_check_at")])
def test_the_migrated_index_leaves_out_bills_without_its_column(app, index, column):
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            definition = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": index}).scalar()
        else:
            definition = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": index}).scalar()
        assert f"WHERE {column} IS NOT NULL" in definition.replace("(", "").replace(")", "")


def test_the_provider_number_stays_unique_per_app_and_provider(app):
    with app.app_context():
        [found] = [i for i in inspect(db.engine).get_indexes("bills")
                   if i["name"] == "ix_bills_provider_ref"]
        assert found["unique"]
