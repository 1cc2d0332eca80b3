"""The hosted checkout end to end in Chromium (README "The hosted checkout"):
a shopper opens ``/pay`` with a merchant's signed BC.click fields, picks a
channel on the chooser fitted to the device, answers the embedded gateway's
sandbox cashier (Pay / Make the payment fail / Cancel) and comes back to our
result page, which asks the gateway for the real state and then forwards to
the merchant's ``return_url``. QR channels are paid by a second browser (the
shopper's phone) while the PC's page moves on by itself.

Assertions use the pages' ``data-testid`` / ``data-status`` hooks and the
database, not the UI text, so they hold in Chinese and English alike."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from checkout.db import db
from checkout.models import Bill, CheckoutOrder

pytestmark = pytest.mark.browser

PC_CHANNELS = ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB"]
PHONE_CHANNELS = ["ALI_WAP", "WX_WAP", "UN_WAP", "JD_WAP"]
# The PC channels whose hand-off is the gateway's auto-submitting html form.
PC_FORM_CHANNELS = ["ALI_WEB", "UN_WEB", "JD_WEB"]

CASHIER = re.compile(r".*/sandbox/cashier/[^/?]+(\?.*)?$")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def checkout_link(live_server, order: dict) -> str:
    """The link a merchant's page sends the shopper to (GET /pay with the fields)."""
    return f"{live_server.url}/pay?{urlencode(order)}"


def open_chooser(pg, live_server, order: dict) -> None:
    pg.goto(checkout_link(live_server, order))
    pg.wait_for_selector('[data-testid="channel-ALI_WEB"], [data-testid="channel-ALI_WAP"]')


def offered(pg) -> list[str]:
    return [code.removeprefix("channel-") for code in pg.locator(
        '[data-testid^="channel-"]').evaluate_all("els => els.map(e => e.dataset.testid)")]


def pick(pg, code: str) -> None:
    pg.click(f'[data-testid="channel-{code}"]')


def result_status(pg, status: str, timeout: int = 10_000) -> None:
    pg.wait_for_selector(f'[data-testid="result"][data-status="{status}"]', timeout=timeout)


def the_bill(channel: str) -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


def bill_statuses() -> dict[str, str]:
    db.session.expire_all()
    return {bill.channel: bill.status for bill in db.session.execute(db.select(Bill)).scalars()}


def merchant_form(live_server, order: dict) -> str:
    """A merchant's product page posting the signed order to the checkout."""
    inputs = "".join(f'<input type="hidden" name="{name}" value="{value}">'
                     for name, value in order.items())
    return (f'<!doctype html><meta charset="utf-8"><title>Tea shop</title>'
            f'<form method="post" action="{live_server.url}/pay">{inputs}'
            f'<button id="buy">Buy</button></form>')


# --- PC ---------------------------------------------------------------------------------------

def test_a_pc_chooser_offers_the_merchants_pc_channels_in_its_order(live_server, merchant,
                                                                    button_order, page,
                                                                    screenshot):
    open_chooser(page, live_server, button_order(merchant))
    screenshot(page, "pc-chooser")
    assert offered(page) == PC_CHANNELS
    assert page.get_by_test_id("order-amount").is_visible()


def test_a_pc_pays_with_alipay_and_reaches_the_merchants_return_url(live_server, shop, merchant,
                                                                    button_order, page,
                                                                    screenshot):
    return_url = f"{shop.origin}/thanks"
    order = button_order(merchant, return_url=return_url)
    shop.page = merchant_form(live_server, order)
    page.goto(shop.origin + "/tea")
    page.click("#buy")
    page.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    pick(page, "ALI_WEB")
    page.wait_for_url(CASHIER)
    page.wait_for_selector('[data-testid="pay"]')
    screenshot(page, "alipay-cashier")
    page.click('[data-testid="pay"]')
    result_status(page, "paid")
    screenshot(page, "result-paid")
    assert page.get_by_test_id("back-to-shop").get_attribute("href") == return_url
    assert the_bill("ALI_WEB").status == Bill.PAID
    db.session.expire_all()
    assert db.session.execute(db.select(CheckoutOrder)).scalar_one().status == "PAID"
    # The result page counts down, then forwards to the shop by itself.
    page.wait_for_selector('[data-testid="forward-countdown"]:has-text("2")')
    page.wait_for_url(return_url, timeout=15_000)


