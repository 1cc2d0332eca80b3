"""The checkout inside a merchant's iframe, in a real browser (issue 4 item 3):
a merchant page on another site frames the checkout with third-party cookies
blocked, pays, and learns the result by postMessage; a site that is not one of
the merchant's frame origins cannot frame it at all."""

from __future__ import annotations

import html

import pytest

from checkout.db import db
from checkout.models import Bill

pytestmark = pytest.mark.browser


@pytest.fixture
def cookieless_page(cookieless_browser):
    """A desktop page whose browser refuses third-party cookies; every
    request's Cookie header is recorded in ``page.sent_cookies``."""
    context = cookieless_browser.new_context(viewport={"width": 1280, "height": 900},
                                             locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    sent = []
    context.on("request", lambda request: sent.append(
        (request.method, request.url, request.headers.get("cookie"))))
    page.sent_cookies = sent
    yield page
    context.close()


def framing_page(checkout_url: str, fields: dict, parent_origin: str) -> str:
    """The merchant page: posts the order into an iframe, records messages."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                     for k, v in {**fields, "embed": "1", "parent_origin": parent_origin}.items())
    checkout_origin = checkout_url.rstrip("/")
    return f"""<!doctype html><html><body><h1>Tea shop</h1>
<iframe name="checkout" id="checkout" width="460" height="720"></iframe>
<form id="order" method="post" action="{checkout_origin}/pay" target="checkout">{inputs}</form>
<script>
window.messages = [];
window.addEventListener("message", function (event) {{
  if (event.origin === "{checkout_origin}") {{ window.messages.push(event.data); }}
}});
document.getElementById("order").submit();
</script></body></html>"""


def results(page) -> list:
    return page.evaluate("window.messages.filter(function (m) { return m.type === 'result'; })"
                         ".map(function (m) { return m.status; })")


def the_bill(channel: str) -> Bill:
    db.session.expire_all()
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


@pytest.fixture
def framed(live_server, shop, make_merchant, button_order, cookieless_page):
    """Open an order inside the merchant's iframe; returns (page, frame)."""

    def open_(**fields):
        merchant = make_merchant(frame_origins=[shop.origin])
        shop.page = framing_page(live_server.url, button_order(merchant, **fields), shop.origin)
        cookieless_page.goto(shop.origin + "/")
        frame = cookieless_page.frame(name="checkout")
        frame.wait_for_selector('[data-testid="channel-WX_NATIVE"]')
        return cookieless_page, frame

    return open_


def test_a_framed_checkout_pays_by_qr_and_tells_the_merchant_page(framed, browser,
                                                                 live_server, screenshot):
    page, frame = framed(title="Oolong tea", amount="1")
    screenshot(page, "framed-chooser")
    # The form's CSRF token is checked without any cookie (third-party context).
    frame.click('[data-testid="channel-WX_NATIVE"]')
    frame.wait_for_selector('[data-testid="qr-page"]')
    starts = [cookie for method, url, cookie in page.sent_cookies if url.endswith("/start")]
    assert starts == [None]  # the framed POST carried no cookie at all, and still passed CSRF
    screenshot(page, "framed-qr")
    phone = browser.new_context().new_page()
    phone.goto(f"{live_server.url}/sandbox/cashier/{the_bill('WX_NATIVE').cashier_token}")
    phone.click('[data-testid="pay"]')
    frame.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    page.wait_for_function("window.messages.some(function (m) { return m.type === 'result'"
                           " && m.status === 'paid'; })")
    assert results(page)[-1] == "paid"
    screenshot(page, "framed-paid")
    phone.context.close()


def test_a_framed_checkout_opens_a_form_channel_in_a_new_window_and_waits(framed,
                                                                        screenshot):
    page, frame = framed()
    with page.context.expect_page() as opened:
        frame.click('[data-testid="channel-ALI_WEB"]')
    cashier = opened.value
    cashier.wait_for_selector('[data-testid="pay"]')
    frame.wait_for_selector('[data-testid="result"][data-status="pending"]')
    screenshot(page, "framed-waiting")
    cashier.click('[data-testid="pay"]')
    frame.wait_for_selector('[data-testid="result"][data-status="paid"]', timeout=20_000)
    page.wait_for_function("window.messages.some(function (m) { return m.status === 'paid'; })")


def test_the_framed_checkout_reports_its_height_to_the_merchant_page(framed):
    page, _frame = framed()
    page.wait_for_function("window.messages.some(function (m) { return m.type === 'height'"
                           " && m.height > 100; })")


def refused_framing(page, url: str) -> str:
    """Open ``url`` and return Chromium's report of a frame-ancestors refusal."""
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text,
                                     timeout=10_000) as report:
        page.goto(url)
    return report.value.text


def test_a_site_that_is_not_a_frame_origin_cannot_frame_the_checkout(
        live_server, shop, make_merchant, button_order, cookieless_page, client):
    merchant = make_merchant(frame_origins=["https://shop.example.com"])
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    shop.page = (f'<!doctype html><iframe name="checkout" src="{live_server.url}{path}" '
                 f'width="400" height="400"></iframe>')
    report = refused_framing(cookieless_page, shop.origin + "/")
    assert "has been blocked" in report and "https://shop.example.com" in report
    assert cookieless_page.frame(name="checkout").query_selector("[data-testid]") is None


def test_the_framed_checkout_refuses_a_parent_origin_the_merchant_did_not_allow(
        live_server, shop, make_merchant, button_order, cookieless_page):
    merchant = make_merchant(frame_origins=["https://shop.example.com"])
    shop.page = framing_page(live_server.url, button_order(merchant), shop.origin)
    assert "has been blocked" in refused_framing(cookieless_page, shop.origin + "/")
    assert db.session.execute(db.select(Bill)).first() is None
