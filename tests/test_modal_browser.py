"""The JS button's modal on a merchant's PC page, as a shopper meets it (issue 15,
"The JS-button modal"): one close button; a channel that opens in a new window
leaves one merchant window in the end (the new window says the payment is
complete and closes itself, the merchant's page goes on to its return page);
no console errors (postMessage origin, CSP) on the way; the dialog speaks the
merchant page's language."""

from __future__ import annotations

import json

import pytest

from checkout.db import db
from checkout.models import Bill

pytestmark = pytest.mark.browser


def merchant_page(checkout_url: str, app_id: str, order: dict, lang: str = "zh-CN",
                  options: str = "") -> str:
    """A merchant's page in ``lang`` with the button script and one pay button."""
    data = {key: value for key, value in order.items() if key != "appId"}
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="UTF-8"><title>Tea shop</title></head>
<body><h1>Tea shop</h1><button id="pay">Pay</button>
<script src="{checkout_url}/1/pay/jsbutton/returnscripts?appId={app_id}"></script>
<script>
window.seen = {{results: [], closed: 0}};
document.addEventListener("beecloud:result", function (e) {{ window.seen.results.push(e.detail.status); }});
document.addEventListener("beecloud:close", function () {{ window.seen.closed += 1; }});
document.getElementById("pay").onclick = function () {{
  BC.click({json.dumps({**data, **json.loads(options or "{}")}, ensure_ascii=False)});
}};
</script></body></html>"""


@pytest.fixture
def merchant(make_merchant, shop):
    return make_merchant(frame_origins=[shop.origin])


@pytest.fixture
def console(page):
    """Every console message and page error of the shopper's browser context
    (the merchant page, the checkout frame, windows opened from it)."""
    seen = []

    def watch(pg):
        pg.on("console", lambda message: seen.append(f"{message.type}: {message.text}"))
        pg.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))

    watch(page)
    page.context.on("page", watch)
    return seen


def problems(messages: list[str]) -> list[str]:
    return [m for m in messages
            if m.startswith(("error", "pageerror"))
            or "postMessage" in m or "Content Security Policy" in m]


def open_modal(page, shop, live_server, merchant, order, lang="zh-CN", options=""):
    shop.page = merchant_page(live_server.url, merchant.app_id, order, lang, options)
    page.goto(shop.origin + "/")
    page.wait_for_function("typeof BC !== 'undefined'")
    page.click("#pay")
    frame = page.frame(name="bc-checkout-1")
    frame.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    return frame


def visible_close_buttons(page, frame) -> int:
    """Close buttons the shopper sees: the merchant page's and the frame's."""
    selector = "button[aria-label*='关闭'], button[aria-label*='Close'], button[aria-label*='close']"
    return (sum(1 for b in page.locator(selector).all() if b.is_visible())
            + sum(1 for b in frame.locator(selector).all() if b.is_visible()))


def test_the_modal_has_one_close_button(page, shop, live_server, merchant, button_order,
                                        screenshot, axe_violations):
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant))
    screenshot(page, "modal")
    assert visible_close_buttons(page, frame) == 1
    assert axe_violations(page) == []


def test_the_close_button_does_not_cover_the_language_switch(page, shop, live_server,
                                                             merchant, button_order):
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant))
    close = page.locator("[data-bc-modal-close]").bounding_box()
    offset = page.locator("[data-bc-overlay] iframe").bounding_box()
    for link in frame.locator(".pay-lang a").all():
        box = link.bounding_box()  # in the page's coordinates already
        assert box["x"] + box["width"] <= close["x"] or box["y"] >= close["y"] + close["height"]
    assert offset is not None


@pytest.mark.parametrize("lang, label, close", [("zh-CN", "秒支付收银台", "关闭"),
                                                ("en", "秒支付 Checkout", "Close")])
def test_the_dialog_speaks_the_merchant_pages_language(page, shop, live_server, merchant,
                                                       button_order, lang, label, close):
    open_modal(page, shop, live_server, merchant, button_order(merchant), lang=lang)
    dialog = page.locator('[role="dialog"]')
    assert dialog.get_attribute("aria-label") == label
    assert page.locator("[data-bc-modal-close]").get_attribute("aria-label") == close
    assert page.locator('[data-bc-overlay] iframe').get_attribute("title") == label


def test_a_lang_option_overrides_the_pages_language(page, shop, live_server, merchant,
                                                    button_order):
    open_modal(page, shop, live_server, merchant, button_order(merchant), lang="en",
               options='{"lang": "zh"}')
    assert page.locator('[role="dialog"]').get_attribute("aria-label") == "秒支付收银台"
    assert page.locator("[data-bc-modal-close]").get_attribute("aria-label") == "关闭"


@pytest.mark.parametrize("lang, browser_locale, html_lang",
                         [("zh", "en-US", "zh-CN"), ("en", "zh-CN", "en")])
def test_the_checkout_in_the_modal_speaks_the_language_the_merchant_gives(
        new_cookieless_page, shop, live_server, merchant, button_order, screenshot,
        lang, browser_locale, html_lang):
    """``data.lang``, in a browser that refuses the checkout's lang cookie in the frame."""
    page = new_cookieless_page(locale=browser_locale)
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant),
                       lang="en" if lang == "zh" else "zh-CN", options=json.dumps({"lang": lang}))
    assert frame.locator("html").get_attribute("lang") == html_lang
    screenshot(page, f"modal-lang-{lang}-{browser_locale}-browser")


