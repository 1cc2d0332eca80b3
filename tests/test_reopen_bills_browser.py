"""A WeChat QR code that expired on a PC is refreshed in Chromium (issue 15,
deliverable 2): the page left open past the QR lifetime learns from its live
status that the code expired, hides it and says "二维码已过期" with a "刷新二维码"
button; the button opens the channel's next bill for the same order, a new and
different code, which the shopper then pays at the sandbox cashier. Time is
moved on the server (the live server runs in this process, in a thread), never
waited for; the browser's own clock is not moved, so it is the status poll,
not the countdown, that tells the page."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from checkout.db import db
from checkout.models import Bill

pytestmark = pytest.mark.browser

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
TEXTS = {"zh": ("二维码已过期。", "刷新二维码"),
         "en": ("This QR code has expired.", "Refresh the QR code")}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Tea House")


def wechat_bills() -> list[Bill]:
    db.session.expire_all()
    return list(db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")
                                   .order_by(Bill.create_time)).scalars())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_expired_wechat_qr_is_refreshed_and_the_new_code_pays(
        live_server, merchant, button_order, new_page, screenshot, axe_violations, clock, lang):
    page = new_page(locale="zh-CN" if lang == "zh" else "en-US")
    page.goto(f"{live_server.url}/pay?{urlencode(button_order(merchant))}")
    page.click('[data-testid="channel-WX_NATIVE"]')
    page.wait_for_selector('[data-testid="qr-page"] [data-testid="qr-code"] svg')
    first_code = page.locator('[data-testid="qr-code"]').inner_html()
    assert page.get_by_test_id("refresh-qr").is_hidden()
    first = wechat_bills()[0]

    clock.now = first.expires_at  # the QR lifetime is over on the server; no worker has run

    refresh = page.get_by_test_id("refresh-qr")
    refresh.wait_for(state="visible", timeout=20_000)
    expired_text, button_text = TEXTS[lang]
    assert page.locator("[data-live]").inner_text() == expired_text
    assert refresh.inner_text() == button_text
    assert page.get_by_test_id("qr-code").is_hidden()
    assert page.get_by_test_id("i-have-paid").is_hidden()
    assert page.get_by_test_id("choose-another").is_visible()
    screenshot(page, f"qr-expired-{lang}")
    assert axe_violations(page) == []

    refresh.click()
    page.wait_for_selector('[data-testid="qr-page"] [data-testid="qr-code"] svg')
    assert page.get_by_test_id("refresh-qr").is_hidden()
    assert page.locator('[data-testid="qr-code"]').inner_html() != first_code
    first, second = wechat_bills()
    assert first.status == Bill.CLOSED and second.status == Bill.OPEN
    assert second.bill_no == first.bill_no and second.cashier_token != first.cashier_token
    screenshot(page, f"qr-refreshed-{lang}")

    # The phone scans the new code: the sandbox cashier of the new bill.
    phone = new_page(locale="zh-CN" if lang == "zh" else "en-US",
                     viewport={"width": 390, "height": 844}, is_mobile=True,
                     user_agent=PHONE_UA)
    phone.goto(f"{live_server.url}/sandbox/cashier/{second.cashier_token}")
    phone.click('[data-testid="pay"]')
    phone.wait_for_selector('[data-testid="result"][data-status="paid"]')  # the bill's return_url

    page.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    assert [bill.status for bill in wechat_bills()] == [Bill.CLOSED, Bill.PAID]
