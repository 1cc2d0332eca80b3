"""The checkout inside WeChat's browser, in Chromium with WeChat's user agent
(issue 4 item 1). The test stands in for the WeChat app at the
``WeixinJSBridge`` boundary: its bridge asks the sandbox's WeChat stand-in
(``POST /sandbox/wechat/pay``) to pay, cancel or fail the prepay id, and
answers the page as WeChat would."""

from __future__ import annotations

import pytest

from checkout.db import db
from checkout.models import Bill, CheckoutOrder

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
             "NetType/WIFI Language/zh_CN")

# The WeChat app's side of WeixinJSBridge, for the sandbox: announce the
# bridge, and pay through the sandbox's stand-in for the WeChat app.
BRIDGE = """
window.__wechatAnswer = %(answer)r;
window.WeixinJSBridge = {
  invoke: function (name, params, callback) {
    // Kept across the page's navigation to the result page.
    var calls = JSON.parse(sessionStorage.getItem("bridgeCalls") || "[]");
    calls.push({name: name, params: params});
    sessionStorage.setItem("bridgeCalls", JSON.stringify(calls));
    fetch("/sandbox/wechat/pay", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({package: params.package, result: window.__wechatAnswer})})
      .then(function (r) { return r.json(); }).then(callback);
  }
};
document.addEventListener("DOMContentLoaded", function () {
  document.dispatchEvent(new Event("WeixinJSBridgeReady"));
});
"""


@pytest.fixture
def wechat_page(browser):
    def open_(answer="ok"):
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True, user_agent=WECHAT_UA, locale="zh-CN")
        context.set_default_timeout(10_000)
        context.add_init_script(BRIDGE % {"answer": answer})
        return context.new_page()
    return open_


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def order_path(client, merchant, button_order, **fields) -> str:
    return client.post("/pay", data=button_order(merchant, **fields)).headers["Location"]


def the_bill() -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill)).scalar_one()


def test_wechat_pays_with_jsapi_and_the_result_comes_from_the_gateway(
        live_server, client, merchant, button_order, wechat_page, screenshot):
    path = order_path(client, merchant, button_order, openid="o_shopper_1", title="Oolong tea")
    page = wechat_page("ok")
    page.goto(live_server.url + path)
    screenshot(page, "wechat-chooser")
    assert page.locator('[data-testid^="channel-"]').first.get_attribute("data-testid") == \
        "channel-WX_JSAPI"
    page.click('[data-testid="channel-WX_JSAPI"]')
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    screenshot(page, "wechat-paid")
    calls = page.evaluate("JSON.parse(sessionStorage.getItem('bridgeCalls'))")
    assert [call["name"] for call in calls] == ["getBrandWCPayRequest"]
    assert set(calls[0]["params"]) == {"appId", "timeStamp", "nonceStr", "package", "signType",
                                       "paySign"}
    assert the_bill().status == Bill.PAID


def test_a_cancelled_jsapi_payment_says_cancelled_and_charges_nothing(
        live_server, client, merchant, button_order, wechat_page, screenshot):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    page = wechat_page("cancel")
    page.goto(f"{live_server.url}{path}/channel/WX_JSAPI")
    page.wait_for_selector('[data-testid="result"]')
    screenshot(page, "wechat-cancelled")
    assert page.url.endswith("?wx=cancel")
    assert page.locator('[data-testid="choose-another"]').is_visible()
    assert the_bill().status == Bill.OPEN


def test_a_failed_jsapi_payment_shows_failed(live_server, client, merchant, button_order,
                                             wechat_page):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    page = wechat_page("fail")
    page.goto(f"{live_server.url}{path}/channel/WX_JSAPI")
    page.wait_for_selector('[data-testid="result"][data-status="failed"]')


def test_an_ok_from_the_page_alone_never_marks_anything_paid(live_server, client, merchant,
                                                              button_order, wechat_page):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    client.get(f"{path}/channel/WX_JSAPI", headers={"User-Agent": WECHAT_UA})
    page = wechat_page("ok")
    page.goto(f"{live_server.url}{path}/return?wx=ok")
    assert page.locator('[data-testid="result"]').get_attribute("data-status") == "pending"
    assert the_bill().status == Bill.OPEN


def test_alipay_inside_wechat_shows_the_open_in_browser_guide(live_server, client, merchant,
                                                              button_order, wechat_page,
                                                              screenshot):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    page = wechat_page()
    page.goto(live_server.url + path)
    page.click('[data-testid="channel-ALI_WAP"]')
    page.wait_for_selector('[data-testid="ali-guide"]')
    screenshot(page, "wechat-alipay-guide")
    link = page.locator('[data-testid="ali-guide-link"]').input_value()
    assert link == f"{live_server.url}{path}/channel/ALI_WAP"
    assert db.session.execute(db.select(Bill)).first() is None


def test_the_guide_link_opened_in_a_phone_browser_pays_with_alipay(live_server, client,
                                                                   merchant, button_order,
                                                                   wechat_page, phone_page):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    page = wechat_page()
    page.goto(f"{live_server.url}{path}/channel/ALI_WAP")
    link = page.locator('[data-testid="ali-guide-link"]').input_value()
    phone_page.goto(link)
    phone_page.wait_for_selector('[data-testid="pay"]')
    phone_page.click('[data-testid="pay"]')
    phone_page.wait_for_selector('[data-testid="result"][data-status="paid"]')


def test_without_the_guide_wechat_offers_no_alipay(live_server, client, merchant,
                                                   button_order, wechat_page):
    path = order_path(client, merchant, button_order, openid="o_1", need_ali_guide="false")
    page = wechat_page()
    page.goto(live_server.url + path)
    assert page.locator('[data-testid="channel-ALI_WAP"]').count() == 0
    assert page.locator('[data-testid="channel-WX_JSAPI"]').count() == 1
    order = db.session.execute(db.select(CheckoutOrder)).scalar_one()
    assert order.need_ali_guide is False


def test_wechat_without_openid_runs_the_oauth_round_trip_then_pays(
        live_server, client, merchant, button_order, wechat_page, screenshot):
    path = order_path(client, merchant, button_order)  # no openid from the merchant
    page = wechat_page("ok")
    page.goto(live_server.url + path)
    page.click('[data-testid="channel-WX_JSAPI"]')
    page.wait_for_selector('[data-testid="wechat-allow"]')
    assert "/sandbox/wechat/connect/oauth2/authorize" in page.url
    screenshot(page, "wechat-oauth")
    page.click('[data-testid="wechat-allow"]')
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    db.session.expire_all()
    order = db.session.execute(db.select(CheckoutOrder)).scalar_one()
    assert order.openid.startswith("o")
    assert the_bill().channel_params["openid"] == order.openid


def test_refusing_wechat_consent_offers_the_qr_code_instead(
        live_server, client, merchant, button_order, wechat_page, screenshot):
    path = order_path(client, merchant, button_order)
    page = wechat_page()
    page.goto(f"{live_server.url}{path}/channel/WX_JSAPI")
    page.click('[data-testid="wechat-refuse"]')
    page.wait_for_selector('[data-testid="wechat-problem"]')
    screenshot(page, "wechat-refused")
    page.click('[data-testid="pay-by-qr"]')
    page.wait_for_selector('[data-testid="qr-page"]')
    screenshot(page, "wechat-qr-fallback")
