"""The JS button in a real browser (issue 4 item 2): a merchant page on
another origin, written like the seeds' PHP demo (script tag,
``asyncPay`` / ``beecloud:onready``, ``BC.click`` with a server-made sign),
with only the script's host changed."""

from __future__ import annotations

import json

import httpx
import pytest

from checkout.db import db
from checkout.models import Bill, CheckoutOrder

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI")


def demo_page(checkout_url: str, app_id: str, order: dict, callbacks: str = "{}") -> str:
    """Seed 003's PHP demo page, with the script from our host."""
    data = {key: value for key, value in order.items() if key != "appId"}
    return f"""<!DOCTYPE html>
<html><head lang="en"><meta charset="UTF-8">
<meta name="viewport" content="width=device-width,initial-scale=1.0,minimum-scale=1.0,maximum-scale=1.0,user-scalable=no">
<title>demo js button</title></head>
<body>
<button id="test">test online</button>
<script id='spay-script' type='text/javascript' src='{checkout_url}/1/pay/jsbutton/returnscripts?appId={app_id}'></script>
<script>
window.seen = {{errors: [], dataErrors: [], results: [], closed: 0, wx: []}};
document.addEventListener("beecloud:result", function (e) {{ window.seen.results.push(e.detail.status); }});
document.addEventListener("beecloud:close", function () {{ window.seen.closed += 1; }});
document.getElementById("test").onclick = function() {{ asyncPay(); }};
function bcPay() {{
  BC.err = function (data) {{ window.seen.errors.push(data["ERROR"]); }};
  BC.click({json.dumps(data, ensure_ascii=False)}, {callbacks});
}}
function asyncPay() {{
  if (typeof BC == "undefined") {{
    if (document.addEventListener) {{
      document.addEventListener('beecloud:onready', bcPay, false);
    }} else if (document.attachEvent) {{
      document.attachEvent('beecloud:onready', bcPay);
    }}
  }} else {{
    bcPay();
  }}
}}
</script>
</body></html>"""


CALLBACKS = """{
  dataError: function (e) { window.seen.dataErrors.push(e.ERROR); },
  wxJsapiFinish: function (res) { window.seen.wx.push("finish:" + res.err_msg); },
  wxJsapiSuccess: function (res) { window.seen.wx.push("success"); },
  wxJsapiFail: function (res) { window.seen.wx.push("fail"); }
}"""


@pytest.fixture
def merchant(make_merchant, shop):
    return make_merchant(frame_origins=[shop.origin])


@pytest.fixture
def pc(page):
    """The shopper's desktop page (conftest's ``page``)."""
    return page


def the_bill(channel: str) -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


def open_demo(page, shop, live_server, merchant, order, callbacks=CALLBACKS):
    shop.page = demo_page(live_server.url, merchant.app_id, order, callbacks)
    page.goto(shop.origin + "/")
    page.wait_for_function("typeof BC !== 'undefined'")


def test_the_script_defines_bc_and_fires_onready(pc, shop, live_server, merchant,
                                                 button_order):
    shop.page = ("<script>window.ready = false; document.addEventListener('beecloud:onready',"
                 " function () { window.ready = typeof BC.click === 'function'; });</script>"
                 f"<script src='{live_server.url}/1/pay/jsbutton/returnscripts?appId="
                 f"{merchant.app_id}'></script>")
    pc.goto(shop.origin + "/")
    pc.wait_for_function("window.ready === true")
    assert pc.evaluate("typeof BC.err") == "function"


def test_bad_data_is_reported_through_data_error_and_bc_err(pc, shop, live_server, merchant,
                                                             button_order):
    order = button_order(merchant, title="Tom's tea", sign="0" * 32)
    open_demo(pc, shop, live_server, merchant, order)
    pc.click("#test")
    pc.wait_for_function("window.seen.errors.length === 1")
    assert pc.evaluate("window.seen.dataErrors") == ["title must not contain ' or \""]
    assert pc.evaluate("window.seen.errors") == ["title must not contain ' or \""]
    assert pc.locator("[data-bc-overlay]").count() == 0


def test_an_unknown_app_is_reported(pc, shop, live_server, merchant, button_order):
    shop.page = demo_page(live_server.url, "not-an-app", button_order(merchant), CALLBACKS)
    pc.goto(shop.origin + "/")
    pc.click("#test")
    pc.wait_for_function("window.seen.errors.length === 1")
    assert pc.evaluate("window.seen.errors[0]") == "appId is not a known app"


