"""REFUND webhooks (issue 13; seed 003 lines 392-444), over real HTTP to the
merchant's endpoint, through the same outbox and retry schedule as payments."""

from __future__ import annotations

import json

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, Refund, WebhookDelivery
from checkout.sandbox import bills, refunds, settlement, webhooks

_numbers = iter(range(1, 10 ** 6))


@pytest.fixture
def merchant(make_merchant, receiver):
    return make_merchant(webhook_url=receiver.url)


def paid_bill(merchant, channel="ALI_WEB", total_fee=100, **extra) -> Bill:
    created = bills.create_bill(merchant, {
        "channel": channel, "total_fee": total_fee, "bill_no": f"W{now_ms()}{next(_numbers)}",
        "title": "茶", "return_url": "https://shop.example.com/r",
        "optional": {"order": "A-1"}, **extra}, test_mode=True)  # refunded at the sandbox
    assert created["result_code"] == 0, created
    bill = db.session.get(Bill, created["id"])
    assert settlement.mark_paid(bill)
    return bill


def refund(merchant, bill, fee, *, now=None, **fields) -> Refund:
    answer = refunds.create_refund(merchant, {
        "refund_no": refunds.china_day(now or now_ms()) + f"{next(_numbers):05d}",
        "bill_no": bill.bill_no, "refund_fee": fee, **fields}, test_mode=True, now=now)
    assert answer["result_code"] == 0, answer
    return db.session.get(Refund, answer["id"])


def received_refunds(receiver) -> list[dict]:
    return [json.loads(body) for body in receiver.bodies
            if json.loads(body)["transaction_type"] == "REFUND"]


def refund_deliveries() -> list[WebhookDelivery]:
    return list(db.session.execute(db.select(WebhookDelivery).where(
        WebhookDelivery.transaction_type == "REFUND")).scalars())


def test_a_refund_webhook_reaches_the_merchant_signed_as_seed_003_says(merchant, receiver):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    row = refund(merchant, bill, 40, optional={"why": "退货"})
    webhooks.work_once()
    (body,) = received_refunds(receiver)
    expected = signing.md5_hex(f"{merchant.app_id}{row.refund_no}REFUND{'ALI'}{40}"
                               f"{merchant.master_secret}")
    assert body["signature"] == expected
    assert {key: body[key] for key in ("channel_type", "sub_channel_type", "transaction_type",
                                       "transaction_id", "transaction_fee", "bill_fee",
                                       "discount", "coupon_id", "trade_success", "optional")} == {
        "channel_type": "ALI", "sub_channel_type": "ALI_WEB", "transaction_type": "REFUND",
        "transaction_id": row.refund_no, "transaction_fee": 40, "bill_fee": 100,
        "discount": 0, "coupon_id": None, "trade_success": True, "optional": {"why": "退货"}}
    assert list(body) == ["signature", "timestamp", "channel_type", "sub_channel_type",
                          "transaction_type", "transaction_id", "transaction_fee", "bill_fee",
                          "discount", "coupon_id", "trade_success", "message_detail",
                          "optional"]
    assert isinstance(body["timestamp"], int)
    request = next(r for r in receiver.received if '"REFUND"' in r["body"])
    assert request["method"] == "POST" and request["content_type"] == "application/json"


def test_the_alipay_refund_notice_names_the_batch_and_amount(merchant, receiver):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    row = refund(merchant, bill, 40)
    webhooks.work_once()
    detail = received_refunds(receiver)[0]["message_detail"]
    assert detail["notify_type"] == "batch_refund_notify"
    assert detail["batch_no"] == row.refund_no
    assert detail["result_details"] == f"{bill.trade_no}^0.40^SUCCESS"
    assert detail["tradeSuccess"] is True