# --- phone ------------------------------------------------------------------------------------

def test_a_phone_chooser_offers_phone_channels_and_pays_with_alipay_wap(live_server, merchant,
                                                                        button_order,
                                                                        phone_page, screenshot):
    open_chooser(phone_page, live_server, button_order(merchant))
    screenshot(phone_page, "phone-chooser")
    assert offered(phone_page) == PHONE_CHANNELS
    pick(phone_page, "ALI_WAP")
    phone_page.wait_for_url(CASHIER)
    phone_page.wait_for_selector('[data-testid="pay"]')
    screenshot(phone_page, "alipay-wap-cashier")
    phone_page.click('[data-testid="pay"]')
    result_status(phone_page, "paid")
    screenshot(phone_page, "phone-result-paid")
    assert the_bill("ALI_WAP").status == Bill.PAID


# --- QR: the PC shows it, the phone pays -------------------------------------------------------

def test_a_wechat_qr_paid_on_the_phone_moves_the_pc_page_on_by_itself(live_server, merchant,
                                                                      button_order, page,
                                                                      new_page, screenshot):
    open_chooser(page, live_server, button_order(merchant))
    pick(page, "WX_NATIVE")
    page.wait_for_selector('[data-testid="qr-page"] [data-testid="qr-code"] svg')
    screenshot(page, "wechat-qr")
    bill = the_bill("WX_NATIVE")

    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     user_agent=PHONE_UA)
    phone.goto(f"{live_server.url}/sandbox/cashier/{bill.cashier_token}")  # the scanned code_url
    phone.wait_for_selector('[data-testid="pay"]')
    screenshot(phone, "wechat-cashier-on-phone")
    phone.click('[data-testid="pay"]')
    result_status(phone, "paid")

    result_status(page, "paid", timeout=20_000)  # the PC page polled and moved on
    screenshot(page, "qr-result-paid")
    assert re.search(r"/pay/[^/]+/return$", page.url)
    assert the_bill("WX_NATIVE").status == Bill.PAID


# --- failure and cancel -----------------------------------------------------------------------

def test_a_failed_payment_says_failed_and_offers_choosing_another_way(live_server, merchant,
                                                                      button_order, page,
                                                                      screenshot):
    open_chooser(page, live_server, button_order(merchant))
    pick(page, "UN_WEB")
    page.wait_for_url(CASHIER)
    page.wait_for_selector('[data-testid="fail"]')
    screenshot(page, "unionpay-cashier")
    page.click('[data-testid="fail"]')
    page.wait_for_selector('[data-testid="cashier-state"][data-state="failed"]')
    screenshot(page, "cashier-failed")
    page.click('[data-testid="back-to-shop"]')  # the channel's way back to the checkout
    result_status(page, "failed")
    screenshot(page, "result-failed")
    assert the_bill("UN_WEB").status == Bill.FAILED
    page.click('[data-testid="choose-another"]')
    page.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    assert offered(page) == PC_CHANNELS


def test_cancelling_at_the_cashier_charges_nothing_and_lets_the_shopper_pick_again(
        live_server, merchant, button_order, page, screenshot):
    open_chooser(page, live_server, button_order(merchant))
    pick(page, "ALI_WEB")
    page.wait_for_url(CASHIER)
    page.click('[data-testid="cancel"]')
    result_status(page, "pending")  # back on our side: nothing paid (the bill stays open)
    page.wait_for_selector('[data-testid="cancelled"]')  # ... and it says so, not "checking"
    screenshot(page, "result-after-cancel")
    assert the_bill("ALI_WEB").status == Bill.OPEN
    page.click('[data-testid="choose-another"]')
    page.wait_for_selector('[data-testid="channel-JD_WEB"]')
    pick(page, "JD_WEB")
    page.wait_for_url(CASHIER)
    page.wait_for_selector('[data-testid="pay"]')
    screenshot(page, "jd-cashier")
    assert bill_statuses() == {"ALI_WEB": Bill.OPEN, "JD_WEB": Bill.OPEN}


# --- without JavaScript -------------------------------------------------------------------------