def test_a_pc_opens_the_modal_pays_by_qr_and_the_page_learns_the_result(
        pc, browser, shop, live_server, merchant, button_order, screenshot):
    order = button_order(merchant, title="Oolong tea", amount="1",
                         optional={"test": "willreturn"})
    open_demo(pc, shop, live_server, merchant, order)
    pc.click("#test")
    frame = pc.frame(name="bc-checkout-1")
    pc.wait_for_selector('[role="dialog"][aria-modal="true"] iframe')
    frame.wait_for_selector('[data-testid="channel-WX_NATIVE"]')
    screenshot(pc, "button-modal")
    stored = db.session.execute(db.select(CheckoutOrder)).scalar_one()
    assert stored.optional == {"test": "willreturn"}
    assert stored.extra["parent_origin"] == shop.origin
    frame.click('[data-testid="channel-WX_NATIVE"]')
    frame.wait_for_selector('[data-testid="qr-page"]')
    phone = browser.new_context().new_page()
    phone.goto(f"{live_server.url}/sandbox/cashier/{the_bill('WX_NATIVE').cashier_token}")
    phone.click('[data-testid="pay"]')
    pc.wait_for_function("window.seen.results.indexOf('paid') >= 0", timeout=20_000)
    screenshot(pc, "button-paid")
    frame.click('[data-testid="close"]')
    pc.wait_for_function("window.seen.closed === 1")
    assert pc.locator("[data-bc-overlay]").count() == 0
    phone.context.close()


