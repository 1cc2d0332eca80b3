"""The Alipay simulator's pages in Chromium (issue 14, "Simulators"): a
merchant's auto-submit form to gateway.do on a PC, a WAP payment on a phone,
and a qr_pay_mode frame inside the merchant's page paid from a second
browser; each page in Chinese and English with 0 axe violations, and a
screenshot of each in test-artifacts/screenshots/."""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlsplit

import pytest
from checkout.connectors.alipay.sdk import AliPay  # its guard against the library's logging set-up first

from checkout.simulators.alipay import console, signing

pytestmark = pytest.mark.browser

GATEWAY = "/simulators/alipay/gateway.do"
# The language comes from the browser here: a ?lang= on gateway.do would be a
# parameter the merchant did not sign.
LOCALES = {"zh": "zh-CN", "en": "en-US"}


@pytest.fixture(scope="module")
def merchant_keys():
    return signing.new_key_pair()


@pytest.fixture
def alipay(app, merchant_keys):
    opened = console.open_app(merchant_keys[1])
    return AliPay(appid=opened["app_id"], app_private_key_string=merchant_keys[0],
                  alipay_public_key_string=opened["alipay_public_key"])


def auto_submit_form(action: str, query: str) -> str:
    """The merchant's page: Alipay's usual auto-submit form of the signed fields."""
    fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in parse_qsl(query))
    return (f'<!doctype html><title>shop</title><form id="f" method="post" action="{action}">'
            f'{fields}<button>Pay with Alipay</button></form>')


def assert_accessible(pg, axe_violations):
    assert axe_violations(pg) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_pc_shopper_pays_page_pay_through_the_cashier_and_returns_to_the_shop(
        live_server, shop, page, alipay, axe_violations, screenshot, receiver, lang):
    query = alipay.api_alipay_trade_page_pay(
        subject="乌龙茶 Oolong", out_trade_no=f"PC{lang}", total_amount="12.50",
        return_url=f"{shop.origin}/return", notify_url=receiver.url)
    shop.page = auto_submit_form(live_server.url + GATEWAY, query)
    page.goto(f"{shop.origin}/order")
    page.get_by_role("button", name="Pay with Alipay").click()
    page.wait_for_url("**/simulators/alipay/cashier/**")
    page.goto(page.url + f"?lang={lang}")
    assert "SANDBOX · 支付宝模拟器 / Alipay simulator" in page.get_by_test_id("sandbox-ribbon").inner_text()
    assert page.get_by_test_id("trade-amount").inner_text() == "¥12.50"
    assert_accessible(page, axe_violations)
    screenshot(page, "cashier")
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{shop.origin}/return?**")
    params = dict(parse_qsl(urlsplit(page.url).query))
    sign = params.pop("sign")
    assert alipay.verify(params, sign) and params["out_trade_no"] == f"PC{lang}"
    notified = dict(parse_qsl(receiver.bodies[0]))
    assert alipay.verify({k: v for k, v in notified.items() if k != "sign"}, notified["sign"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cashiers_failure_left_and_paid_pages_are_accessible(
        live_server, new_page, alipay, axe_violations, screenshot, lang):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no=f"OUT{lang}",
                                             total_amount="1.00")
    page = new_page(locale=LOCALES[lang])
    page.goto(f"{live_server.url}{GATEWAY}?{query}")
    page.get_by_test_id("fail").click()
    assert page.get_by_test_id("cashier-state").get_attribute("data-state") == "failed"
    assert_accessible(page, axe_violations)
    screenshot(page, "failed")
    page.get_by_test_id("try-again").click()
    page.get_by_test_id("cancel").click()
    assert page.get_by_test_id("cashier-state").get_attribute("data-state") == "left"
    assert_accessible(page, axe_violations)
    screenshot(page, "left")
    page.get_by_test_id("try-again").click()
    page.get_by_test_id("pay").click()  # no return_url: the cashier says paid
    assert page.get_by_test_id("cashier-state").get_attribute("data-state") == "paid"
    assert_accessible(page, axe_violations)
    screenshot(page, "paid")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_page_pay_shows_alipays_error_page(live_server, new_page, alipay,
                                                      axe_violations, screenshot, lang):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no="BAD",
                                             total_amount="1.00")
    page = new_page(locale=LOCALES[lang])
    page.goto(f"{live_server.url}{GATEWAY}?{query.replace('BAD', 'BAE')}")
    assert page.get_by_test_id("error-code").inner_text() == "isv.invalid-signature"
    assert_accessible(page, axe_violations)
    screenshot(page, "error")


