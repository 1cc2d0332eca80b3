"""Layout of the chooser and the card form, in Chromium (issue 15, "Layout"):
the 优惠券 heading straddled its card's edge with a large gap, the cards
jumped when the coupon choice changed, the card-payment page had no shared
header or language switch and mixed fonts, and amounts had no thousands
separators (¥100000000.00)."""

from __future__ import annotations

import secrets

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import CheckoutOrder

pytestmark = pytest.mark.browser

BUYER = "alice"


@pytest.fixture
def coupon_chooser(live_server, client, button_order, make_merchant, give_coupon, page):
    merchant = make_merchant("Tea House", channels=["ALI_WEB", "WX_NATIVE"])
    give_coupon(merchant, BUYER, name="满减券", discount="3")
    give_coupon(merchant, BUYER, name="新客券", discount="5")
    response = client.post("/pay", data=button_order(merchant, amount="10000000000",
                                                     buyer_id=BUYER))
    assert response.status_code == 303, response.data
    page.goto(f"{live_server.url}{response.headers['Location'].replace('http://localhost', '')}")
    page.get_by_test_id("coupons").wait_for()
    return page


def test_the_coupons_heading_is_inside_its_card(coupon_chooser):
    card = coupon_chooser.get_by_test_id("coupons").bounding_box()
    heading = coupon_chooser.locator('[data-testid="coupons"] legend').bounding_box()
    assert heading["y"] >= card["y"] + 12  # below the card's top edge, in its padding
    first = coupon_chooser.locator(".pay-coupon").first.bounding_box()
    assert 0 <= first["y"] - (heading["y"] + heading["height"]) <= 16  # no large gap


def test_choosing_no_coupon_and_back_moves_nothing(coupon_chooser):
    def where():
        return [round(coupon_chooser.locator(selector).bounding_box()["y"])
                for selector in ('[data-testid="coupons"]', ".pay-channels")]

    before = where()
    coupon_chooser.get_by_test_id("coupon-none").check()
    assert coupon_chooser.locator("[data-pay-saving]").is_hidden() or \
        coupon_chooser.locator("[data-pay-saving]").inner_text() == ""
    assert where() == before
    coupon_chooser.locator('.pay-coupon input').first.check()
    assert coupon_chooser.get_by_test_id("order-saving").is_visible()
    assert where() == before


def test_amounts_are_grouped_by_thousands(coupon_chooser):
    total = coupon_chooser.get_by_test_id("order-amount").inner_text()
    assert total == "¥99,999,995.00"  # the 5-yuan coupon is preselected
    coupon_chooser.get_by_test_id("coupon-none").check()
    assert coupon_chooser.get_by_test_id("order-amount").inner_text() == "¥100,000,000.00"


@pytest.fixture
def card_form(live_server, make_merchant, page):
    merchant = make_merchant("Global Tea", channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                             default_currency="USD")
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", amount=123450, currency="USD", bills={}, extra={},
                          created_at=now_ms(), updated_at=now_ms())
    db.session.add(order)
    db.session.commit()
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang=zh")
    return page


def test_the_card_form_has_the_checkouts_header_with_the_payee(card_form):
    header = card_form.locator("header.pay-top")
    assert header.locator(".pay-payee").inner_text() == "Global Tea"
    assert header.locator('svg[data-brand="LOCK"]').count() == 1


def test_the_card_forms_language_switch_changes_the_language(card_form):
    assert card_form.locator("h1").last.inner_text() == "银行卡支付"
    card_form.locator('nav.pay-lang a[lang="en"]').click()
    card_form.wait_for_load_state("load")
    assert card_form.locator("h1").last.inner_text() == "Pay by card"
    assert card_form.locator("html").get_attribute("lang") == "en"


def test_the_card_form_uses_one_font(card_form):
    fonts = card_form.evaluate("""() => [...new Set([...document.querySelectorAll(
        'body, h1, label, input, button, a, .pay-amount, .pay-foot')]
        .filter(el => el.getClientRects().length > 0)  // shown (not a hidden csrf field)
        .map(el => getComputedStyle(el).fontFamily))]""")
    assert len(fonts) == 1, fonts


def test_the_card_form_groups_the_amount(card_form):
    assert card_form.get_by_test_id("order-amount").inner_text() == "$1,234.50 USD"
    assert card_form.get_by_test_id("card-pay").inner_text() == "支付 $1,234.50"


def test_the_largest_amount_fits_one_line_on_a_small_phone(live_server, client, button_order,
                                                           make_merchant, new_page):
    merchant = make_merchant("Tea House", channels=["ALI_WAP"])
    response = client.post("/pay", data=button_order(merchant, amount="10000000000"))
    pg = new_page(viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True)
    pg.goto(f"{live_server.url}{response.headers['Location'].replace('http://localhost', '')}")
    amount = pg.get_by_test_id("order-amount")
    assert amount.inner_text() == "¥100,000,000.00"
    size = float(amount.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
    box, card = amount.bounding_box(), pg.locator(".pay-order").bounding_box()
    assert box["height"] < 2 * size  # one line
    assert amount.evaluate("el => el.scrollWidth <= el.clientWidth")  # nothing cut off
    assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
