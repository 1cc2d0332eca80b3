"""Bill expiry in Chromium (issue 13, deliverable 3): a shopper leaves the
WeChat QR page open past the QR lifetime; the page turns to "expired" by
itself (its live status asks the checkout, which asks the gateway) and offers
a new code (issue 15), the result page says the payment expired, and the
sandbox cashier opened on the phone before that moment refuses the payment.
Time is moved on the server (the live server runs in this process, in a
thread), never waited for."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from checkout.db import db
from checkout.models import Bill

pytestmark = pytest.mark.browser

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Tea House")


def wechat_bill() -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")).scalar_one()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_qr_page_left_open_turns_expired_and_the_cashier_refuses_payment(
        live_server, merchant, button_order, new_page, screenshot, axe_violations, clock, lang):
    locale = "zh-CN" if lang == "zh" else "en-US"
    page = new_page(locale=locale)
    page.goto(f"{live_server.url}/pay?{urlencode(button_order(merchant))}")
    page.click('[data-testid="channel-WX_NATIVE"]')
    page.wait_for_selector('[data-testid="qr-page"] [data-testid="qr-code"] svg')
    bill = wechat_bill()
    # The phone scanned the code a moment ago; its cashier page is still open
    # (without scripts, so it cannot reload itself before the press).
    phone = new_page(locale=locale, viewport={"width": 390, "height": 844}, is_mobile=True,
                     user_agent=PHONE_UA, java_script_enabled=False)
    phone.goto(f"{live_server.url}/sandbox/cashier/{bill.cashier_token}")
    phone.wait_for_selector('[data-testid="pay"]')

    clock.now = bill.expires_at  # the QR lifetime is over; no worker has run yet

    # The QR page learns it from its live status: the code is gone, a new one is
    # offered (issue 15, tests/test_reopen_bills_browser.py); the result page says
    # the payment expired.
    page.get_by_test_id("refresh-qr").wait_for(state="visible", timeout=20_000)
    assert page.get_by_test_id("qr-code").is_hidden()
    page.goto(page.url.rsplit("/channel/", 1)[0] + "/return")
    page.wait_for_selector('[data-testid="result"][data-status="expired"]')
    assert page.get_by_test_id("choose-another").is_visible()
    heading = page.locator("h1").inner_text()
    assert heading == ("支付已过期" if lang == "zh" else "The payment has expired")
    screenshot(page, f"result-expired-{lang}")
    assert axe_violations(page) == []

    phone.click('[data-testid="pay"]')
    phone.wait_for_selector('[data-testid="cashier-state"][data-state="expired"]')
    assert wechat_bill().status == Bill.OPEN and wechat_bill().pay_time is None
    # (The sandbox cashier's brand colours are not axe-clean, this change or not: the
    # checkout's own pages are checked below.)
    screenshot(phone, f"cashier-expired-{lang}")

    page.click('[data-testid="choose-another"]')
    page.click('[data-testid="channel-WX_NATIVE"]')  # the same channel again: a new code
    page.wait_for_selector('[data-testid="qr-page"] [data-testid="qr-code"] svg')
    assert page.get_by_test_id("refresh-qr").is_hidden()
    screenshot(page, f"qr-again-new-code-{lang}")
    assert axe_violations(page) == []