def test_a_phone_shopper_pays_wap_pay(live_server, shop, phone_page, alipay, axe_violations,
                                      screenshot):
    query = alipay.api_alipay_trade_wap_pay(subject="乌龙茶", out_trade_no="WAP1",
                                            total_amount="0.01",
                                            return_url=f"{shop.origin}/return")
    phone_page.goto(f"{live_server.url}{GATEWAY}?{query}")
    assert phone_page.get_by_test_id("trade-amount").inner_text() == "¥0.01"
    assert_accessible(phone_page, axe_violations)
    screenshot(phone_page, "wap-cashier")
    phone_page.get_by_test_id("pay").click()
    phone_page.wait_for_url(f"{shop.origin}/return?**")
    assert dict(parse_qsl(urlsplit(phone_page.url).query))["method"] == \
        "alipay.trade.wap.pay.return"


@pytest.mark.parametrize("mode, size", [("0", (600, 300)), ("1", (300, 600)), ("3", (75, 75)),
                                        ("4", (180, 180))])
def test_a_qr_frame_in_the_shops_page_moves_on_when_a_second_browser_pays(
        live_server, shop, page, new_page, alipay, axe_violations, screenshot, mode, size):
    extra = {"qrcode_width": "180"} if mode == "4" else {}
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no=f"QR{mode}",
                                             total_amount="2.00", qr_pay_mode=mode,
                                             return_url=f"{shop.origin}/return", **extra)
    width, height = size
    shop.page = (f'<!doctype html><html lang="en"><title>shop</title><h1>Shop</h1>'
                 f'<iframe title="Alipay" src="{live_server.url}{GATEWAY}?{html.escape(query)}" '
                 f'width="{width}" height="{height}" style="border:1px solid #ccc"></iframe>')
    page.goto(f"{shop.origin}/order")
    frame = page.frame_locator("iframe")
    qr = frame.get_by_test_id("qr-code")
    assert qr.get_attribute("alt") == "用支付宝扫码 / Scan with Alipay"
    box = qr.bounding_box()
    assert box["width"] <= width and box["height"] <= height
    screenshot(page, "frame")
    cashier_url = page.frames[1].url.replace("/qr/", "/cashier/")
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(cashier_url)
    phone.get_by_test_id("pay").click()
    assert phone.get_by_test_id("cashier-state").get_attribute("data-state") == "paid"
    page.wait_for_function("() => window.frames[0] && "
                           "(() => { try { return frames[0].location.pathname === '/return' }"
                           " catch (e) { return false } })()", timeout=10_000)


@pytest.mark.parametrize("mode, size", [("0", (600, 300)), ("1", (300, 600)), ("3", (75, 75)),
                                        ("4", (180, 180))])
def test_the_qr_frame_page_is_accessible(live_server, new_page, alipay, axe_violations,
                                         screenshot, mode, size):
    extra = {"qrcode_width": "180"} if mode == "4" else {}
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no=f"AX{mode}",
                                             total_amount="2.00", qr_pay_mode=mode, **extra)
    frame = new_page(viewport={"width": size[0], "height": size[1]})
    frame.goto(f"{live_server.url}{GATEWAY}?{query}")
    assert_accessible(frame, axe_violations)
    screenshot(frame, "qr")


def test_the_pc_cashier_moves_on_to_the_shop_when_a_phone_pays_its_qr_code(
        live_server, shop, page, new_page, alipay):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no="PCQR",
                                             total_amount="5.00",
                                             return_url=f"{shop.origin}/return")
    page.goto(f"{live_server.url}{GATEWAY}?{query}")
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(page.url)  # what the cashier's QR code holds
    phone.get_by_test_id("pay").click()
    page.wait_for_url(f"{shop.origin}/return?**")
    params = dict(parse_qsl(urlsplit(page.url).query))
    sign = params.pop("sign")
    assert alipay.verify(params, sign) and params["out_trade_no"] == "PCQR"


def test_the_pc_cashier_says_closed_when_the_merchant_closes_the_trade(
        live_server, page, alipay, merchant_keys):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no="PCCL",
                                             total_amount="5.00")
    page.goto(f"{live_server.url}{GATEWAY}?{query}")
    alipay._gateway = live_server.url + GATEWAY
    assert alipay.api_alipay_trade_close(out_trade_no="PCCL")["code"] == "10000"
    page.get_by_test_id("cashier-state").wait_for()
    assert page.get_by_test_id("cashier-state").get_attribute("data-state") == "closed"
