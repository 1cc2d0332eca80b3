"""Coupons in the hosted checkout, in Chromium (issue 5: "coupon preselected
and changed, paid amount in the webhook").

A buyer holds two coupons for a ¥49.99 order: "¥3 off" (saves ¥3.00) and
"10% off" (pays ¥49.99 × 0.9 = ¥44.991, rounded UP to ¥45.00, so it saves
¥4.99 — ``checkout.money.percentage_discount``). The chooser preselects the
better one; the shopper may switch, and whatever is picked is what the
sandbox channel charges, what the merchant's webhook (delivered over real
HTTP by the project's worker) reports, and what the BeeCloud bill query
answers. Only the coupon actually paid with is consumed.

Assertions read DOM state and amounts formatted by ``checkout.money``
(``¥45.00``), which read the same in every language; the browser is pinned
to en-US anyway so the screenshots can be read.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CouponTemplate, WebhookDelivery
from checkout.sandbox import webhooks

pytestmark = pytest.mark.browser

BUYER = "alice@example.com"
BILL_FEE = 4999          # ¥49.99, the amount the merchant signs
BEST_DISCOUNT = 499      # 10% off: pays ceil(4999 × 0.9) = 4500 fen
SMALL_DISCOUNT = 300     # ¥3 off


# --- fixtures ------------------------------------------------------------------------

@pytest.fixture
def merchant(make_merchant, receiver):
    return make_merchant("Tea House", webhook_url=receiver.url)


@pytest.fixture
def wallet(merchant, give_coupon):
    """The buyer's two coupons; both usable on ¥49.99 (limit_fee below it)."""
    small = give_coupon(merchant, BUYER, name="¥3 off", type=CouponTemplate.AMOUNT_OFF,
                        discount="3", limit_fee=3000)
    best = give_coupon(merchant, BUYER, name="10% off", type=CouponTemplate.PERCENTAGE,
                       discount="0.9", limit_fee=4000)
    return SimpleNamespace(small=small, best=best)


@pytest.fixture
def pc(new_page):
    """A desktop page, English, so screenshots are readable by anyone."""
    return new_page(locale="en-US")


@pytest.fixture
def order(merchant, button_order):
    """The merchant's signed order for the buyer (out_trade_no is also the bill_no)."""
    return button_order(merchant, title="Oolong tea", amount=str(BILL_FEE), buyer_id=BUYER)


# --- helpers --------------------------------------------------------------------------

def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def open_checkout(pc, live_server, order):
    pc.goto(f"{live_server.url}/pay?{urlencode(order)}")
    pc.wait_for_url(re.compile(r".*/pay/[^/?]+(\?.*)?$"))
    pc.get_by_test_id("coupons").wait_for()


def coupon_radio(pc, coupon_id: str):
    return pc.get_by_test_id(f"coupon-{coupon_id}")


def coupon_saving(pc, coupon_id: str) -> str:
    """The "−¥x.xx" shown beside one coupon."""
    return pc.locator(f"label.pay-coupon:has([data-testid='coupon-{coupon_id}']) "
                      ".pay-coupon-off").inner_text()


def shown_total(pc) -> str:
    return pc.get_by_test_id("order-amount").inner_text().strip()


def saving_line(pc):
    return pc.locator("[data-pay-saving]")


def pay_at_cashier(cashier_page, expected_fen: int):
    """The sandbox channel's cashier charges the discounted amount; pay it."""
    cashier_page.get_by_test_id("pay").wait_for()
    assert cashier_page.get_by_test_id("bill-amount").inner_text().strip() == yuan(expected_fen)
    cashier_page.get_by_test_id("pay").click()


def pay_by_phone(browser, live_server, order, channel: str, expected_fen: int):
    """The shopper's phone scans the PC's QR code, which holds the bill's
    cashier URL (read here from the bill, as a scanner would read the code)."""
    db.session.expire_all()
    bill = db.session.execute(db.select(Bill).where(
        Bill.bill_no == order["out_trade_no"], Bill.channel == channel)).scalar_one()
    phone = browser.new_context(locale="en-US")
    try:
        cashier = phone.new_page()
        cashier.set_default_timeout(10_000)
        cashier.goto(f"{live_server.url}/sandbox/cashier/{bill.cashier_token}")
        pay_at_cashier(cashier, expected_fen)
        # Paid: the cashier says so, or goes on to the bill's return_url.
        cashier.locator('[data-testid="cashier-state"][data-state="paid"], '
                        '[data-testid="result"][data-status="paid"]').wait_for()
    finally:
        phone.close()


def deliver_webhook(receiver) -> dict:
    """Run the project's webhook worker once (real HTTP POST to the receiver)."""
    db.session.commit()  # no read transaction of ours spans the live server's writes
    assert webhooks.work_once() == 1
    assert len(receiver.bodies) == 1, receiver.bodies
    db.session.expire_all()
    (delivery,) = db.session.execute(db.select(WebhookDelivery)).scalars()
    assert delivery.status == WebhookDelivery.DELIVERED
    return json.loads(receiver.bodies[0])


