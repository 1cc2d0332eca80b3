"""Bill creation's fast path (issue 16) keeps every guarantee of "one order,
one payment": a new bill_no is created in one statement (INSERT … WHERE NOT
EXISTS a bill with this bill_no), a taken one goes through the full rules.
Also the worker's merchant copies (``merchants.get_merchant_for_reading``),
which must follow a rotated secret at once. Test-mode (sandbox) bills: they
need no channel credentials. Runs on SQLite and, with
CHECKOUT_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import os
import threading

import pytest

from checkout import create_app, merchants, signing
from checkout.clock import now_ms
from checkout.db import WriteQueue, db, write_queue
from checkout.gateway.embedded import EmbeddedGateway
from checkout.models import Bill
from checkout.sandbox import bills

_counter = iter(range(10 ** 6))


def request_for(channel="WX_NATIVE", **overrides) -> dict:
    fields = {"channel": channel, "total_fee": 100, "title": "tea",
              "bill_no": f"F{now_ms()}{next(_counter):06d}",
              "return_url": "https://shop.example.com/return"}
    fields.update(overrides)
    return fields


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def create(app_id: str, request: dict, *, in_transaction: bool = True) -> dict:
    """Create as the checkout's hand-off does (inside the caller's session
    transaction: the fast path runs on the session's connection) or, with
    ``in_transaction=False``, as the REST API does (no transaction: the fast
    path runs on a pooled connection's cursor)."""
    if in_transaction:
        merchant = merchants.get_merchant(app_id)
    else:
        merchant = merchants.get_merchant_for_reading(app_id)
        db.session.commit()  # a first lookup may have read through the session
        assert not db.session().in_transaction()
    return bills.create_bill(merchant, dict(request), test_mode=True)


both_paths = pytest.mark.parametrize("in_transaction", [True, False],
                                     ids=["session", "driver-cursor"])


def rows(bill_no: str) -> list[Bill]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Bill).where(Bill.bill_no == bill_no)))


@both_paths
def test_a_new_bill_is_stored_with_every_column_and_stays_usable(app, merchant, in_transaction):
    request = request_for("WX_NATIVE", bill_timeout=300)
    answer = create(merchant.app_id, request, in_transaction=in_transaction)
    assert answer["result_code"] == 0, answer
    [bill] = rows(request["bill_no"])
    assert (bill.id, bill.status, bill.bill_fee, bill.total_fee, bill.discount) == \
        (answer["id"], Bill.OPEN, 100, 100, 0)
    assert bill.test_mode is True and bill.expires_at == bill.create_time + 300_000
    assert bill.refunded_fee == 0 and bill.channel_params == {}


def test_the_returned_bill_is_in_the_session_and_can_be_changed(app, merchant):
    common = bills.check_common(request_for("ALI_WEB"))
    channel = bills.check_channel({"channel": "ALI_WEB"})
    web = bills.check_web_fields({"return_url": "https://shop.example.com/r"}, channel)
    bill = bills.open_bill(merchant, common, channel, web, test_mode=True)
    bill.trade_no = "T1"
    db.session.commit()
    db.session.refresh(bill)  # a transient object could not be refreshed
    assert rows(common["bill_no"])[0].trade_no == "T1"


@both_paths
def test_same_request_again_answers_the_same_bill(app, merchant, in_transaction):
    request = request_for()
    first = create(merchant.app_id, request, in_transaction=in_transaction)
    again = create(merchant.app_id, request, in_transaction=in_transaction)
    assert first["result_code"] == again["result_code"] == 0
    assert first["id"] == again["id"] and len(rows(request["bill_no"])) == 1


@both_paths
def test_same_bill_no_with_another_fee_is_refused_in_another_channel(app, merchant,
                                                                    in_transaction):
    request = request_for("WX_NATIVE")
    assert create(merchant.app_id, request, in_transaction=in_transaction)["result_code"] == 0
    answer = create(merchant.app_id, {**request, "channel": "ALI_WEB", "total_fee": 101},
                    in_transaction=in_transaction)
    assert answer["result_code"] == bills.PARAM_INVALID
    assert "another total_fee or title" in answer["err_detail"]


@both_paths
def test_racing_identical_requests_make_one_bill(app, merchant, race, in_transaction):
    app_id, request = merchant.app_id, request_for()  # the fixture's row is the main thread's
    answers = race(8, lambda _i: create(app_id, request, in_transaction=in_transaction))
    assert {a["result_code"] for a in answers} == {0}
    assert len({a["id"] for a in answers}) == 1
    assert len(rows(request["bill_no"])) == 1