@pytest.mark.parametrize("code", PC_FORM_CHANNELS)
def test_form_channels_pay_with_javascript_off(live_server, merchant, button_order, new_page,
                                               screenshot, code):
    page = new_page(java_script_enabled=False)
    open_chooser(page, live_server, button_order(merchant))
    assert code in offered(page)
    pick(page, code)
    page.wait_for_selector('[data-testid="handoff"]')
    continue_button = page.get_by_test_id("continue")
    assert continue_button.is_visible()  # the form cannot submit itself without scripts
    screenshot(page, "noscript-handoff")
    continue_button.click()
    page.wait_for_url(CASHIER)
    page.wait_for_selector('[data-testid="pay"]')
    page.click('[data-testid="pay"]')
    result_status(page, "paid")
    screenshot(page, "noscript-result-paid")
    assert the_bill(code).status == Bill.PAID


# --- changing one's mind -------------------------------------------------------------------------

def test_leaving_the_qr_for_alipay_ends_with_one_paid_bill(live_server, merchant, button_order,
                                                           page, screenshot):
    open_chooser(page, live_server, button_order(merchant))
    pick(page, "WX_NATIVE")
    page.wait_for_selector('[data-testid="qr-page"]')
    page.click('[data-testid="choose-another"]')
    page.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    screenshot(page, "chooser-again")
    pick(page, "ALI_WEB")
    page.wait_for_url(CASHIER)
    page.click('[data-testid="pay"]')
    result_status(page, "paid")
    # The paid channel wins; the QR's bill is closed so it cannot be paid as well.
    assert bill_statuses() == {"ALI_WEB": Bill.PAID, "WX_NATIVE": Bill.CLOSED}


def test_the_abandoned_qr_cannot_be_paid_after_paying_another_way(live_server, merchant,
                                                                  button_order, page, new_page):
    open_chooser(page, live_server, button_order(merchant))
    pick(page, "WX_NATIVE")
    page.wait_for_selector('[data-testid="qr-page"]')
    # A phone that scanned the QR and still shows its cashier (scripts off: the
    # page does not refresh itself, so its Pay button is stale).
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     user_agent=PHONE_UA, java_script_enabled=False)
    phone.goto(f"{live_server.url}/sandbox/cashier/{the_bill('WX_NATIVE').cashier_token}")
    phone.wait_for_selector('[data-testid="pay"]')
    page.click('[data-testid="choose-another"]')
    pick(page, "ALI_WEB")
    page.wait_for_url(CASHIER)
    page.click('[data-testid="pay"]')
    result_status(page, "paid")
    with phone.expect_navigation() as answer:
        phone.click('[data-testid="pay"]')
    assert answer.value.status == 409
    phone.wait_for_selector('[data-testid="cashier-state"][data-state="closed"]')
    assert bill_statuses() == {"ALI_WEB": Bill.PAID, "WX_NATIVE": Bill.CLOSED}


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, field", [("wrong_sign", "sign"), ("quoted_title", "title")])
def test_a_bad_order_shows_the_friendly_error_page(live_server, merchant, button_order, page,
                                                   screenshot, bad, field):
    order = button_order(merchant, sign="0" * 32) if bad == "wrong_sign" else \
        button_order(merchant, title='Tom\'s "best" tea')
    response = page.goto(checkout_link(live_server, order))
    assert response.status == 400
    assert page.get_by_test_id("refused").is_visible()
    assert page.get_by_test_id("refused").get_attribute("data-field") == field
    assert page.get_by_test_id("refused-message").inner_text().strip()
    assert "Traceback" not in page.content()
    screenshot(page, "error")
    db.session.expire_all()
    assert db.session.query(CheckoutOrder).count() == 0


def test_switching_language_on_the_error_page_keeps_explaining_the_same_problem(
        live_server, merchant, button_order, page):
    page.goto(checkout_link(live_server, button_order(merchant, sign="0" * 32)))
    assert page.get_by_test_id("refused").get_attribute("data-field") == "sign"
    with page.expect_navigation() as switched:
        page.click('.pay-lang a[lang="en"]')
    assert switched.value.status == 400
    assert page.locator("html").get_attribute("lang").startswith("en")
    assert page.get_by_test_id("refused").get_attribute("data-field") == "sign"
