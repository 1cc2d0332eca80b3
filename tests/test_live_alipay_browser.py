"""Live mode end to end in Chromium (issue 14, "Tests that must exist"): a
live merchant's hosted checkout pays through the real Alipay connector at the
built-in Alipay simulator — PC ALI_WEB, phone ALI_WAP and PC ALI_QRCODE —
to the merchant's return page and its webhook. The simulator sends its signed
notification to our notify URL exactly as Alipay does."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from checkout.db import db
from checkout.models import Bill, WebhookDelivery

pytestmark = pytest.mark.browser

ALIPAY_CASHIER = re.compile(r".*/simulators/alipay/cashier/[^/?]+$")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_live_merchant, receiver):
    return make_live_merchant(channels=["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB",
                                        "ALI_WAP", "WX_WAP"], webhook_url=receiver.url)


def open_chooser(pg, server, order: dict) -> None:
    pg.goto(f"{server.url}/pay?{urlencode(order)}&lang=en")
    pg.wait_for_selector('[data-testid="channel-ALI_WEB"], [data-testid="channel-ALI_WAP"]')


def offered(pg) -> list[str]:
    return [code.removeprefix("channel-") for code in pg.locator(
        '[data-testid^="channel-"]').evaluate_all("els => els.map(e => e.dataset.testid)")]


def the_bill(channel: str) -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


def paid_webhook_of(bill: Bill) -> WebhookDelivery:
    return db.session.execute(db.select(WebhookDelivery)
                              .where(WebhookDelivery.bill_id == bill.id)).scalar_one()


def test_a_pc_pays_live_with_alipay_web_to_the_merchants_return_page_and_webhook(
        simulator_server, shop, merchant, button_order, page, screenshot, axe_violations):
    return_url = f"{shop.origin}/thanks"
    open_chooser(page, simulator_server, button_order(merchant, return_url=return_url))
    assert offered(page) == ["ALI_WEB", "ALI_QRCODE"]  # live: what its credentials pay
    screenshot(page, "live-pc-chooser")
    page.click('[data-testid="channel-ALI_WEB"]')
    page.wait_for_url(ALIPAY_CASHIER)
    screenshot(page, "alipay-simulator-cashier")
    assert axe_violations(page) == []
    page.click('[data-testid="pay"]')
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    screenshot(page, "live-result-paid")
    assert page.get_by_test_id("back-to-shop").get_attribute("href") == return_url
    bill = the_bill("ALI_WEB")
    assert (bill.status, bill.provider) == (Bill.PAID, "alipay")
    assert paid_webhook_of(bill).body.count('"trade_status"') == 1  # Alipay's notify inside
    page.wait_for_url(return_url, timeout=15_000)


def test_a_phone_pays_live_with_alipay_wap(simulator_server, merchant, button_order,
                                           new_page, screenshot):
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     user_agent=PHONE_UA)
    open_chooser(phone, simulator_server, button_order(merchant))
    assert offered(phone) == ["ALI_WAP"]
    phone.click('[data-testid="channel-ALI_WAP"]')
    phone.wait_for_url(ALIPAY_CASHIER)
    screenshot(phone, "alipay-simulator-wap-cashier")
    phone.click('[data-testid="pay"]')
    phone.wait_for_selector('[data-testid="result"][data-status="paid"]')
    screenshot(phone, "live-phone-result-paid")
    bill = the_bill("ALI_WAP")
    assert bill.status == Bill.PAID and paid_webhook_of(bill)


def test_a_pc_pays_live_with_the_alipay_qr_scanned_by_a_second_browser(
        simulator_server, merchant, button_order, page, new_page, screenshot):
    open_chooser(page, simulator_server, button_order(merchant))
    page.click('[data-testid="channel-ALI_QRCODE"]')
    frame = page.frame_locator("iframe")
    qr = frame.locator("img").first
    qr.wait_for()
    screenshot(page, "live-alipay-qr-frame")
    # The code inside the frame is the simulator's cashier for this trade:
    # what a phone's Alipay app opens when it scans it.
    bill = the_bill("ALI_QRCODE")
    from checkout.simulators.alipay.models import SimTrade

    db.session.expire_all()
    trade = db.session.execute(db.select(SimTrade).where(
        SimTrade.out_trade_no == bill.provider_ref)).scalar_one()
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     user_agent=PHONE_UA)
    phone.goto(f"{simulator_server.url}/simulators/alipay/cashier/{trade.token}?lang=en")
    phone.click('[data-testid="pay"]')
    screenshot(phone, "alipay-simulator-paid-on-phone")
    page.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    screenshot(page, "live-qr-result-paid")
    assert the_bill("ALI_QRCODE").status == Bill.PAID
