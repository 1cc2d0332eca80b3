"""ALI_QRCODE on a PC (test mode): the sandbox cashier inside the checkout's
600x300 frame (Alipay's qr_pay_mode 0) shows its QR code whole, with "scan
with Alipay", inside the frame (issue 15: the frame showed the sandbox ribbon,
a second header with language links and a duplicate order card; the QR code
and the buttons were cut off below the frame)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SCAN = {"zh": "用支付宝扫码", "en": "Scan with Alipay"}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] and inner["y"] >= outer["y"]
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


@pytest.fixture
def qr_page(live_server, client, merchant, button_order, new_page):
    def open_(lang):
        path = client.post("/pay", data=button_order(merchant, title="Oolong tea",
                                                     amount="1999")).headers["Location"]
        page = new_page(locale="zh-CN" if lang == "zh" else "en-US")
        page.goto(f"{live_server.url}{path}?lang={lang}")
        page.click('[data-testid="channel-ALI_QRCODE"]')
        frame = page.frame_locator('[data-testid="alipay-qr-frame"]')
        frame.locator('[data-testid="cashier-qr"]').wait_for()
        return page, frame
    return open_


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_framed_cashier_shows_the_whole_qr_code_inside_the_frame(qr_page, screenshot,
                                                                     axe_violations, lang):
    page, frame = qr_page(lang)
    screenshot(page, f"alipay-qr-{lang}")
    iframe = page.locator('[data-testid="alipay-qr-frame"]')
    # Alipay's size for qr_pay_mode 0, inside the frame's border.
    assert iframe.evaluate("f => [f.clientWidth, f.clientHeight]") == [600, 300]
    box = iframe.bounding_box()
    for part in ('[data-testid="cashier-qr"]', '[data-testid="scan-with-alipay"]',
                 '[data-testid="pay"]', '[data-testid="cancel"]'):
        assert inside(frame.locator(part).bounding_box(), box), part
    assert frame.locator('[data-testid="scan-with-alipay"]').inner_text().strip() == SCAN[lang]
    qr = frame.locator('[data-testid="cashier-qr"]').bounding_box()
    assert qr["width"] >= 180 and qr["height"] >= 180  # big enough to scan from the screen
    assert frame.locator("img[alt]").count() >= 1
    assert axe_violations(page) == []


def test_the_frame_has_no_second_header_ribbon_or_order_card(qr_page):
    page, frame = qr_page("zh")
    for gone in ('[data-testid="sandbox-ribbon"]', ".sb-header", ".sb-lang",
                 '[data-testid="bill-title"]'):
        assert frame.locator(gone).count() == 0, gone
    # The checkout around the frame shows the order once; the frame says SANDBOX small.
    assert page.locator('[data-testid="order-title"]').count() == 1
    tag = frame.locator('[data-testid="sandbox-tag"]')
    assert tag.inner_text() == "SANDBOX"
    assert tag.bounding_box()["height"] <= 24


def test_paying_in_the_frame_shows_the_result_in_the_checkout(qr_page):
    page, frame = qr_page("en")
    frame.locator('[data-testid="pay"]').click()
    page.wait_for_selector('[data-testid="result"][data-status="paid"]')
