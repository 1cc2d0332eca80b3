"""The accessibility gate (issue 15 item 4): every shopper page, rendered in
Chromium in Chinese and in English, passes axe-core's WCAG 2.1 A/AA rules
with 0 violations (``axe_violations`` in conftest.py: axe-core shipped inside
axe-playwright-python).

Each page is its own test (``PAGES`` below): the chooser on a PC, a phone and
inside WeChat, with coupons and for a USD order; the WeChat QR page; each
sandbox cashier family; the built-in Alipay simulator's cashier and QR frame;
the result pages (paid, paid with the countdown to
the shop, pending, failed, cancelled, expired); the WeChat QR page whose code
expired; the problem and 404 pages;
the card form empty and with an error. Each test also leaves a full-page
PNG of its page in the git-ignored test-artifacts/gallery/ (``bin/screenshots``
runs just these), so anyone can look at every page in a minute."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import urlencode

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder
from checkout.sandbox import bills as sandbox_bills

pytestmark = pytest.mark.browser

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
             "NetType/WIFI Language/zh_CN")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "user_agent": PHONE_UA}
WECHAT = {**PHONE, "user_agent": WECHAT_UA}

CASHIER_FAMILIES = ["ALI_WEB", "WX_NATIVE", "UN_WEB", "JD_WEB", "YEE_WEB", "KUAIQIAN_WEB",
                    "BD_WEB"]
DOMESTIC = ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB", "ALI_WAP", "WX_WAP",
            "UN_WAP", "JD_WAP", "WX_JSAPI", "YEE_WEB", "KUAIQIAN_WEB", "BD_WEB"]
BUYER = "alice"
GALLERY = Path(__file__).resolve().parent.parent / "test-artifacts" / "gallery"


class Shopper:
    """What a page opener needs: the live server, a test client on the same
    database, the merchant, and a way to open browser pages."""

    def __init__(self, request, live_server, client, make_merchant, new_page, button_order,
                 give_coupon, lang):
        self.request = request
        self.url, self.client, self.lang = live_server.url, client, lang
        self.make_merchant, self.new_page = make_merchant, new_page
        self.button_order, self.give_coupon = button_order, give_coupon
        self.merchant = make_merchant("Tea House", channels=DOMESTIC)

    def goto(self, path, device=None):
        pg = self.new_page(**(device or {}))
        joiner = "&" if "?" in path else "?"
        pg.goto(f"{self.url}{path}{joiner}lang={self.lang}")
        return pg

    def open_order(self, merchant=None, user_agent=None, **fields):
        """A checkout opened through /pay, as a merchant's page does: its path."""
        fields.setdefault("title", "Oolong tea")
        response = self.client.post("/pay", data=self.button_order(merchant or self.merchant,
                                                                    **fields),
                                    headers={"User-Agent": user_agent or ""})
        assert response.status_code == 303, response.data
        return response.headers["Location"].replace("http://localhost", "")

    def start(self, path, channel) -> Bill:
        """The shopper picks ``channel`` on the chooser: the order's bill."""
        page = self.client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.client.post(path + "/start", data={"csrf_token": token,
                                                           "channel": channel})
        assert response.status_code == 303, response.data
        self.client.get(response.headers["Location"])  # the channel's page opens the bill
        db.session.expire_all()
        return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()

    def usd_merchant(self):
        return self.make_merchant("Global Tea", channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                                  default_currency="USD")

    def card_order(self) -> CheckoutOrder:
        merchant = self.usd_merchant()
        order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                              out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                              title="Tea set", amount=1999, currency="USD", buyer_id=BUYER,
                              bills={}, extra={}, created_at=now_ms(), updated_at=now_ms())
        db.session.add(order)
        db.session.commit()
        return order


PAGES = {}


def shopper_page(name):
    def register(opener):
        PAGES[name] = opener
        return opener
    return register


@shopper_page("chooser-pc")
def _chooser_pc(s):
    return s.goto(s.open_order())


@shopper_page("chooser-phone")
def _chooser_phone(s):
    return s.goto(s.open_order(user_agent=PHONE_UA), PHONE)


@shopper_page("chooser-wechat")
def _chooser_wechat(s):
    return s.goto(s.open_order(user_agent=WECHAT_UA), WECHAT)


@shopper_page("chooser-coupons")
def _chooser_coupons(s):
    s.give_coupon(s.merchant, BUYER, name="¥3 off", discount="3")
    s.give_coupon(s.merchant, BUYER, name="¥5 off", discount="5")
    pg = s.goto(s.open_order(amount="4999", buyer_id=BUYER))
    pg.get_by_test_id("coupons").wait_for()
    return pg


@shopper_page("chooser-usd")
def _chooser_usd(s):
    return s.goto(s.open_order(s.usd_merchant(), amount="1999"))


@shopper_page("qr-wx-native")
def _qr(s):
    pg = s.goto(s.open_order())
    pg.click('[data-testid="channel-WX_NATIVE"]')
    pg.wait_for_selector("[data-expires]")
    return pg


