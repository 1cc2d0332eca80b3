"""Bill expiry and closing (issue 13, deliverable 3; ``checkout.sandbox.expiry``):
a bill's ``bill_timeout`` ends it at ``expires_at``; at that very moment every
reader (the REST query, the embedded gateway's status, the cashier, paying,
re-creating) treats it as ended, before the worker's ``close_expired`` job
makes it CLOSED; the job closes exactly the bills whose time is up, once,
whatever the number of workers; paying one bill of an order closes the
others. Time is moved with an injectable clock, never waited for."""

from __future__ import annotations

import json
import re
from itertools import count

import pytest

from checkout import clock as clock_module
from checkout import handoff
from checkout.db import db
from checkout.gateway.embedded import EmbeddedGateway
from checkout.models import Bill
from checkout.sandbox import bills, expiry, jobs, settlement

T0 = clock_module.now_ms()
_numbers = count(1)
TIMEOUT_S = 360  # seed 001 line 51's example


@pytest.fixture
def clock(clock):
    """The shared hand-moved clock (conftest), starting at ``T0``."""
    clock.now = T0
    return clock


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(webhook_url="http://127.0.0.1:9/merchant-hook")


def request_for(channel="WX_NATIVE", bill_no=None, **fields) -> dict:
    request = {"channel": channel, "total_fee": 1999, "title": "Oolong tea",
               "bill_no": bill_no or f"E{T0}{next(_numbers):06d}",
               "return_url": "https://shop.example.com/back"}
    if channel != "JD_WEB":
        request["bill_timeout"] = TIMEOUT_S
    request.update(fields)
    return request


def open_bill(merchant, channel="WX_NATIVE", **fields) -> Bill:
    """A sandbox (test-mode) bill: expiry is specified on the simulated cashier."""
    answer = bills.create_bill(merchant, request_for(channel, **fields), test_mode=True)
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"])


def reload(bill: Bill) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill.id)


def statuses(*found: Bill) -> list[str]:
    db.session.expire_all()
    return [db.session.get(Bill, bill.id).status for bill in found]


def cashier(client, bill) -> str:
    return client.get(f"/sandbox/cashier/{bill.cashier_token}").get_data(as_text=True)


# --- the moment of expiry -----------------------------------------------------------------

def test_a_bill_expires_bill_timeout_seconds_after_its_creation(merchant, clock):
    bill = open_bill(merchant)
    assert bill.expires_at == T0 + TIMEOUT_S * 1000