def signed_para(merchant, secret=None, **fields) -> str:
    timestamp = now_ms()
    key = merchant.app_secret if secret is None else secret
    return json.dumps({"app_id": merchant.app_id, "timestamp": timestamp,
                       "app_sign": signing.app_sign(merchant.app_id, timestamp, key),
                       **fields})


def query_paid_bill(live_server, merchant, bill_no: str) -> dict:
    """What the merchant's server learns from the BeeCloud REST API: the
    order's bills by bill_no, then the paid one by id — on the sandbox paths
    (test secret): a test-mode merchant's checkout makes sandbox bills (issue 14)."""
    secret = merchant.test_secret
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        listed = http.get("/2/rest/sandbox/bills", params={
            "para": signed_para(merchant, secret, bill_no=bill_no)}).json()
        assert listed["result_code"] == 0, listed
        paid = [bill for bill in listed["bills"] if bill["spay_result"]]
        assert len(paid) == 1, listed["bills"]
        one = http.get(f"/2/rest/sandbox/bill/{paid[0]['id']}",
                       params={"para": signed_para(merchant, secret)}).json()
    assert one["result_code"] == 0, one
    return one["pay"]


def coupon_status(live_server, merchant, coupon_id: str) -> int:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        answer = http.get(f"/2/rest/coupon/{coupon_id}",
                          params={"para": signed_para(merchant)}).json()
    assert answer["result_code"] == 0, answer
    return answer["coupon"]["status"]


def usable_coupon_ids(live_server, merchant) -> list[str]:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        answer = http.get("/2/rest/coupon", params={"para": signed_para(
            merchant, user_id=BUYER, status=0, limit_fee=BILL_FEE)}).json()
    assert answer["result_code"] == 0, answer
    return [coupon["id"] for coupon in answer["coupons"]]


def assert_paid_with(merchant, live_server, receiver, order, *, coupon_id, discount,
                     other_coupon_id, channel_type):
    """The webhook and the bill query agree on the price actually paid, and
    only the coupon used is consumed."""
    event = deliver_webhook(receiver)
    paid = BILL_FEE - discount
    assert event["transaction_type"] == "PAY" and event["trade_success"] is True
    assert event["transaction_id"] == order["out_trade_no"]
    assert event["channel_type"] == channel_type
    assert (event["bill_fee"], event["discount"], event["transaction_fee"],
            event["coupon_id"]) == (BILL_FEE, discount, paid, coupon_id)
    # The signature covers the fee actually paid (the discounted one).
    assert event["signature"] == signing.webhook_signature(
        merchant.app_id, event["transaction_id"], "PAY", event["channel_type"],
        event["transaction_fee"], merchant.master_secret)

    bill = query_paid_bill(live_server, merchant, event["transaction_id"])
    assert (bill["bill_fee"], bill["discount"], bill["total_fee"], bill["coupon_id"]) == \
        (event["bill_fee"], event["discount"], event["transaction_fee"], event["coupon_id"])

    assert coupon_status(live_server, merchant, coupon_id) == 1  # used
    assert coupon_status(live_server, merchant, other_coupon_id) == 0
    assert usable_coupon_ids(live_server, merchant) == [other_coupon_id]


# --- 1. the better coupon is preselected ------------------------------------------------

def test_the_better_of_two_coupons_is_preselected_with_price_discount_and_total(
        pc, live_server, order, wallet, screenshot):
    open_checkout(pc, live_server, order)
    radios = pc.locator("input[name=coupon]")
    assert radios.count() == 3  # two coupons and "no coupon"
    assert coupon_radio(pc, wallet.best.id).is_checked()
    assert not coupon_radio(pc, wallet.small.id).is_checked()
    assert not pc.get_by_test_id("coupon-none").is_checked()
    # The biggest saving is listed first, each with what it takes off.
    assert radios.first.get_attribute("value") == wallet.best.id
    assert coupon_saving(pc, wallet.best.id) == "−" + yuan(BEST_DISCOUNT)
    assert coupon_saving(pc, wallet.small.id) == "−" + yuan(SMALL_DISCOUNT)
    # Amount to pay, original price and saving.
    assert shown_total(pc) == yuan(BILL_FEE - BEST_DISCOUNT) == "¥45.00"
    saving = pc.get_by_test_id("order-saving")
    assert saving.is_visible()
    assert yuan(BILL_FEE) in saving.inner_text() and yuan(BEST_DISCOUNT) in saving.inner_text()
    screenshot(pc, "chooser-best-preselected")
    pc.goto(pc.url.split("?")[0] + "?lang=zh")
    pc.get_by_test_id("coupons").wait_for()
    screenshot(pc, "chooser-best-preselected-zh")


