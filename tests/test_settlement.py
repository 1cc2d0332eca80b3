"""Settlement (``checkout.sandbox.settlement``): the first payment of an order
wins, the order's other bills close, the coupon is consumed and the PAY
webhook is queued — all at once, or not at all."""

from __future__ import annotations

import json
import threading

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, Coupon, CouponTemplate, WebhookDelivery
from checkout.sandbox import bills, coupons, settlement

_counter = iter(range(10 ** 6))


def new_bill_no() -> str:
    return f"T{now_ms()}{next(_counter):06d}"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(webhook_url="http://127.0.0.1:9/merchant-hook")


def open_bill(merchant, channel="ALI_WEB", **fields) -> Bill:
    request = {"channel": channel, "total_fee": 1999, "bill_no": new_bill_no(),
               "title": "Oolong tea", "return_url": "https://shop.example.com/back"}
    request.update(fields)
    answer = bills.create_bill(merchant, request, test_mode=True)  # the sandbox's settlement
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"])


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.execute(db.select(WebhookDelivery)).scalars())


# --- paying ------------------------------------------------------------------------

def test_paying_an_open_bill_marks_it_paid_with_trade_no_and_time(merchant):
    bill = open_bill(merchant)
    assert settlement.mark_paid(bill, trade_no="2024010122001", now_ms=1_700_000_000_000)
    assert (bill.status, bill.trade_no, bill.pay_time) == (Bill.PAID, "2024010122001",
                                                           1_700_000_000_000)


def test_paid_bill_answers_spay_result_true_in_queries(merchant):
    bill = open_bill(merchant)
    settlement.mark_paid(bill)
    assert bills.get_bill(merchant, bill.id, test_mode=True)["pay"]["spay_result"] is True


def test_a_bill_is_paid_only_once(merchant):
    bill = open_bill(merchant)
    assert settlement.mark_paid(bill, trade_no="first")
    assert not settlement.mark_paid(bill, trade_no="second")
    assert bill.trade_no == "first"
    assert len(deliveries()) == 1


def test_paying_one_channel_closes_the_orders_other_open_bills(merchant):
    alipay = open_bill(merchant, "ALI_WEB")
    wechat = open_bill(merchant, "WX_NATIVE", bill_no=alipay.bill_no)
    assert settlement.mark_paid(wechat)
    db.session.refresh(alipay)
    assert alipay.status == Bill.CLOSED


def test_other_orders_are_untouched(merchant):
    mine, other = open_bill(merchant), open_bill(merchant)
    settlement.mark_paid(mine)
    db.session.refresh(other)
    assert other.status == Bill.OPEN


def test_a_closed_bill_cannot_be_paid(merchant):
    bill = open_bill(merchant)
    assert settlement.close_bill(bill)
    assert not settlement.mark_paid(bill)
    assert bill.status == Bill.CLOSED and deliveries() == []


def test_a_failed_bill_cannot_be_paid(merchant):
    bill = open_bill(merchant)
    assert settlement.mark_failed(bill)
    assert not settlement.mark_paid(bill)
    assert bill.status == Bill.FAILED


def test_an_expired_bill_cannot_be_paid(merchant):
    bill = open_bill(merchant, "WX_NATIVE", bill_timeout=60)
    assert not settlement.mark_paid(bill, now_ms=bill.expires_at)
    assert bill.status == Bill.OPEN and settlement.is_expired(bill, bill.expires_at)


def test_only_open_bills_fail_or_close(merchant):
    bill = open_bill(merchant)
    settlement.mark_paid(bill)
    assert not settlement.mark_failed(bill)
    assert not settlement.close_bill(bill)
    assert bill.status == Bill.PAID


@pytest.mark.parametrize("channel, key, expected", [
    ("ALI_WEB", "trade_status", "TRADE_SUCCESS"),
    ("WX_NATIVE", "trade_type", "NATIVE"),
    ("UN_WEB", "respCode", "00"),
    ("JD_WEB", "CODE", "0000"),
    ("BD_WEB", "pay_result", "1"),
    ("YEE_WEB", "r1_Code", "1"),
])
def test_message_detail_speaks_the_channels_language(merchant, channel, key, expected):
    bill = open_bill(merchant, channel)
    settlement.mark_paid(bill, trade_no="T1")
    assert bill.message_detail[key] == expected
    assert bill.message_detail["tradeSuccess"] is True


def test_alipay_detail_has_yuan_and_wechat_detail_has_fen(merchant):
    alipay, wechat = open_bill(merchant, "ALI_WEB"), open_bill(merchant, "WX_NATIVE")
    settlement.mark_paid(alipay)
    settlement.mark_paid(wechat)
    assert alipay.message_detail["total_fee"] == "19.99"
    assert wechat.message_detail["total_fee"] == "1999"
    assert alipay.message_detail["out_trade_no"] == alipay.bill_no


def test_bill_by_cashier_token(merchant):
    bill = open_bill(merchant)
    assert settlement.bill_by_cashier_token(bill.cashier_token).id == bill.id
    for token in ("nope", "", None, "x" * 65, "a\x00b"):
        assert settlement.bill_by_cashier_token(token) is None


# --- the webhook goes into the outbox with the payment -------------------------------