@shopper_page("chooser-notice")
def _chooser_notice(s):
    # The merchant lacks the instant channel asked for: the chooser says so (amber).
    merchant = s.make_merchant("No UnionPay", channels=["ALI_WEB", "WX_NATIVE"])
    pg = s.goto(s.open_order(merchant, instant_channel="un"))
    pg.get_by_test_id("chooser-notice").wait_for()
    return pg


@shopper_page("qr-alipay")
def _qr_alipay(s):
    pg = s.goto(s.open_order())
    pg.click('[data-testid="channel-ALI_QRCODE"]')
    pg.wait_for_load_state("load")
    return pg


@shopper_page("wechat-jsapi")
def _wechat_jsapi(s):
    path = s.open_order(user_agent=WECHAT_UA, openid="o_shopper_1")
    pg = s.goto(path, WECHAT)
    pg.click('[data-testid="channel-WX_JSAPI"]')
    pg.wait_for_selector("[data-jsapi]")
    return pg


@shopper_page("wechat-alipay-guide")
def _wechat_alipay_guide(s):
    pg = s.goto(s.open_order(user_agent=WECHAT_UA, openid="o_shopper_1"), WECHAT)
    pg.click('[data-testid="channel-ALI_WAP"]')
    pg.wait_for_selector('[data-testid="ali-guide"]')
    return pg


@shopper_page("wechat-problem")
def _wechat_problem(s):
    path = s.open_order(user_agent=WECHAT_UA)
    return s.goto(f"{path}/wechat/callback?state=forged&code=x", WECHAT)


def _cashier(channel):
    def open_(s):
        answer = sandbox_bills.create_bill(s.merchant, {
            "channel": channel, "total_fee": 1999, "title": "Oolong tea",
            "bill_no": f"A{now_ms()}{secrets.randbelow(10 ** 6):06d}",
            "return_url": "https://shop.example.com/back"}, test_mode=True)  # the sandbox's
        assert answer["result_code"] == 0, answer
        return s.goto(f"/sandbox/cashier/{db.session.get(Bill, answer['id']).cashier_token}")
    return open_


for _channel in CASHIER_FAMILIES:
    shopper_page(f"cashier-{_channel}")(_cashier(_channel))


def _alipay_simulator(channel, **fields):
    """The built-in Alipay simulator's page a live merchant's bill hands off to
    (issue 14): its cashier, or ALI_QRCODE's frame page."""
    def open_(s):
        from urllib.parse import urlsplit

        from checkout import credentials, merchants

        merchant = s.make_merchant("Live Tea House", channels=[channel])
        credentials.save(merchant, "alipay", credentials.simulator_values(merchant.app_id))
        merchants.update_merchant(merchant, checkout_mode="live")
        answer = sandbox_bills.create_bill(merchant, {
            "channel": channel, "total_fee": 1999, "title": "Oolong tea",
            "bill_no": f"A{now_ms()}{secrets.randbelow(10 ** 6):06d}",
            "return_url": "https://shop.example.com/back", **fields})
        assert answer["result_code"] == 0, answer
        parts = urlsplit(answer["url"])
        pg = s.new_page()
        pg.goto(f"{s.url}{parts.path}?{parts.query}")  # signed: nothing may be added to it
        pg.goto(f"{pg.url}?lang={s.lang}")  # the page Alipay's gateway sent the browser to
        return pg
    return open_


shopper_page("alipay-simulator-cashier")(_alipay_simulator("ALI_WEB"))
shopper_page("alipay-simulator-qr-frame")(_alipay_simulator("ALI_QRCODE", qr_pay_mode="0"))


def _cashier_outcome(button, state):
    def open_(s):
        answer = sandbox_bills.create_bill(s.merchant, {
            "channel": "WX_NATIVE", "total_fee": 1999, "title": "Oolong tea",
            "bill_no": f"A{now_ms()}{secrets.randbelow(10 ** 6):06d}"},  # no way back: its own page
            test_mode=True)
        assert answer["result_code"] == 0, answer
        pg = s.goto(f"/sandbox/cashier/{db.session.get(Bill, answer['id']).cashier_token}")
        pg.click(f'[data-testid="{button}"]')
        pg.wait_for_selector(f'[data-testid="cashier-state"][data-state="{state}"]')
        return pg
    return open_


shopper_page("cashier-paid")(_cashier_outcome("pay", "paid"))
shopper_page("cashier-failed")(_cashier_outcome("fail", "failed"))
shopper_page("cashier-cancelled")(_cashier_outcome("cancel", "cancelled"))


@shopper_page("qr-expired")
def _qr_expired(s):
    # A QR page left open past its code's lifetime: "expired" and the refresh button
    # (issue 15; choosing the channel again opens a new code, no longer a problem page).
    pg = s.goto(f"{s.open_order()}/channel/WX_NATIVE")
    pg.wait_for_selector("[data-expires]")
    bill = db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")).scalar_one()
    s.request.getfixturevalue("clock").now = bill.expires_at
    pg.get_by_test_id("refresh-qr").wait_for(state="visible", timeout=20_000)
    return pg


