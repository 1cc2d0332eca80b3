"""A shopper who presses Cancel at PayPal is told the payment was cancelled and
offered to choose again (issue 15: the way back from PayPal's Cancel used to
read "Checking your payment… Please do not pay again", then "No payment
received yet… Please do not pay twice", and never "cancelled")."""

from __future__ import annotations

import pytest

from checkout.db import db
from checkout.models import Bill, CheckoutOrder

pytestmark = pytest.mark.browser

WORDS = {
    "zh": {"cancelled": "支付已取消", "checking": "正在查询", "twice": "重复支付"},
    "en": {"cancelled": "Payment cancelled", "checking": "Checking your payment",
           "twice": "do not pay"},
}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                         default_currency="USD")


def the_order() -> CheckoutOrder:
    db.session.expire_all()
    return db.session.execute(db.select(CheckoutOrder)).scalar_one()


def cancel_at_paypal(page, live_server, client, merchant, button_order, lang):
    """From the checkout's chooser to PayPal, log in, press Cancel."""
    path = client.post("/pay", data=button_order(merchant, title="Tea set", amount="1999",
                                                 currency="USD")).headers["Location"]
    page.goto(f"{live_server.url}{path}?lang={lang}")
    page.click('[data-testid="channel-PAYPAL_PAYPAL"]')
    page.get_by_test_id("paypal-amount").wait_for()
    page.locator("form.pp-form button[type=submit]").click()  # log in
    page.get_by_test_id("paypal-cancel").click()
    page.wait_for_selector('[data-testid="result"]')
    return path


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cancel_at_paypal_says_cancelled_and_offers_to_choose_again(
        live_server, client, merchant, button_order, page, screenshot, axe_violations, lang):
    cancel_at_paypal(page, live_server, client, merchant, button_order, lang)
    screenshot(page, f"cancelled-{lang}")
    text = page.locator('[data-testid="result"]').inner_text()
    words = WORDS[lang]
    assert words["cancelled"] in text
    assert words["checking"] not in text and words["twice"] not in text.lower()
    assert page.locator('[data-testid="result"]').get_attribute("data-status") == "pending"
    assert page.locator('[data-testid="cancelled"]').count() == 1
    assert axe_violations(page) == []
    # Nothing was taken: PayPal's bill is still open, to be paid or left.
    bill = db.session.get(Bill, the_order().bills["PAYPAL_PAYPAL"])
    assert bill.status == Bill.OPEN


def test_after_cancelling_the_shopper_can_choose_paypal_again(
        live_server, client, merchant, button_order, page):
    cancel_at_paypal(page, live_server, client, merchant, button_order, "en")
    page.click('[data-testid="choose-another"]')
    page.click('[data-testid="channel-PAYPAL_PAYPAL"]')
    page.get_by_test_id("paypal-amount").wait_for()
    assert "$19.99" in page.get_by_test_id("paypal-amount").inner_text()


def test_approving_at_paypal_still_shows_the_gateways_result(
        live_server, client, merchant, button_order, page):
    path = client.post("/pay", data=button_order(merchant, amount="1999",
                                                 currency="USD")).headers["Location"]
    page.goto(f"{live_server.url}{path}?lang=en")
    page.click('[data-testid="channel-PAYPAL_PAYPAL"]')
    page.get_by_test_id("paypal-amount").wait_for()
    page.locator("form.pp-form button[type=submit]").click()  # log in
    page.get_by_test_id("paypal-approve").click()
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    assert page.locator('[data-testid="cancelled"]').count() == 0