def test_payment_queues_the_pay_webhook_with_seed_003s_fields(merchant):
    bill = open_bill(merchant, "ALI_WEB", optional={"order": "42"})
    settlement.mark_paid(bill, now_ms=1_700_000_000_123)
    (delivery,) = deliveries()
    body = json.loads(delivery.body)
    assert list(body) == ["signature", "timestamp", "channel_type", "sub_channel_type",
                          "transaction_type", "transaction_id", "transaction_fee", "bill_fee",
                          "discount", "coupon_id", "trade_success", "message_detail", "optional"]
    assert body["signature"] == signing.md5_hex(
        f"{merchant.app_id}{bill.bill_no}PAYALI1999{merchant.master_secret}")
    assert (body["timestamp"], body["channel_type"], body["sub_channel_type"]) == \
        (1_700_000_000_123, "ALI", "ALI_WEB")
    assert (body["transaction_id"], body["transaction_fee"], body["bill_fee"],
            body["discount"], body["coupon_id"]) == (bill.bill_no, 1999, 1999, 0, None)
    assert body["trade_success"] is True and body["optional"] == {"order": "42"}
    assert body["message_detail"] == bill.message_detail
    assert (delivery.url, delivery.status, delivery.next_attempt_at) == \
        ("http://127.0.0.1:9/merchant-hook", WebhookDelivery.PENDING, 1_700_000_000_123)


def test_webhook_body_never_holds_a_secret(merchant):
    settlement.mark_paid(open_bill(merchant))
    body = deliveries()[0].body
    for secret in (merchant.app_secret, merchant.master_secret, merchant.test_secret):
        assert secret not in body


def test_bills_notify_url_wins_over_the_merchants_webhook_url(merchant):
    bill = open_bill(merchant, notify_url="https://shop.example.com/hooks/order-9")
    settlement.mark_paid(bill)
    assert deliveries()[0].url == "https://shop.example.com/hooks/order-9"


def test_no_webhook_row_when_nobody_listens(make_merchant):
    quiet = make_merchant(webhook_url=None)
    bill = open_bill(quiet)
    assert settlement.mark_paid(bill)
    assert deliveries() == []


# --- coupons --------------------------------------------------------------------------

@pytest.fixture
def coupon(merchant):
    template = coupons.create_template(merchant, name="5 off", type=CouponTemplate.AMOUNT_OFF,
                                       discount="5", now_ms=now_ms() - 1000)
    return coupons.issue_coupon(merchant, template.id, "alice")


def test_payment_consumes_the_coupon_and_the_webhook_tells(merchant, coupon):
    bill = open_bill(merchant, coupon_id=coupon.id, buyer_id="alice")
    assert settlement.mark_paid(bill)
    assert db.session.get(Coupon, coupon.id).status == Coupon.USED
    body = json.loads(deliveries()[0].body)
    assert (body["transaction_fee"], body["bill_fee"], body["discount"], body["coupon_id"]) == \
        (1499, 1999, 500, coupon.id)


def test_a_coupon_taken_by_another_bill_refuses_the_payment(merchant, coupon):
    first = open_bill(merchant, coupon_id=coupon.id, buyer_id="alice")
    second = open_bill(merchant, coupon_id=coupon.id, buyer_id="alice")
    assert settlement.mark_paid(first)
    assert not settlement.mark_paid(second)
    assert second.status == Bill.FAILED and second.trade_no is None
    assert len(deliveries()) == 1


# --- races (PostgreSQL: real concurrent transactions) -----------------------------------

def race(app, bill_ids: list[str], per_bill: int = 3) -> list[bool]:
    results, barrier = [], threading.Barrier(len(bill_ids) * per_bill)

    def pay(bill_id):
        with app.app_context():
            bill = db.session.get(Bill, bill_id)
            barrier.wait(timeout=10)
            results.append(settlement.mark_paid(bill))
            db.session.remove()

    threads = [threading.Thread(target=pay, args=(bill_id,))
               for bill_id in bill_ids for _ in range(per_bill)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.postgresql
def test_racing_payments_of_one_bill_pay_it_once(app, merchant):
    bill = open_bill(merchant)
    results = race(app, [bill.id], per_bill=6)
    assert sorted(results) == [False] * 5 + [True]
    assert len(deliveries()) == 1


@pytest.mark.postgresql
def test_racing_payments_on_two_channels_pay_the_order_once(app, merchant):
    alipay = open_bill(merchant, "ALI_WEB")
    wechat = open_bill(merchant, "WX_NATIVE", bill_no=alipay.bill_no)
    results = race(app, [alipay.id, wechat.id], per_bill=3)
    assert results.count(True) == 1
    db.session.expire_all()
    statuses = sorted(db.session.get(Bill, b.id).status for b in (alipay, wechat))
    assert statuses == [Bill.CLOSED, Bill.PAID]
    assert len(deliveries()) == 1


def test_racing_payments_on_sqlite_pay_the_order_once(app, merchant):
    """The same race through SQLite's single writer (threads, own connections)."""
    alipay = open_bill(merchant, "ALI_WEB")
    wechat = open_bill(merchant, "WX_NATIVE", bill_no=alipay.bill_no)
    results = race(app, [alipay.id, wechat.id], per_bill=2)
    assert results.count(True) == 1
    assert len(deliveries()) == 1
