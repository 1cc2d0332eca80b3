"""The checkout's pages inside WeChat's browser, as a shopper sees them (issue 15,
"WeChat"): Chromium on a phone-sized page with WeChat's user agent.

- The open-in-browser guide's dark band sits above the page, not over the payee
  and the order; its payment link is fully visible and has a copy button.
- The QR fallback is an image, which WeChat's "识别图中二维码" can read (it reads
  images, never an inline <svg>), with a text alternative.
- The JSAPI page says one thing at a time: "正在打开微信支付…" while WeChat's
  bridge is there or may still come, "微信支付只能在微信内使用" when it has not come.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkout.db import db
from checkout.models import Bill

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
             "NetType/WIFI Language/zh_CN")

# WeChat's bridge while the shopper still looks at WeChat's own pay sheet: the
# request is taken and not answered yet.
WAITING_BRIDGE = """
window.WeixinJSBridge = { invoke: function (name, params, callback) {
  window.__bridgeCalls = (window.__bridgeCalls || 0) + 1; } };
"""

OPENING = {"zh": "正在打开微信支付…", "en": "Opening WeChat Pay…"}
NOT_WECHAT = {"zh": "微信支付只能在微信内使用", "en": "WeChat Pay works only inside WeChat"}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def wechat(browser, live_server):
    """``wechat(bridge=None, lang="zh")``: a page in WeChat's browser on a phone,
    allowed to use the clipboard, with ``bridge`` run before the page's scripts."""
    contexts = []

    def open_(bridge=None, lang="zh"):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2, user_agent=WECHAT_UA,
            locale="zh-CN" if lang == "zh" else "en-US")
        context.set_default_timeout(10_000)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        if bridge:
            context.add_init_script(bridge)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


def order_path(client, merchant, button_order, **fields) -> str:
    """An order opened from WeChat (the checkout notes the device at entry)."""
    return client.post("/pay", data=button_order(merchant, **fields),
                       headers={"User-Agent": WECHAT_UA}).headers["Location"]


def box(page, selector) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.fixture
def guide(live_server, client, merchant, button_order, wechat):
    """WeChat's open-in-browser guide for Alipay, in zh."""
    path = order_path(client, merchant, button_order, openid="o_shopper_1", title="Oolong tea")
    page = wechat()
    page.goto(f"{live_server.url}{path}/channel/ALI_WAP?lang=zh")
    page.wait_for_selector('[data-testid="ali-guide"]')
    return page


def test_the_guide_band_covers_neither_the_header_nor_the_order(guide, screenshot):
    screenshot(guide, "guide")
    band = box(guide, '[data-testid="ali-guide"]')
    assert not overlap(band, box(guide, ".pay-top"))
    assert not overlap(band, box(guide, ".pay-order"))
    # Still first on the screen, under WeChat's ··· at the top right.
    assert band["y"] < box(guide, ".pay-top")["y"]


def test_the_guide_link_is_fully_visible_beside_its_copy_button(guide, axe_violations):
    field, card = box(guide, '[data-testid="ali-guide-link"]'), box(guide, ".pay-guide")
    button = box(guide, '[data-testid="copy-link"]')
    for part in (field, button):
        assert part["x"] >= card["x"] and part["x"] + part["width"] <= card["x"] + card["width"]
        assert part["x"] + part["width"] <= 390  # inside the phone's screen
    assert not overlap(field, button)
    # The whole link shows: nothing scrolled out of the field's box.
    assert guide.locator('[data-testid="ali-guide-link"]').evaluate(
        "f => f.scrollWidth <= f.clientWidth && f.scrollHeight <= f.clientHeight")
    assert axe_violations(guide) == []


def test_the_copy_button_copies_the_link_and_says_so(guide, screenshot):
    link = guide.locator('[data-testid="ali-guide-link"]').input_value()
    guide.click('[data-testid="copy-link"]')
    # (The page's CSP forbids eval, so waits go through locators, not wait_for_function.)
    expect(guide.locator('[data-testid="copy-status"]')).to_contain_text("已复制")
    screenshot(guide, "copied")
    assert guide.evaluate("navigator.clipboard.readText()") == link


def test_the_qr_fallback_in_wechat_is_an_image_with_a_text_alternative(
        live_server, client, merchant, button_order, wechat, screenshot, axe_violations):
    path = order_path(client, merchant, button_order)
    page = wechat()
    # Where the WeChat problem page's "Pay by QR code instead" leads.
    page.goto(f"{live_server.url}{path}/channel/WX_NATIVE?lang=zh")
    image = page.locator('[data-testid="qr-code"] img')
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert image.evaluate("i => i.complete && i.naturalWidth >= 200")
    screenshot(page, "qr-fallback")
    assert image.count() == 1
    assert page.locator('[data-testid="qr-code"] svg').count() == 0
    assert image.get_attribute("alt")
    assert image.bounding_box()["width"] >= 200
    assert axe_violations(page) == []


def jsapi_page(live_server, client, merchant, button_order, wechat, bridge, lang):
    path = order_path(client, merchant, button_order, openid="o_shopper_1")
    page = wechat(bridge, lang)
    # The page's timer ("no bridge after 3 s") runs on a clock the test moves.
    page.clock.install()
    page.goto(f"{live_server.url}{path}/channel/WX_JSAPI?lang={lang}")
    page.wait_for_selector('[data-testid="jsapi-page"]')
    page.clock.run_for(5_000)
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_without_wechat_the_jsapi_page_says_only_that_it_needs_wechat(
        live_server, client, merchant, button_order, wechat, screenshot, axe_violations, lang):
    page = jsapi_page(live_server, client, merchant, button_order, wechat, None, lang)
    screenshot(page, f"jsapi-no-bridge-{lang}")
    text = page.locator('[data-testid="jsapi-page"]').inner_text()
    assert NOT_WECHAT[lang] in text and OPENING[lang] not in text
    assert not page.locator('[data-testid="jsapi-pay"]').is_visible()
    assert page.locator('[data-testid="choose-another"]').is_visible()
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_inside_wechat_the_jsapi_page_says_only_that_wechat_pay_is_opening(
        live_server, client, merchant, button_order, wechat, screenshot, lang):
    page = jsapi_page(live_server, client, merchant, button_order, wechat, WAITING_BRIDGE, lang)
    screenshot(page, f"jsapi-bridge-{lang}")
    assert page.evaluate("window.__bridgeCalls") == 1
    text = page.locator('[data-testid="jsapi-page"]').inner_text()
    assert OPENING[lang] in text and NOT_WECHAT[lang] not in text
    assert page.locator('[data-testid="jsapi-pay"]').is_visible()
    db.session.expire_all()
    assert db.session.execute(db.select(Bill)).scalar_one().status == Bill.OPEN
