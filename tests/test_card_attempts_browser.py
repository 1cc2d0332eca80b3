"""Card-testing defence in a real browser (headless Chromium): a shopper
whose cards keep failing on the card form is stopped by the order's limit
(the default, 5 failures per 15 minutes), sees in their language when to try
again, and goes on to another way to pay."""

from __future__ import annotations

import secrets

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import CheckoutOrder

pytestmark = pytest.mark.browser

DECLINED = "4000000000000002"
MISTYPED = "4242424242424241"


@pytest.fixture
def settlement():
    return pytest.importorskip("checkout.sandbox.settlement")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["ALI_WEB", "PAYPAL_CREDITCARD", "PAYPAL_PAYPAL"],
                         default_currency="USD")


def make_order(merchant) -> CheckoutOrder:
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", amount=1999, currency="USD", bills={}, extra={},
                          created_at=now_ms(), updated_at=now_ms())
    db.session.add(order)
    db.session.commit()
    return order


def try_card(page, number):
    page.fill("#cc-number", number)
    page.fill("#cc-exp", "1230")
    page.fill("#cc-csc", "737")
    page.fill("#cc-name", "Jim Green")
    page.get_by_test_id("card-pay").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("lang, heading, retry, way_on", [
    ("en", "Too many attempts", "Try again in 15 minutes.", "Choose another way to pay"),
    ("zh", "尝试次数过多", "请在 15 分钟后重试。", "选择其他支付方式")], ids=["en", "zh"])
def test_a_shopper_whose_cards_keep_failing_is_told_when_to_try_again(
        live_server, merchant, new_page, screenshot, axe_violations, settlement,
        lang, heading, retry, way_on):
    page = new_page(locale="en-US" if lang == "en" else "zh-CN")
    order = make_order(merchant)
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang={lang}")
    for number in (DECLINED, MISTYPED, DECLINED, MISTYPED):
        try_card(page, number)
        page.get_by_test_id("card-message").wait_for()
    try_card(page, DECLINED)  # the fifth failure fills the order's limit
    notice = page.get_by_test_id("too-many-attempts")
    notice.wait_for()
    assert notice.get_by_role("heading").inner_text() == heading
    assert page.get_by_test_id("retry-in").inner_text() == retry
    assert page.locator("#cc-number").count() == 0  # no form to try a sixth card in
    assert "4000" not in page.content() and "737" not in page.inner_text("body")
    assert axe_violations(page) == []
    screenshot(page, f"blocked-{lang}")

    page.reload()  # coming back to the card form: still paused
    assert page.get_by_test_id("retry-in").inner_text() == retry

    page.get_by_role("link", name=way_on).click()
    page.wait_for_url(f"{live_server.url}/pay/{order.id}")
    screenshot(page, f"chooser-{lang}")


def test_the_page_fits_a_phone(live_server, merchant, phone_page, screenshot, axe_violations,
                               settlement):
    order = make_order(merchant)
    phone_page.goto(f"{live_server.url}/pay/{order.id}/card?lang=zh")
    for _ in range(5):
        try_card(phone_page, DECLINED)
    phone_page.get_by_test_id("too-many-attempts").wait_for()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    assert axe_violations(phone_page) == []
    screenshot(phone_page, "blocked-phone")
