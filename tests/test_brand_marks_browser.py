"""Brand marks on the shopper's pages, in Chromium (issue 15, "Brand marks
are placeholders"): each chooser row shows its brand's mark at the row's
size, the PayPal and card rows of a USD order show PayPal's mark and a card
(not "¥"), the header's secure mark is a padlock, the card form shows the
brand of the card being typed, and each sandbox cashier its family's mark."""

from __future__ import annotations

import secrets

import pytest

from checkout import channels
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder
from checkout.sandbox import bills as sandbox_bills

pytestmark = pytest.mark.browser

PC_CHANNELS = ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB", "YEE_WEB",
               "KUAIQIAN_WEB", "BD_WEB"]
MARKS_OF_ROWS = """() => [...document.querySelectorAll('.pay-channel')].map(row => {
  const mark = row.querySelector(':scope > svg');
  const box = mark ? mark.getBoundingClientRect() : null;
  return {code: row.value, brand: mark && mark.dataset.brand, hidden: mark && mark.getAttribute('aria-hidden'),
          width: box && Math.round(box.width), height: box && Math.round(box.height),
          text: row.innerText};
})"""


def open_chooser(live_server, client, button_order, merchant, lang="zh", **fields):
    response = client.post("/pay", data=button_order(merchant, **fields))
    assert response.status_code == 303, response.data
    return f"{live_server.url}{response.headers['Location'].replace('http://localhost', '')}" \
           f"?lang={lang}"


def test_each_chooser_row_shows_its_familys_mark_at_32px(live_server, client, button_order,
                                                         make_merchant, page):
    merchant = make_merchant("Tea House", channels=PC_CHANNELS)
    page.goto(open_chooser(live_server, client, button_order, merchant))
    rows = page.evaluate(MARKS_OF_ROWS)
    assert [row["code"] for row in rows] == PC_CHANNELS
    for row in rows:
        assert row["brand"] == channels.get(row["code"]).family, row
        assert (row["width"], row["height"], row["hidden"]) == (32, 32, "true"), row


def test_a_usd_orders_rows_show_paypal_and_a_card_never_a_yuan_sign(live_server, client,
                                                                    button_order,
                                                                    make_merchant, page):
    merchant = make_merchant("Global Tea", channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                             default_currency="USD")
    page.goto(open_chooser(live_server, client, button_order, merchant, "en", amount="1999"))
    rows = {row["code"]: row for row in page.evaluate(MARKS_OF_ROWS)}
    assert rows["PAYPAL_PAYPAL"]["brand"] == "PAYPAL"
    assert rows["PAYPAL_CREDITCARD"]["brand"] == "CARD"
    assert all("¥" not in row["text"] for row in rows.values())
    accepted = page.locator('[data-testid="channel-PAYPAL_CREDITCARD"] .pay-card-marks svg')
    assert accepted.evaluate_all("marks => marks.map(m => m.dataset.brand)") == \
        ["VISA", "MASTERCARD", "AMEX", "DISCOVER"]


def test_the_headers_secure_mark_is_a_padlock(live_server, client, button_order, make_merchant,
                                              page):
    merchant = make_merchant("Tea House", channels=["ALI_WEB"])
    page.goto(open_chooser(live_server, client, button_order, merchant))
    lock = page.locator(".pay-top svg")
    assert lock.get_attribute("data-brand") == "LOCK"
    box = lock.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (18, 18)


def card_page(live_server, make_merchant, page, lang="en"):
    merchant = make_merchant("Global Tea", channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                             default_currency="USD")
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", amount=1999, currency="USD", bills={}, extra={},
                          created_at=now_ms(), updated_at=now_ms())
    db.session.add(order)
    db.session.commit()
    page.goto(f"{live_server.url}/pay/{order.id}/card?lang={lang}")
    return page


@pytest.mark.parametrize("digits, brand, name", [
    ("4242", "visa", "Visa"), ("5555", "mastercard", "Mastercard"),
    ("3714", "amex", "American Express"), ("6011", "discover", "Discover")])
def test_the_card_form_shows_the_typed_cards_mark_and_names_it(live_server, make_merchant, page,
                                                              digits, brand, name):
    card_page(live_server, make_merchant, page)
    page.fill("#cc-number", digits)
    shown = page.locator("#cc-brand [data-card-brand]:visible")
    assert shown.count() == 1 and shown.get_attribute("data-card-brand") == brand
    assert page.inner_text("#cc-brand [data-card-brand-name]") == name


def test_the_card_form_shows_no_brand_before_one_is_recognised(live_server, make_merchant, page):
    card_page(live_server, make_merchant, page)
    page.fill("#cc-number", "4242")
    page.fill("#cc-number", "9")
    assert page.locator("#cc-brand [data-card-brand]:visible").count() == 0
    assert page.inner_text("#cc-brand [data-card-brand-name]") == ""


def test_the_card_form_shows_the_accepted_brands(live_server, make_merchant, page):
    card_page(live_server, make_merchant, page)
    assert page.locator(".card-accepted svg").evaluate_all(
        "marks => marks.map(m => m.dataset.brand)") == ["VISA", "MASTERCARD", "AMEX", "DISCOVER"]


@pytest.mark.parametrize("channel", ["ALI_WEB", "WX_NATIVE", "UN_WEB", "JD_WEB", "YEE_WEB",
                                     "KUAIQIAN_WEB", "BD_WEB"])
def test_a_sandbox_cashier_shows_its_familys_mark(live_server, make_merchant, page, channel):
    merchant = make_merchant("Tea House", channels=[channel])
    answer = sandbox_bills.create_bill(merchant, {
        "channel": channel, "total_fee": 1999, "title": "Oolong tea",
        "bill_no": f"A{now_ms()}{secrets.randbelow(10 ** 6):06d}",
        "return_url": "https://shop.example.com/back"}, test_mode=True)
    assert answer["result_code"] == 0, answer
    page.goto(f"{live_server.url}/sandbox/cashier/"
              f"{db.session.get(Bill, answer['id']).cashier_token}")
    mark = page.locator(".sb-header svg")
    assert mark.get_attribute("data-brand") == channels.get(channel).family
    assert mark.is_visible()
