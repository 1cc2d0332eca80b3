"""A refunded order on the shopper's pages (issue 13 item 5): the result page
and ``/status`` of an old checkout link say ``refunded`` once the merchant
refunded the payment, with how much when only part of it went back, and the
framed page tells the merchant's page ``refunded`` (``data-bc-result``, read
by static/js/embed.js). Refunds are made through the refund service."""

from __future__ import annotations

import uuid

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder
from checkout.sandbox import refunds, settlement

PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def paid_order(client, merchant, button_order, *, amount="199", **fields) -> tuple[str, Bill]:
    """An order paid with ALI_WEB (refunds of Alipay settle at once): the
    checkout's path and the paid bill."""
    path = client.post("/pay", data=button_order(merchant, amount=amount, **fields)) \
        .headers["Location"]
    assert client.get(f"{path}/channel/ALI_WEB", headers={"User-Agent": PC_UA}).status_code == 200
    bill = db.session.execute(db.select(Bill).where(Bill.channel == "ALI_WEB")
                              .order_by(Bill.create_time.desc())).scalars().first()
    assert settlement.mark_paid(bill)
    return path, bill


def refund(merchant, bill: Bill, fee: int, **fields) -> dict:
    answer = refunds.create_refund(merchant, {
        "bill_no": bill.bill_no, "refund_fee": fee,
        "refund_no": refunds.china_day(now_ms()) + uuid.uuid4().hex[:10], **fields},
        test_mode=bill.test_mode)  # the checkout follows the merchant's mode: test here
    assert answer["result_code"] == 0, answer
    return answer


def result_page(client, path: str, language: str) -> str:
    """The result page in a language. The tests' app context outlives each
    request, and Flask-Babel keeps the first request's locale on it."""
    from flask_babel import refresh

    refresh()
    return client.get(f"{path}/return", headers={"Accept-Language": language}) \
        .get_data(as_text=True)


def test_a_paid_order_is_still_paid_before_any_refund(client, merchant, button_order):
    path, _bill = paid_order(client, merchant, button_order)
    assert client.get(f"{path}/status").get_json() == {"status": "paid"}


def test_a_fully_refunded_order_says_refunded_on_its_old_link(client, merchant, button_order):
    path, bill = paid_order(client, merchant, button_order, amount="199")
    refund(merchant, bill, 199)

    assert client.get(f"{path}/status").get_json() == {"status": "refunded"}
    text = result_page(client, path, "en")
    assert 'data-status="refunded"' in text
    assert "Payment refunded" in text
    assert "has refunded the ¥1.99 you paid" in text
    assert "data-forward" not in text and 'http-equiv="refresh"' not in text


def test_a_partly_refunded_order_says_how_much_went_back(client, merchant, button_order):
    path, bill = paid_order(client, merchant, button_order, amount="1000")
    refund(merchant, bill, 250)
    refund(merchant, bill, 50)

    text = result_page(client, path, "en")
    assert 'data-status="refunded"' in text
    assert "Payment partly refunded" in text
    assert "has refunded ¥3.00 of the ¥10.00 you paid" in text


def test_the_refunded_page_speaks_chinese(client, merchant, button_order):
    path, bill = paid_order(client, merchant, button_order, amount="1000")
    refund(merchant, bill, 300)

    text = result_page(client, path, "zh-CN")
    assert "已部分退款" in text
    assert "已退还您支付的 ¥10.00 中的 ¥3.00" in text


def test_a_pending_pre_refund_leaves_the_order_paid(client, merchant, button_order):
    path, bill = paid_order(client, merchant, button_order)
    refund(merchant, bill, 100, need_approval=True)
    assert client.get(f"{path}/status").get_json() == {"status": "paid"}


def test_the_framed_result_page_tells_the_merchant_page_refunded(client, merchant, button_order):
    merchant.frame_origins = ["https://shop.example.com"]
    db.session.commit()
    path = client.post("/pay", data=button_order(
        merchant, embed="1", parent_origin="https://shop.example.com")).headers["Location"]
    client.get(f"{path}/channel/ALI_WEB", headers={"User-Agent": PC_UA})
    (bill,) = db.session.execute(db.select(Bill)).scalars().all()
    assert settlement.mark_paid(bill)
    refund(merchant, bill, bill.total_fee)

    text = client.get(f"{path}/return", headers={"Sec-Fetch-Dest": "iframe"}) \
        .get_data(as_text=True)
    assert 'data-bc-result="refunded"' in text
    assert 'data-bc-parent="https://shop.example.com"' in text
    assert 'data-testid="close"' in text


def test_an_order_marked_paid_stays_paid_in_the_checkout_after_a_refund(client, merchant,
                                                                        button_order):
    path, bill = paid_order(client, merchant, button_order)
    refund(merchant, bill, bill.total_fee)
    client.get(f"{path}/status")
    db.session.expire_all()
    assert db.session.execute(db.select(CheckoutOrder)).scalar_one().status == "PAID"