@both_paths
def test_racing_channels_with_different_fees_keep_one_fee(app, merchant, race, in_transaction):
    app_id, request = merchant.app_id, request_for()
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB", "ALI_WAP", "BD_WEB"]
    answers = race(len(channels), lambda i: create(
        app_id, {**request, "channel": channels[i], "total_fee": 100 + i},
        in_transaction=in_transaction))
    stored = rows(request["bill_no"])
    assert len({bill.bill_fee for bill in stored}) == 1
    assert len(stored) == sum(a["result_code"] == 0 for a in answers)


@both_paths
def test_racing_channels_with_the_same_fee_each_get_a_bill(app, merchant, race, in_transaction):
    app_id, request = merchant.app_id, request_for()
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB"]
    answers = race(len(channels), lambda i: create(
        app_id, {**request, "channel": channels[i]}, in_transaction=in_transaction))
    assert {a["result_code"] for a in answers} == {0}
    assert sorted(bill.channel for bill in rows(request["bill_no"])) == sorted(channels)


@both_paths
def test_many_racing_new_bills_are_all_stored(app, merchant, race, in_transaction):
    app_id, requests = merchant.app_id, [request_for() for _ in range(16)]
    answers = race(16, lambda i: create(app_id, requests[i], in_transaction=in_transaction))
    assert {a["result_code"] for a in answers} == {0}
    assert all(len(rows(r["bill_no"])) == 1 for r in requests)


# --- the merchant copies ---------------------------------------------------------------

def signed_post(client, merchant_app_id: str, secret: str, request: dict):
    timestamp = now_ms()
    body = {**request, "app_id": merchant_app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant_app_id, timestamp, secret)}
    return client.post("/2/rest/sandbox/bill", data=json.dumps(body),
                       content_type="application/json").get_json()


def test_a_rotated_test_secret_is_used_at_once(app, client, merchant):
    app_id, old_secret = merchant.app_id, merchant.test_secret
    assert signed_post(client, app_id, old_secret, request_for())["result_code"] == 0
    merchants.rotate_secrets(merchants.get_merchant(app_id), ("test",))
    new_secret = merchants.get_merchant(app_id).test_secret
    assert signed_post(client, app_id, old_secret, request_for())["result_code"] == \
        bills.APP_INVALID
    assert signed_post(client, app_id, new_secret, request_for())["result_code"] == 0


def test_the_copy_is_not_in_any_session_and_follows_the_version(app, merchant):
    first = merchants.get_merchant_for_reading(merchant.app_id)
    assert first is merchants.get_merchant_for_reading(merchant.app_id)
    assert first not in db.session
    merchants.update_merchant(merchants.get_merchant(merchant.app_id), name="Renamed")
    again = merchants.get_merchant_for_reading(merchant.app_id)
    assert again is not first and again.name == "Renamed"


def test_an_unknown_app_id_has_no_copy(app):
    assert merchants.get_merchant_for_reading("no-such-app") is None
    assert merchants.get_merchant_for_reading("bad\x00id") is None


def test_a_copy_older_than_a_rotated_secret_makes_no_bill_with_the_old_secret(app, client,
                                                                              merchant):
    app_id, old_secret = merchant.app_id, merchant.test_secret
    assert signed_post(client, app_id, old_secret, request_for())["result_code"] == 0
    assert merchants.get_merchant_for_reading(app_id, checked=False).test_secret == old_secret
    merchants.rotate_secrets(merchants.get_merchant(app_id), ("test",))
    request = request_for()
    assert signed_post(client, app_id, old_secret, request)["result_code"] == bills.APP_INVALID
    assert rows(request["bill_no"]) == []


def test_a_changed_merchant_is_answered_from_its_current_row(app, client, merchant):
    app_id = merchant.app_id
    assert signed_post(client, app_id, merchant.test_secret, request_for())["result_code"] == 0
    merchants.update_merchant(merchants.get_merchant(app_id), name="Renamed")
    request = request_for()
    assert signed_post(client, app_id, merchant.test_secret, request)["result_code"] == 0
    assert len(rows(request["bill_no"])) == 1
    assert merchants.get_merchant_for_reading(app_id, checked=False).name == "Renamed"


# --- new bills committed together (db.WriteQueue) -------------------------------------------

