"""PayPal in a real browser (headless Chromium): the PayPal redirect approved
and cancelled, and a card form paid with a bad card then a good one, in USD
and in JPY (issue 5: "a PayPal shopper pays by redirect and by card in USD
and in JPY with the right amounts")."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder

pytestmark = pytest.mark.browser


@pytest.fixture
def settlement():
    """Payments are settled by helper "cashier"'s module."""
    return pytest.importorskip("checkout.sandbox.settlement")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                         default_currency="USD")


def paypal_bill(live_server, merchant, total_fee, currency) -> dict:
    """A PAYPAL_PAYPAL bill made by a merchant's server over the REST API;
    PayPal sends the shopper back to a page of the live server itself."""
    timestamp = now_ms()
    body = {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, merchant.app_secret),
            "channel": "PAYPAL_PAYPAL", "total_fee": total_fee, "currency": currency,
            "bill_no": f"BR{timestamp}{secrets.randbelow(10 ** 6):06d}", "title": "Tea set",
            "return_url": f"{live_server.url}/healthz"}
    answer = httpx.post(f"{live_server.url}/1/rest/international/bill", json=body).json()
    assert answer["result_code"] == 0, answer
    return answer


def stored_bill(bill_id) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill_id)


def make_order(merchant, amount, currency, buyer_id="alice") -> CheckoutOrder:
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", amount=amount, currency=currency, buyer_id=buyer_id,
                          bills={}, extra={}, created_at=now_ms(), updated_at=now_ms())
    db.session.add(order)
    db.session.commit()
    return order


def log_in_to_paypal(page):
    page.get_by_role("button", name="Log In").click()
    page.get_by_test_id("paypal-approve").wait_for()


@pytest.mark.parametrize("total_fee, currency, shown, minor", [
    (19.99, "USD", "$19.99", 1999), (1500, "JPY", "¥1,500", 1500)])
def test_paypal_redirect_approved(live_server, merchant, page, screenshot, settlement,
                                  total_fee, currency, shown, minor):
    answer = paypal_bill(live_server, merchant, total_fee, currency)
    page.goto(answer["url"] + "?lang=en")
    assert "SANDBOX" in page.inner_text("body")
    assert shown in page.get_by_test_id("paypal-amount").inner_text()
    screenshot(page, f"login-{currency}")
    log_in_to_paypal(page)
    screenshot(page, f"review-{currency}")
    page.get_by_test_id("paypal-approve").click()
    page.wait_for_url(f"{live_server.url}/healthz?*")
    query = parse_qs(urlsplit(page.url).query)
    bill = stored_bill(answer["id"])
    assert query == {"bill_no": [bill.bill_no], "result": ["approved"]}
    assert (bill.status, bill.total_fee, bill.currency) == ("PAID", minor, currency)


def test_paypal_redirect_cancelled(live_server, merchant, page, screenshot):
    answer = paypal_bill(live_server, merchant, 5, "USD")
    page.goto(answer["url"] + "?lang=en")
    log_in_to_paypal(page)
    page.get_by_test_id("paypal-cancel").click()
    page.wait_for_url(f"{live_server.url}/healthz?*")
    assert parse_qs(urlsplit(page.url).query)["result"] == ["cancle"]
    assert stored_bill(answer["id"]).status == "OPEN"


@pytest.mark.parametrize("amount, currency, shown", [(1999, "USD", "$19.99"),
                                                      (1500, "JPY", "¥1,500")])
def test_card_pay_with_a_bad_then_a_good_card(live_server, merchant, page, screenshot,
                                              settlement, amount, currency, shown):
    order = make_order(merchant, amount, currency)
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang=en")
    assert shown in page.get_by_test_id("order-amount").inner_text()
    page.fill("#cc-number", "4242424242424241")
    assert page.inner_text("#cc-brand [data-card-brand-name]") == "Visa"  # detected as typed
    assert page.locator("#cc-brand [data-card-brand=visa]").is_visible()  # and its mark shown
    assert page.input_value("#cc-number") == "4242 4242 4242 4241"
    page.fill("#cc-exp", "1230")
    assert page.input_value("#cc-exp") == "12 / 30"
    page.fill("#cc-csc", "737")
    page.fill("#cc-name", "Jim Green")
    page.get_by_test_id("card-pay").click()
    page.get_by_test_id("card-message").wait_for()
    assert "mistyped" in page.inner_text("#cc-number-error")
    assert page.input_value("#cc-number") == "" and page.input_value("#cc-name") == "Jim Green"
    screenshot(page, f"bad-card-{currency}")

    page.fill("#cc-number", "4242424242424242")
    page.fill("#cc-csc", "737")
    page.check("input[name=save_card]")
    page.get_by_test_id("card-pay").click()
    page.wait_for_url(f"{live_server.url}/pay/{order.id}/return*")
    db.session.expire_all()
    bill = stored_bill(db.session.get(CheckoutOrder, order.id).bills["PAYPAL_CREDITCARD"])
    assert (bill.status, bill.total_fee, bill.currency) == ("PAID", amount, currency)


def test_amex_shows_its_brand_and_a_four_digit_code(live_server, merchant, page, screenshot):
    order = make_order(merchant, 1999, "USD")
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang=en")
    page.fill("#cc-number", "378282246310005")
    assert page.inner_text("#cc-brand [data-card-brand-name]") == "American Express"
    assert page.input_value("#cc-number") == "3782 822463 10005"
    assert page.get_attribute("#cc-csc", "maxlength") == "4"
    screenshot(page, "amex")


def test_saved_card_pays_in_one_tap(live_server, merchant, page, screenshot, settlement):
    from checkout import paypal_pay

    paypal_pay.pay_by_card(merchant, make_order(merchant, 1999, "USD"),
                           {"cc_name": "Jim Green", "cc_number": "4242424242424242",
                            "cc_exp": "12/30", "cc_csc": "737"}, save=True)
    order = make_order(merchant, 1500, "JPY")
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang=en")
    button = page.get_by_test_id("saved-card")
    assert "Visa •••• 4242" in button.inner_text()
    screenshot(page, "saved-card")
    button.click()
    page.wait_for_url(f"{live_server.url}/pay/{order.id}/return*")
    db.session.expire_all()
    bill = stored_bill(db.session.get(CheckoutOrder, order.id).bills["PAYPAL_SAVED_CREDITCARD"])
    assert (bill.status, bill.total_fee, bill.currency) == ("PAID", 1500, "JPY")
