"""A refunded order in a real browser (issue 13 item 5): the shopper pays,
the merchant refunds through the refund service, and the shopper's old result
link says so, in Chinese and English, without an accessibility violation; in
the JS button's modal, the merchant's page gets ``beecloud:result`` with
``status: "refunded"``."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill
from checkout.sandbox import refunds

from .test_button_browser import CALLBACKS, demo_page

pytestmark = pytest.mark.browser

CASHIER = re.compile(r".*/sandbox/cashier/[^/?]+(\?.*)?$")


def the_bill(channel: str) -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


def refund(merchant, bill: Bill, fee: int) -> None:
    answer = refunds.create_refund(merchant, {
        "bill_no": bill.bill_no, "refund_fee": fee,
        "refund_no": refunds.china_day(now_ms()) + uuid.uuid4().hex[:10]},
        test_mode=bill.test_mode)  # the checkout follows the merchant's mode: test here
    assert answer["result_code"] == 0, answer
    # WeChat Pay's refunds finish later (seed 001 §9): the worker's job, run now.
    refunds.settle_due(now_ms() + 3600 * 1000)


def pay_with_alipay(page, live_server, order: dict) -> str:
    """Pay an order at the sandbox's Alipay cashier; the result page's URL."""
    page.goto(f"{live_server.url}/pay?{urlencode(order)}")
    page.click('[data-testid="channel-ALI_WEB"]')
    page.wait_for_url(CASHIER)
    page.click('[data-testid="pay"]')
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    return page.url.split("?")[0]


def test_an_old_result_link_says_partly_then_fully_refunded_in_both_languages(
        live_server, make_merchant, button_order, new_page, screenshot, axe_violations):
    merchant = make_merchant()
    chinese = new_page(locale="zh-CN")
    result_url = pay_with_alipay(chinese, live_server,
                                 button_order(merchant, title="Oolong tea", amount="1000"))
    bill = the_bill("ALI_WEB")

    refund(merchant, bill, 300)
    english = new_page(locale="en-US")
    english.goto(result_url)
    english.wait_for_selector('[data-testid="result"][data-status="refunded"]')
    assert "Payment partly refunded" in english.locator("h1").inner_text()
    assert "¥3.00 of the ¥10.00" in english.get_by_test_id("refunded-amount").inner_text()
    screenshot(english, "partly-refunded-en")
    assert axe_violations(english) == []

    refund(merchant, bill, 700)
    chinese.goto(result_url)
    chinese.wait_for_selector('[data-testid="result"][data-status="refunded"]')
    assert chinese.locator("h1").inner_text() == "已退款"
    assert "¥10.00" in chinese.get_by_test_id("refunded-amount").inner_text()
    screenshot(chinese, "refunded-zh")
    assert axe_violations(chinese) == []
    english.goto(result_url)
    assert english.locator("h1").inner_text() == "Payment refunded"
    screenshot(english, "refunded-en")


def test_the_button_tells_the_merchant_page_refunded_when_the_shopper_comes_back(
        page, browser, shop, live_server, make_merchant, button_order, screenshot):
    merchant = make_merchant(frame_origins=[shop.origin])
    order = button_order(merchant, title="Oolong tea", amount="500")
    shop.page = demo_page(live_server.url, merchant.app_id, order, CALLBACKS)
    page.goto(shop.origin + "/")
    page.wait_for_function("typeof BC !== 'undefined'")
    page.click("#test")
    frame = page.frame(name="bc-checkout-1")
    frame.wait_for_selector('[data-testid="channel-WX_NATIVE"]')
    frame.click('[data-testid="channel-WX_NATIVE"]')
    frame.wait_for_selector('[data-testid="qr-page"]')
    phone = browser.new_context().new_page()
    phone.goto(f"{live_server.url}/sandbox/cashier/{the_bill('WX_NATIVE').cashier_token}")
    phone.click('[data-testid="pay"]')
    page.wait_for_function("window.seen.results.indexOf('paid') >= 0", timeout=20_000)
    frame.click('[data-testid="close"]')
    page.wait_for_function("window.seen.closed === 1")
    phone.context.close()

    refund(merchant, the_bill("WX_NATIVE"), 200)
    page.click("#test")  # the shopper clicks the same order's button again
    page.wait_for_function("window.seen.results.indexOf('refunded') >= 0", timeout=20_000)
    assert page.evaluate("window.seen.results") == ["paid", "refunded"]
    screenshot(page, "button-refunded")