# --- 2. switching updates the amount to pay live ----------------------------------------

def test_switching_coupon_or_none_updates_the_amount_to_pay_live(
        pc, live_server, order, wallet, screenshot):
    open_checkout(pc, live_server, order)
    pc.evaluate("window.samePage = true")  # gone if the page reloads or navigates

    coupon_radio(pc, wallet.small.id).check()
    pc.wait_for_function("document.querySelector('[data-pay-total]').textContent.trim() "
                         f"=== {json.dumps(yuan(BILL_FEE - SMALL_DISCOUNT))}")
    assert shown_total(pc) == "¥46.99"
    assert saving_line(pc).is_visible()
    text = saving_line(pc).inner_text()
    assert yuan(BILL_FEE) in text and yuan(SMALL_DISCOUNT) in text
    assert yuan(BEST_DISCOUNT) not in text
    screenshot(pc, "chooser-other-coupon")

    pc.get_by_test_id("coupon-none").check()
    pc.wait_for_function("document.querySelector('[data-pay-total]').textContent.trim() "
                         f"=== {json.dumps(yuan(BILL_FEE))}")
    assert shown_total(pc) == "¥49.99"
    assert saving_line(pc).is_hidden()
    screenshot(pc, "chooser-no-coupon")

    coupon_radio(pc, wallet.best.id).check()
    pc.wait_for_function("document.querySelector('[data-pay-total]').textContent.trim() "
                         f"=== {json.dumps(yuan(BILL_FEE - BEST_DISCOUNT))}")
    assert saving_line(pc).is_visible()
    assert pc.evaluate("window.samePage") is True  # updated in place, no submit


# --- 3. paying with the preselected (better) coupon -------------------------------------

def test_paying_with_the_preselected_coupon_charges_and_reports_the_discounted_amount(
        pc, live_server, merchant, receiver, order, wallet, screenshot):
    open_checkout(pc, live_server, order)
    assert coupon_radio(pc, wallet.best.id).is_checked()
    pc.get_by_test_id("channel-ALI_WEB").click()
    pc.wait_for_url(re.compile(r".*/sandbox/cashier/[^/]+$"))  # the hand-off form went on
    screenshot(pc, "alipay-cashier")
    pay_at_cashier(pc, BILL_FEE - BEST_DISCOUNT)
    pc.locator('[data-testid="result"][data-status="paid"]').wait_for()
    screenshot(pc, "paid")

    assert_paid_with(merchant, live_server, receiver, order, coupon_id=wallet.best.id,
                     discount=BEST_DISCOUNT, other_coupon_id=wallet.small.id,
                     channel_type="ALI")


# --- 4. paying with the coupon the shopper switched to ----------------------------------

def test_paying_with_the_coupon_the_shopper_switched_to_reports_that_discount(
        pc, browser, live_server, merchant, receiver, order, wallet, screenshot):
    open_checkout(pc, live_server, order)
    coupon_radio(pc, wallet.small.id).check()
    pc.get_by_test_id("channel-WX_NATIVE").click()
    pc.get_by_test_id("qr-page").wait_for()
    screenshot(pc, "wechat-qr")
    pay_by_phone(browser, live_server, order, "WX_NATIVE", BILL_FEE - SMALL_DISCOUNT)
    # The PC page learns of the payment by itself (status polling).
    pc.locator('[data-testid="result"][data-status="paid"]').wait_for(timeout=20_000)

    assert_paid_with(merchant, live_server, receiver, order, coupon_id=wallet.small.id,
                     discount=SMALL_DISCOUNT, other_coupon_id=wallet.best.id,
                     channel_type="WX")


# --- after the chooser -------------------------------------------------------------------

def test_the_qr_and_result_pages_show_the_discounted_amount_actually_charged(
        pc, browser, live_server, order, wallet, screenshot):
    open_checkout(pc, live_server, order)
    assert coupon_radio(pc, wallet.best.id).is_checked()
    pc.get_by_test_id("channel-WX_NATIVE").click()
    pc.get_by_test_id("qr-page").wait_for()
    screenshot(pc, "qr")
    assert shown_total(pc) == yuan(BILL_FEE - BEST_DISCOUNT)  # what scanning will charge
    pay_by_phone(browser, live_server, order, "WX_NATIVE", BILL_FEE - BEST_DISCOUNT)
    result = pc.locator('[data-testid="result"][data-status="paid"]')
    result.wait_for(timeout=20_000)
    screenshot(pc, "paid")
    assert shown_total(pc) == yuan(BILL_FEE - BEST_DISCOUNT)
    assert yuan(BILL_FEE - BEST_DISCOUNT) in result.inner_text()
    assert yuan(BILL_FEE) not in result.inner_text()