def test_a_wechat_refund_is_notified_after_it_settles(merchant, receiver):
    bill = paid_bill(merchant, "WX_NATIVE", 100)
    now = now_ms()
    row = refund(merchant, bill, 25, now=now)
    webhooks.work_once()
    assert received_refunds(receiver) == []
    refunds.settle_due(now + 5000)
    webhooks.work_once(now=lambda: now + 5000)
    (body,) = received_refunds(receiver)
    assert (body["channel_type"], body["sub_channel_type"], body["transaction_fee"]) == \
        ("WX", "WX_NATIVE", 25)
    detail = body["message_detail"]
    assert (detail["out_refund_no"], detail["out_trade_no"], detail["refund_fee"],
            detail["total_fee"], detail["refund_status"]) == \
        (row.refund_no, bill.bill_no, "25", "100", "SUCCESS")


def test_a_coupon_discounted_bills_refund_webhook_describes_the_bill(merchant, receiver,
                                                                    give_coupon):
    coupon = give_coupon(merchant, "alice", discount="0.30")
    bill = paid_bill(merchant, "ALI_WEB", 100, coupon_id=coupon.id, buyer_id="alice")
    refund(merchant, bill, 70)
    webhooks.work_once()
    body = received_refunds(receiver)[0]
    assert (body["transaction_fee"], body["bill_fee"], body["discount"], body["coupon_id"]) == \
        (70, 100, 30, coupon.id)


def test_each_partial_refund_has_its_own_webhook(merchant, receiver):
    bill = paid_bill(merchant, "UN_WEB", 100)
    first, second = refund(merchant, bill, 30), refund(merchant, bill, 70)
    webhooks.work_once()
    assert [(b["transaction_id"], b["transaction_fee"]) for b in received_refunds(receiver)] \
        == [(first.refund_no, 30), (second.refund_no, 70)]


def test_the_bills_notify_url_is_preferred(make_merchant, receiver):
    merchant = make_merchant(webhook_url="http://127.0.0.1:9/never")
    bill = paid_bill(merchant, "ALI_WEB", notify_url=receiver.url)
    refund(merchant, bill, 1)
    webhooks.work_once()
    assert len(received_refunds(receiver)) == 1


def test_no_webhook_for_a_pending_or_denied_pre_refund(merchant, receiver):
    bill = paid_bill(merchant, "ALI_WEB")
    pending = refund(merchant, bill, 10, need_approval=True)
    assert refund_deliveries() == []
    refunds.review_refunds(merchant, {"channel": "ALI", "ids": [pending.id], "agree": False},
                           test_mode=True)
    webhooks.work_once()
    assert refund_deliveries() == [] and received_refunds(receiver) == []


def test_an_approved_pre_refund_is_notified(merchant, receiver):
    bill = paid_bill(merchant, "ALI_WEB")
    pending = refund(merchant, bill, 10, need_approval=True)
    refunds.review_refunds(merchant, {"channel": "ALI", "ids": [pending.id], "agree": True},
                           test_mode=True)
    webhooks.work_once()
    assert [b["transaction_id"] for b in received_refunds(receiver)] == [pending.refund_no]


def test_a_refund_webhook_is_retried_on_the_payment_schedule(merchant, receiver):
    receiver.reply = "ok"
    bill = paid_bill(merchant, "ALI_WEB")
    now = now_ms()
    refund(merchant, bill, 1, now=now)
    (delivery,) = refund_deliveries()
    assert delivery.created_at == now and delivery.bill_id == bill.id
    webhooks.work_once(now=lambda: now)
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == \
        (WebhookDelivery.PENDING, 1, now + 2000)
    receiver.reply = "success"
    webhooks.work_once(now=lambda: now + 2000)
    db.session.refresh(delivery)
    assert delivery.status == WebhookDelivery.DELIVERED


def test_the_webhook_is_written_with_the_refunds_success(merchant):
    bill = paid_bill(merchant, "WX_NATIVE")
    now = now_ms()
    row = refund(merchant, bill, 1, now=now)
    assert refund_deliveries() == []
    refunds.settle_due(now + 5000)
    (delivery,) = refund_deliveries()
    db.session.refresh(row)
    assert row.status == Refund.SUCCESS and delivery.created_at == row.finish_time


def test_a_merchant_without_a_webhook_url_gets_none(make_merchant):
    merchant = make_merchant(webhook_url=None)
    refund(merchant, paid_bill(merchant), 1)
    assert refund_deliveries() == []