def queued_creations(app, merchant, requests: list[dict]) -> list:
    """Create ``requests`` as the REST API does, from one thread each, all
    waiting in the write queue while the test holds it, so that one of them
    commits them all in one transaction."""
    app_id = merchant.app_id
    queue = write_queue(db.engine)
    results: list = [None] * len(requests)

    def work(i):
        with app.app_context():
            copy = merchants.get_merchant_for_reading(app_id)
            db.session.commit()
            results[i] = bills.create_bill(copy, dict(requests[i]), test_mode=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    with queue.held():
        for thread in threads:
            thread.start()
        waiting = threading.Event()
        while queue.waiting() < len(requests):  # every thread has queued its INSERT
            waiting.wait(0.001)
    for thread in threads:
        thread.join()
    return results


def test_new_bills_waiting_together_are_all_stored_and_answered(app, merchant):
    requests = [request_for() for _ in range(6)]
    answers = queued_creations(app, merchant, requests)
    assert {a["result_code"] for a in answers} == {0}
    assert [rows(r["bill_no"])[0].id for r in requests] == [a["id"] for a in answers]


def test_one_bill_no_twice_in_one_batch_makes_one_bill(app, merchant):
    request = request_for()
    answers = queued_creations(app, merchant, [request, request, request])
    assert {a["result_code"] for a in answers} == {0}
    assert len({a["id"] for a in answers}) == 1 and len(rows(request["bill_no"])) == 1


def test_a_row_refused_by_a_unique_key_does_not_cost_its_batch_the_others(app, merchant,
                                                                          monkeypatch):
    # Two new bills drawn with one cashier token (the key other than bill_no's):
    # the second is refused by it, then takes the full path with a new token.
    tokens = iter(["same-token", "same-token", "other-1", "other-2", "other-3"])
    monkeypatch.setattr(bills.secrets, "token_urlsafe", lambda _n: next(tokens))
    requests = [request_for() for _ in range(3)]
    answers = queued_creations(app, merchant, requests)
    assert {a["result_code"] for a in answers} == {0}
    stored = [rows(r["bill_no"]) for r in requests]
    assert all(len(found) == 1 for found in stored)
    assert len({found[0].cashier_token for found in stored}) == 3


def test_two_workers_racing_channels_with_different_fees_keep_one_fee(app, app_config, merchant,
                                                                      race):
    # Two apps, two engines: two workers' write queues on their own connections
    # (within one worker, racing threads are committed by one of them in turn).
    other = create_app(app_config)
    app_id = merchant.app_id
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB", "ALI_WAP", "BD_WEB"]

    def create_in(worker, request, i):
        with worker.app_context():
            copy = merchants.get_merchant_for_reading(app_id)
            db.session.commit()
            return bills.create_bill(copy, {**request, "channel": channels[i],
                                            "total_fee": 100 + i}, test_mode=True)

    try:
        for _round in range(8):  # a lost race shows in some rounds, not all
            request = request_for()
            answers = race(len(channels),
                           lambda i: create_in(app if i % 2 else other, request, i))
            stored = rows(request["bill_no"])
            assert len({bill.bill_fee for bill in stored}) == 1
            assert len(stored) == sum(a["result_code"] == 0 for a in answers)
    finally:
        with other.app_context():
            db.engine.dispose()


def test_sqlite_batches_are_written_in_the_workers_turn(app, merchant, monkeypatch):
    # The turn is a file lock beside the database, so two workers' writers
    # queue in the kernel instead of sleeping in SQLite's busy handler.
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL writers do not share one lock")
    lock_path = db.engine.url.database + "-writers"
    seen = []
    run = WriteQueue._run

    def run_seeing_the_turn(queue, batch):
        other = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append("free")
        except BlockingIOError:
            seen.append("held")
        finally:
            os.close(other)
        return run(queue, batch)

    monkeypatch.setattr(WriteQueue, "_run", run_seeing_the_turn)
    assert create(merchant.app_id, request_for(), in_transaction=False)["result_code"] == 0
    assert seen == ["held"]


def test_the_checkout_gateway_takes_the_current_row_over_an_older_copy(app, merchant):
    # The hand-off passes the merchant it holds; a copy made before a change
    # of the row must not cost the shopper the bill.
    copy = merchants.get_merchant_for_reading(merchant.app_id)
    merchants.update_merchant(merchants.get_merchant(merchant.app_id), name="Renamed")
    request = request_for("ALI_WEB")
    answer = EmbeddedGateway(test_mode=True).create_bill(copy, dict(request))
    assert answer["result_code"] == 0 and len(rows(request["bill_no"])) == 1