def _result(status, settle=None, query="", channel="ALI_WEB"):
    def open_(s):
        path = s.open_order()
        bill = s.start(path, channel)
        if settle:
            settle(s, bill)
        pg = s.goto(f"{path}/return{query}")
        pg.wait_for_selector(f'[data-testid="result"][data-status="{status}"]')
        return pg
    return open_


def _settlement():
    from checkout.sandbox import settlement
    return settlement


def _paid(s, bill):
    _settlement().mark_paid(bill)


def _failed(s, bill):
    _settlement().mark_failed(bill)


def _expired(s, bill):
    s.request.getfixturevalue("clock").now = bill.expires_at  # the QR's lifetime is over


shopper_page("result-paid")(_result("paid", _paid))
shopper_page("result-pending")(_result("pending"))
shopper_page("result-failed")(_result("failed", _failed))
shopper_page("result-cancelled")(_result("pending", query="?cancelled=1"))
shopper_page("result-expired")(_result("expired", _expired, channel="WX_NATIVE"))


@shopper_page("result-paid-returning")
def _paid_returning(s, device=None):
    # The countdown would leave for the shop; the shop's page is not ours to test.
    path = s.open_order(return_url="https://shop.example.com/done")
    _paid(s, s.start(path, "ALI_WEB"))
    pg = s.new_page(**(device or {}))
    pg.route("https://shop.example.com/**", lambda route: route.abort())
    pg.goto(f"{s.url}{path}/return?lang={s.lang}")
    return pg


@shopper_page("problem")
def _problem(s):
    fields = s.button_order(s.merchant, sign="0" * 32)
    return s.goto(f"/pay?{urlencode(fields)}")


@shopper_page("not-found")
def _not_found(s):
    return s.goto("/pay/not-a-real-order")


@shopper_page("card-empty")
def _card_empty(s):
    return s.goto(f"/pay/{s.card_order().id}/card")


@shopper_page("card-error")
def _card_error(s):
    pg = s.goto(f"/pay/{s.card_order().id}/card")
    pg.fill("#cc-number", "4242424242424241")
    pg.fill("#cc-exp", "1230")
    pg.fill("#cc-csc", "737")
    pg.fill("#cc-name", "Jim Green")
    pg.get_by_test_id("card-pay").click()
    pg.get_by_test_id("card-message").wait_for()
    return pg


@pytest.fixture(params=["zh", "en"])
def shopper(request, live_server, client, make_merchant, new_page, button_order, give_coupon):
    return Shopper(request, live_server, client, make_merchant, new_page, button_order, give_coupon,
                   request.param)


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_passes_axe_wcag_2_1_aa(name, shopper, axe_violations):
    pg = PAGES[name](shopper)
    GALLERY.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(GALLERY / f"{name}-{shopper.lang}.png"), full_page=True)
    assert axe_violations(pg) == []


NO_SCRIPTS = {"java_script_enabled": False}


def test_without_scripts_the_pending_page_offers_check_again_instead_of_reloading(shopper):
    path = shopper.open_order()
    shopper.start(path, "ALI_WEB")
    pg = shopper.goto(f"{path}/return", NO_SCRIPTS)
    assert pg.locator('meta[http-equiv="refresh"]').count() == 0
    pg.get_by_test_id("check-again").click()
    pg.wait_for_selector('[data-testid="result"][data-status="pending"]')
    assert "n=1" in pg.url


def test_without_scripts_the_paid_page_shows_the_way_back_and_no_countdown(shopper):
    pg = _paid_returning(shopper, NO_SCRIPTS)
    assert pg.locator('meta[http-equiv="refresh"]').count() == 0
    assert pg.get_by_test_id("back-to-shop").is_visible()
    assert not pg.get_by_test_id("forward-countdown").is_visible()  # nothing would count down


@pytest.mark.parametrize("name", ["chooser-pc", "chooser-phone", "cashier-ALI_WEB"])
def test_the_language_links_are_tap_targets_of_at_least_24px(name, shopper):
    pg = PAGES[name](shopper)
    sizes = pg.locator("nav a[lang]").evaluate_all(
        "links => links.map(a => [a.getBoundingClientRect().width, a.getBoundingClientRect().height])")
    assert len(sizes) == 2 and all(w >= 24 and h >= 24 for w, h in sizes), sizes


@pytest.mark.parametrize("channel", ["ALI_WEB", "WX_NATIVE"])
def test_an_open_cashier_has_one_h1_naming_the_channel(channel, shopper):
    pg = PAGES[f"cashier-{channel}"](shopper)
    assert pg.locator("h1").count() == 1 and pg.locator("h1.sb-brand").is_visible()