def test_a_pages_html_lang_alone_leaves_the_checkout_to_the_browser(
        new_cookieless_page, shop, live_server, merchant, button_order):
    """Templates often say ``<html lang="en">`` on Chinese pages."""
    page = new_cookieless_page(locale="zh-CN")
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant), lang="en")
    assert frame.locator("html").get_attribute("lang") == "zh-CN"


def test_a_language_chosen_in_the_modal_stays_on_its_next_pages(
        new_cookieless_page, shop, live_server, merchant, button_order, screenshot):
    page = new_cookieless_page()  # zh-CN
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant), lang="zh-CN")
    frame.click('.pay-lang a[lang="en"]')
    frame.wait_for_selector('html[lang="en"] [data-testid="channel-WX_NATIVE"]')
    frame.click('[data-testid="channel-WX_NATIVE"]')
    frame.wait_for_selector('[data-testid="qr-page"]')
    assert frame.locator("html").get_attribute("lang") == "en"
    screenshot(page, "modal-qr-after-choosing-english")


def test_a_qr_payment_in_the_modal_logs_no_error(page, browser, shop, live_server, merchant,
                                                 button_order, console):
    frame = open_modal(page, shop, live_server, merchant, button_order(merchant, amount="1"))
    frame.click('[data-testid="channel-WX_NATIVE"]')
    frame.wait_for_selector('[data-testid="qr-page"]')
    db.session.expire_all()
    bill = db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")).scalar_one()
    phone = browser.new_context().new_page()
    phone.goto(f"{live_server.url}/sandbox/cashier/{bill.cashier_token}")
    phone.click('[data-testid="pay"]')
    frame.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    page.wait_for_function("window.seen.results.indexOf('paid') >= 0")
    phone.context.close()
    assert problems(console) == []


def test_paying_in_the_new_window_leaves_one_merchant_window(
        page, shop, live_server, merchant, button_order, console, screenshot):
    return_url = f"{shop.origin}/thanks"
    frame = open_modal(page, shop, live_server, merchant,
                       button_order(merchant, return_url=return_url))
    with page.context.expect_page() as opened:
        frame.click('[data-testid="channel-ALI_WEB"]')
    cashier = opened.value
    # The new window says it is done and closes itself (waited for from before the click:
    # it may close before a wait started after it) ...
    with cashier.expect_event("close", timeout=15_000):
        cashier.click('[data-testid="pay"]')
    # ... while the modal shows the payment, and Done takes the merchant's page on.
    frame.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    screenshot(page, "paid-in-modal")
    frame.click('[data-testid="close"]')
    page.wait_for_url(return_url)
    at_return = [p for p in page.context.pages if p.url.startswith(return_url)]
    assert len(at_return) == 1
    assert problems(console) == []


def test_the_new_windows_paid_page_says_it_can_be_closed(
        page, shop, live_server, merchant, button_order, client, screenshot, axe_violations):
    """The paid page a new window shows when it cannot close itself (a browser
    may refuse): no countdown to the shop, a line saying where to go on."""
    order = button_order(merchant, return_url=f"{shop.origin}/thanks")
    frame = open_modal(page, shop, live_server, merchant, order)
    with page.context.expect_page() as opened:
        frame.click('[data-testid="channel-ALI_WEB"]')
    cashier = opened.value
    # This window's own script must not close it for the test to see the page.
    cashier.add_init_script("window.close = function () {};")
    cashier.click('[data-testid="pay"]')
    cashier.wait_for_selector('[data-testid="result"][data-status="paid"]')
    screenshot(cashier, "new-window-paid")
    assert cashier.get_by_test_id("window-done").is_visible()
    assert cashier.get_by_test_id("forward-countdown").count() == 0
    assert cashier.get_by_test_id("back-to-shop").count() == 0
    assert axe_violations(cashier) == []


def test_a_merchants_own_iframe_keeps_the_checkouts_close_button(page, shop, live_server,
                                                                 merchant, button_order):
    """Only the button's modal brings a close button of its own; a checkout the
    merchant frames itself still offers one."""
    fields = {**button_order(merchant), "embed": "1", "parent_origin": shop.origin}
    inputs = "".join(f'<input type="hidden" name="{name}" value="{value}">'
                     for name, value in fields.items())
    shop.page = (f'<!doctype html><html lang="en"><body><iframe name="checkout" width="460" '
                 f'height="700" title="Checkout"></iframe><form id="order" method="post" '
                 f'action="{live_server.url}/pay" target="checkout">{inputs}</form>'
                 f'<script>document.getElementById("order").submit();</script></body></html>')
    page.goto(shop.origin + "/")
    frame = page.frame(name="checkout")
    frame.wait_for_selector('[data-testid="channel-ALI_WEB"]')
    assert frame.locator("[data-bc-close].pay-close").is_visible()