def test_one_ms_before_expiry_the_bill_is_open_everywhere_and_can_be_paid(client, merchant,
                                                                          clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at - 1
    assert EmbeddedGateway().bill_state(merchant, bill.id) == "open"
    assert 'data-testid="pay"' in cashier(client, bill)
    again = bills.create_bill(merchant, request_for(bill_no=bill.bill_no), test_mode=True)
    assert again["id"] == bill.id
    assert settlement.mark_paid(bill)


def test_at_expiry_the_gateway_status_and_the_cashier_say_expired(client, merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    assert EmbeddedGateway().bill_state(merchant, bill.id) == "expired"
    page = cashier(client, bill)
    assert 'data-state="expired"' in page and 'data-testid="pay"' not in page
    assert client.get(f"/sandbox/cashier/{bill.cashier_token}/status").get_json() == {
        "status": "expired"}


def test_at_expiry_paying_is_refused_and_nothing_is_charged(merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    assert not settlement.mark_paid(bill)
    assert reload(bill).status == Bill.OPEN and reload(bill).pay_time is None


def test_at_expiry_the_shoppers_failure_cannot_reopen_the_bill(merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    assert not settlement.mark_failed(bill)


def test_at_expiry_creating_the_bill_again_answers_7_orderclosed(merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    again = bills.create_bill(merchant, request_for(bill_no=bill.bill_no), test_mode=True)
    assert again["result_code"] == 7
    assert again["err_detail"].startswith("ORDERCLOSED") and "expired" in again["err_detail"]


def test_a_failed_bill_whose_time_is_up_is_not_reopened(merchant, clock):
    bill = open_bill(merchant)
    settlement.mark_failed(bill)
    clock.now = bill.expires_at
    again = bills.create_bill(merchant, request_for(bill_no=bill.bill_no), test_mode=True)
    assert again["result_code"] == 7 and reload(bill).status == Bill.FAILED


def test_at_expiry_the_rest_query_shows_an_unpaid_bill(client, merchant, clock, app_signed):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    para = json.dumps(app_signed(merchant, merchant.test_secret))
    answer = client.get(f"/2/rest/sandbox/bill/{bill.id}", query_string={"para": para}).get_json()
    assert answer["result_code"] == 0 and answer["pay"]["spay_result"] is False


def test_a_bill_without_bill_timeout_never_expires(client, merchant, clock):
    bill = open_bill(merchant, "JD_WEB")
    clock.now = T0 + 10 * 365 * 24 * 3600 * 1000
    assert bill.expires_at is None and expiry.state(bill) == "open"
    assert expiry.close_expired(clock.now) == 0 and settlement.mark_paid(bill)


# --- the worker's job --------------------------------------------------------------------

def test_the_job_closes_exactly_the_bills_whose_time_is_up(merchant, clock):
    due, due_failed = open_bill(merchant), open_bill(merchant)
    settlement.mark_failed(due_failed)
    clock.now = T0 + 1000
    later, paid, untimed = open_bill(merchant), open_bill(merchant), open_bill(merchant, "JD_WEB")
    settlement.mark_paid(paid)
    assert expiry.close_expired(due.expires_at) == 2
    assert statuses(due, due_failed, later, paid, untimed) == [
        Bill.CLOSED, Bill.CLOSED, Bill.OPEN, Bill.PAID, Bill.OPEN]


def test_a_paid_bill_is_never_closed_by_the_job(merchant, clock):
    bill = open_bill(merchant)
    settlement.mark_paid(bill)
    assert expiry.close_expired(bill.expires_at + 3600_000) == 0
    assert statuses(bill) == [Bill.PAID]


def test_an_expired_bill_reads_expired_before_and_after_the_job(client, merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    before = (EmbeddedGateway().bill_state(merchant, bill.id), expiry.state(reload(bill)))
    expiry.close_expired(clock.now)
    after = (EmbeddedGateway().bill_state(merchant, bill.id), expiry.state(reload(bill)))
    assert before == after == ("expired", "expired")
    assert 'data-state="expired"' in cashier(client, bill)


def test_every_worker_runs_the_job(merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    assert expiry.close_expired in jobs.JOBS
    jobs.run_due()
    assert statuses(bill) == [Bill.CLOSED]


def test_the_worker_cli_closes_expired_bills(runner, merchant, clock):
    bill = open_bill(merchant)
    clock.now = bill.expires_at
    result = runner.invoke(args=["webhooks", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert statuses(bill) == [Bill.CLOSED]


def test_two_workers_running_the_job_at_once_close_each_bill_once(app, race, merchant, clock):
    due = [open_bill(merchant) for _ in range(6)]
    results = race(2, lambda i: expiry.close_expired(due[0].expires_at))
    assert sum(results) == 6
    assert statuses(*due) == [Bill.CLOSED] * 6


# --- one order, one payment ---------------------------------------------------------------------

def test_paying_one_bill_closes_the_orders_other_open_bills_for_good(client, merchant, clock):
    wechat = open_bill(merchant, "WX_NATIVE")
    alipay = open_bill(merchant, "ALI_QRCODE", bill_no=wechat.bill_no, qr_pay_mode="0")
    assert settlement.mark_paid(alipay)
    assert statuses(wechat, alipay) == [Bill.CLOSED, Bill.PAID]
    clock.now = wechat.expires_at  # closed by the payment, not by time: it stays "closed"
    assert expiry.state(reload(wechat)) == "closed"
    assert 'data-state="closed"' in cashier(client, wechat)


def test_settlement_closes_the_other_bills_through_the_one_function(merchant, monkeypatch):
    closing = []
    real = expiry.close_other_bills
    monkeypatch.setattr(expiry, "close_other_bills",
                        lambda bill, **kw: closing.append(bill.id) or real(bill, **kw))
    wechat = open_bill(merchant, "WX_NATIVE")
    alipay = open_bill(merchant, "ALI_WEB", bill_no=wechat.bill_no)
    settlement.mark_paid(alipay)
    assert closing == [alipay.id]


def test_a_sibling_already_expired_when_another_is_paid_reads_expired(merchant, clock):
    wechat = open_bill(merchant, "WX_NATIVE")
    clock.now = wechat.expires_at
    alipay = open_bill(merchant, "ALI_WEB", bill_no=wechat.bill_no)
    assert settlement.mark_paid(alipay)
    assert statuses(wechat) == [Bill.CLOSED] and expiry.state(reload(wechat)) == "expired"


def test_closing_a_bill_by_hand_reads_closed_even_after_its_time(merchant, clock):
    bill = open_bill(merchant)
    assert settlement.close_bill(bill)
    clock.now = T0 + TIMEOUT_S * 1000 + 1
    assert expiry.state(reload(bill)) == "closed"
    assert expiry.close_expired(clock.now) == 0


# --- the rule in Python and in SQL agree --------------------------------------------------------

@pytest.mark.parametrize("status", [Bill.OPEN, Bill.FAILED, Bill.PAID, Bill.CLOSED])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_payable_in_sql_is_state_open_in_python(merchant, status, offset):
    bill = open_bill(merchant)
    bill.status = status
    db.session.commit()
    now = bill.expires_at + offset
    in_sql = db.session.execute(db.select(Bill.id).where(
        Bill.id == bill.id, expiry.payable(now))).scalar_one_or_none() is not None
    assert in_sql == (expiry.state(bill, now) == "open")


# --- the checkout's pages -------------------------------------------------------------------

@pytest.fixture
def qr_order(client, merchant, button_order, clock):
    """A checkout whose shopper opened the WeChat QR page: (order path, page html, bill)."""
    response = client.post("/pay", data=button_order(merchant))
    path = response.headers["Location"]
    page = client.get(f"{path}/channel/WX_NATIVE").get_data(as_text=True)
    bill = db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")).scalar_one()
    return path, page, bill


def test_qr_bills_expire_after_the_checkouts_qr_lifetime(qr_order):
    _, page, bill = qr_order
    assert bill.bill_timeout == handoff.QR_BILL_TIMEOUT_SECONDS == 15 * 60
    shown = int(re.search(r'data-expires="(\d+)"', page).group(1))
    assert shown == bill.expires_at  # the page counts down to the gateway's very moment


def test_at_expiry_the_checkouts_status_and_result_page_say_expired(client, qr_order, clock):
    path, _, bill = qr_order
    clock.now = bill.expires_at - 1
    assert client.get(f"{path}/status").get_json() == {"status": "pending"}
    clock.now = bill.expires_at
    assert client.get(f"{path}/status").get_json() == {"status": "expired"}
    page = client.get(f"{path}/return").get_data(as_text=True)
    assert 'data-status="expired"' in page and 'data-testid="choose-another"' in page


def test_opening_an_expired_qr_again_shows_a_new_code(client, qr_order, clock):
    # Issue 15: the channel re-opens with a new bill (tests/test_reopen_bills.py).
    path, _, bill = qr_order
    clock.now = bill.expires_at
    response = client.get(f"{path}/channel/WX_NATIVE")
    assert response.status_code == 200 and 'data-testid="qr-code"' in response.get_data(as_text=True)
    assert expiry.state(reload(bill)) == "expired"
