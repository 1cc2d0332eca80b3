"""No shopper page breaks its own Content-Security-Policy (issue 15: every
hand-off page logged a CSP error, the ``style="display:none"`` of the gateway's
auto-submit form under ``style-src 'self'``). Chromium reports each refused
inline style or script on the console; the tests walk the hand-offs and the
pages around them and collect what it said."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def watch(page) -> list[str]:
    """Console errors and CSP reports of ``page``, across its navigations."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"{message.type}: {message.text}")
            if message.type == "error" or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    return seen


def open_order(client, merchant, button_order, user_agent="") -> str:
    return client.post("/pay", data=button_order(merchant),
                       headers={"User-Agent": user_agent}).headers["Location"]


@pytest.mark.parametrize("channel", ["ALI_WEB", "UN_WEB", "JD_WEB"])
def test_a_pc_hand_off_to_the_cashier_logs_no_csp_error(
        live_server, client, merchant, button_order, page, channel):
    seen = watch(page)
    path = open_order(client, merchant, button_order)
    # The channel's page: the gateway's auto-submitting form, then its cashier.
    page.goto(f"{live_server.url}{path}/channel/{channel}")
    page.wait_for_selector('[data-testid="pay"]')
    page.click('[data-testid="pay"]')
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    assert seen == []


@pytest.mark.parametrize("channel", ["ALI_WAP", "UN_WAP", "JD_WAP"])
def test_a_phone_hand_off_to_the_cashier_logs_no_csp_error(
        live_server, client, merchant, button_order, phone_page, channel):
    seen = watch(phone_page)
    path = open_order(client, merchant, button_order, PHONE_UA)
    phone_page.goto(f"{live_server.url}{path}/channel/{channel}")
    phone_page.wait_for_selector('[data-testid="pay"]')
    assert seen == []


def test_the_hand_off_page_itself_logs_no_csp_error(live_server, client, merchant,
                                                    button_order, page):
    """The hand-off page as it stands before its form leaves (scripts off, so
    the form waits for the shopper's Continue)."""
    context = page.context.browser.new_context(java_script_enabled=False)
    still = context.new_page()
    seen = watch(still)
    path = open_order(client, merchant, button_order)
    still.goto(f"{live_server.url}{path}/channel/ALI_WEB")
    still.wait_for_selector('[data-testid="handoff"]')
    # The form's own submit stays hidden; the page's Continue button is the one shown.
    assert still.locator(".pay-gateway-form input[type=submit]").is_hidden()
    assert still.locator('[data-testid="continue"]').is_visible()
    assert seen == []
    context.close()


def test_the_chooser_qr_and_result_pages_log_no_csp_error(live_server, client, merchant,
                                                          button_order, page, browser):
    seen = watch(page)
    path = open_order(client, merchant, button_order)
    page.goto(f"{live_server.url}{path}")
    page.click('[data-testid="channel-WX_NATIVE"]')
    page.wait_for_selector('[data-testid="qr-page"]')
    page.goto(f"{live_server.url}{path}/channel/ALI_QRCODE")
    page.wait_for_selector('[data-testid="alipay-qr-frame"]')
    page.frame_locator('[data-testid="alipay-qr-frame"]').locator('[data-testid="pay"]').click()
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
    assert seen == []