def test_a_pc_pays_alipay_in_a_new_window_and_the_modal_learns_the_result(
        pc, shop, live_server, merchant, button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.click("#test")
    frame = pc.frame(name="bc-checkout-1")
    frame.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    with pc.context.expect_page() as opened:
        frame.click('[data-testid="channel-ALI_WEB"]')
    cashier = opened.value
    cashier.click('[data-testid="pay"]')
    pc.wait_for_function("window.seen.results.indexOf('paid') >= 0", timeout=20_000)
    assert the_bill("ALI_WEB").status == Bill.PAID


def test_escape_closes_the_modal_and_gives_focus_back(pc, shop, live_server, merchant,
                                                       button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.focus("#test")
    pc.keyboard.press("Enter")
    pc.wait_for_selector("[data-bc-overlay]")
    assert pc.evaluate("document.activeElement.hasAttribute('data-bc-modal-close')")
    pc.frame(name="bc-checkout-1").wait_for_selector('[data-testid="channel-ALI_WEB"]')
    visited = []
    for _ in range(12):  # Tab through the checkout and past its end: focus stays inside
        pc.keyboard.press("Tab")
        # The parent learns of focus entering the (out-of-process) frame a
        # moment later; until then it reads <body>, so poll with a deadline.
        pc.wait_for_function("document.activeElement.closest('[role=dialog]') !== null",
                             timeout=2_000)
        visited.append(pc.evaluate("document.activeElement.tagName"))
    # Past the frame's last control, focus wrapped round to the close button.
    assert "IFRAME" in visited and "BUTTON" in visited[visited.index("IFRAME"):], visited
    # Escape on the merchant's page. (A real key press while focus is inside
    # the frame can leave Playwright waiting for a key-up the removed frame
    # never acknowledges; the frame's own Escape has its own test below.)
    pc.focus("[data-bc-modal-close]")
    pc.keyboard.press("Escape")
    pc.wait_for_function("window.seen.closed === 1")
    assert pc.locator("[data-bc-overlay]").count() == 0
    assert pc.evaluate("document.activeElement.id") == "test"


def test_escape_inside_the_checkout_frame_closes_the_modal(pc, shop, live_server, merchant,
                                                           button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.click("#test")
    frame = pc.frame(name="bc-checkout-1")
    frame.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    # embed.js is deferred: it listens once the frame's DOM is loaded, not as soon as
    # the chooser's rows are parsed (a loaded CI machine pressed Escape in between).
    frame.wait_for_load_state("domcontentloaded")
    # The key press as the framed page receives it (embed.js asks the parent to close).
    frame.dispatch_event("body", "keydown", {"key": "Escape", "bubbles": True})
    pc.wait_for_function("window.seen.closed === 1")
    assert pc.locator("[data-bc-overlay]").count() == 0


def test_the_close_button_closes_the_modal(pc, shop, live_server, merchant, button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.click("#test")
    pc.click("[data-bc-modal-close]")
    assert pc.locator("[data-bc-overlay]").count() == 0


def test_a_page_that_may_not_frame_the_checkout_goes_to_it_instead(
        pc, shop, live_server, make_merchant, button_order):
    merchant = make_merchant("No frames")
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.click("#test")
    pc.wait_for_url(f"{live_server.url}/pay/*")
    assert pc.locator('[data-testid="channel-ALI_WEB"]').count() == 1


def test_messages_from_another_origin_are_ignored(pc, shop, live_server, merchant,
                                                  button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant))
    pc.click("#test")
    pc.wait_for_selector("[data-bc-overlay]")
    # Forged messages from the merchant page itself, then a marker: messages
    # are delivered in order, so once the marker arrives the forgeries have
    # been seen by the button (no waiting on a clock).
    pc.evaluate("""() => new Promise(function (done) {
      window.addEventListener("message", function (e) { if (e.data === "marker") { done(); } });
      window.postMessage({source: "bc-checkout", type: "result", status: "paid"}, "*");
      window.postMessage({source: "bc-checkout", type: "close"}, "*");
      window.postMessage("marker", "*");
    })""")
    assert pc.evaluate("window.seen.results") == []
    assert pc.locator("[data-bc-overlay]").count() == 1


def test_a_phone_goes_to_the_checkout_in_the_top_window_and_pays(
        phone_page, shop, live_server, merchant, button_order, screenshot):
    order = button_order(merchant, return_url=f"{live_server.url}/demo/return/x1")
    open_demo(phone_page, shop, live_server, merchant, order)
    phone_page.click("#test")
    phone_page.wait_for_url(f"{live_server.url}/pay/*")
    phone_page.click('[data-testid="channel-ALI_WAP"]')
    phone_page.click('[data-testid="pay"]')
    phone_page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    screenshot(phone_page, "button-phone-paid")


def test_wechat_with_an_openid_pays_on_the_merchants_page(browser, shop, live_server,
                                                         merchant, button_order):
    context = browser.new_context(user_agent=WECHAT_UA, viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    # The WeChat app's side of the bridge: the app (not the page, so no CORS)
    # pays through the sandbox's stand-in for WeChat.
    context.expose_function("wechatAppPays", lambda package: httpx.post(
        f"{live_server.url}/sandbox/wechat/pay", json={"package": package, "result": "ok"}).json())
    context.add_init_script("""
      window.WeixinJSBridge = {invoke: function (name, params, done) {
        window.bridgeCall = {name: name, params: params};
        window.wechatAppPays(params.package).then(done);
      }};""")
    page = context.new_page()
    open_demo(page, shop, live_server, merchant,
              button_order(merchant, openid="o_shopper_1"))
    page.click("#test")
    page.wait_for_function("window.seen.wx.length === 2")
    assert page.evaluate("window.seen.wx") == ["finish:get_brand_wcpay_request:ok", "success"]
    assert page.evaluate("window.bridgeCall.name") == "getBrandWCPayRequest"
    assert page.url == shop.origin + "/"  # paid on the merchant's own page
    assert the_bill("WX_JSAPI").status == Bill.PAID
    context.close()


def test_wechat_jsapi_failure_calls_the_fail_callback(browser, shop, live_server, merchant,
                                                      button_order):
    context = browser.new_context(user_agent=WECHAT_UA)
    context.set_default_timeout(10_000)
    context.add_init_script("""
      window.WeixinJSBridge = {invoke: function (name, params, done) {
        done({err_msg: "get_brand_wcpay_request:cancel"});
      }};""")
    page = context.new_page()
    open_demo(page, shop, live_server, merchant, button_order(merchant, openid="o_1"))
    page.click("#test")
    page.wait_for_function("window.seen.wx.length === 2")
    assert page.evaluate("window.seen.wx") == ["finish:get_brand_wcpay_request:cancel", "fail"]
    context.close()


def test_instant_channel_is_passed_on(pc, shop, live_server, merchant, button_order):
    open_demo(pc, shop, live_server, merchant, button_order(merchant, instant_channel="wxmp"))
    pc.click("#test")
    frame = pc.frame(name="bc-checkout-1")
    frame.wait_for_selector('[data-testid="qr-page"]')
