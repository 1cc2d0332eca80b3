"""PayPal in the hosted checkout (issue 5 item 2): what the chooser offers,
the one conversion to the gateway's decimal, the card form's rules, paying by
card, saved cards for a buyer and their ownership, and no card data kept."""

from __future__ import annotations

import logging
import re
import secrets

import pytest
from sqlalchemy import inspect, text

from checkout import paypal_pay
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, BuyerCard, CheckoutOrder
from checkout.paypal_pay import PaymentProblem

TODAY = (2026, 11)
GOOD_CARD = {"cc_name": "Jim Green", "cc_number": "4242 4242 4242 4242", "cc_exp": "12 / 30",
             "cc_csc": "737"}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["ALI_WEB", "PAYPAL_CREDITCARD", "PAYPAL_PAYPAL"],
                         default_currency="USD")


@pytest.fixture
def settlement():
    """Card payments are settled by helper "cashier"'s module."""
    return pytest.importorskip("checkout.sandbox.settlement")


def make_order(merchant, **fields):
    fields.setdefault("buyer_id", "alice")
    fields.setdefault("currency", "USD")
    fields.setdefault("amount", 1999)
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", bills={}, extra={}, created_at=now_ms(),
                          updated_at=now_ms(), **fields)
    db.session.add(order)
    db.session.commit()
    return order


def bill(bill_id) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill_id)


# --- what the chooser offers ------------------------------------------------------------

def test_paypal_channels_are_offered_in_the_merchants_order(merchant):
    assert paypal_pay.offered_channels(merchant, make_order(merchant)) == [
        "PAYPAL_CREDITCARD", "PAYPAL_PAYPAL"]


def test_paypal_is_not_offered_for_a_currency_paypal_does_not_take(merchant):
    assert paypal_pay.offered_channels(merchant, make_order(merchant, currency="CNY")) == []


def test_paypal_is_not_offered_when_the_merchant_did_not_enable_it(make_merchant):
    shop = make_merchant(channels=["ALI_WEB"])
    assert paypal_pay.offered_channels(shop, make_order(shop)) == []


# --- the one conversion ---------------------------------------------------------------------

@pytest.mark.parametrize("amount, currency, total_fee", [
    (1999, "USD", 19.99), (1, "EUR", 0.01), (500, "JPY", 500), (700, "TWD", 700)])
def test_gateway_request_converts_the_signed_minor_amount_once(merchant, amount, currency,
                                                               total_fee):
    order = make_order(merchant, amount=amount, currency=currency)
    request = paypal_pay.gateway_request(order, "PAYPAL_PAYPAL")
    assert request["total_fee"] == total_fee and type(request["total_fee"]) is type(total_fee)
    assert (request["currency"], request["bill_no"], request["title"], request["buyer_id"]) == (
        currency, order.bill_no, "Tea set", "alice")


@pytest.mark.parametrize("amount, currency", [(1999, "USD"), (500, "JPY")])
def test_paypal_bill_is_opened_for_the_exact_amount(merchant, amount, currency):
    order = make_order(merchant, amount=amount, currency=currency)
    url = paypal_pay.start_paypal(merchant, order)
    opened = bill(order.bills["PAYPAL_PAYPAL"])
    assert (opened.total_fee, opened.currency) == (amount, currency)
    assert url.endswith("/sandbox/paypal/" + opened.cashier_token)
    assert opened.return_url.endswith(f"/pay/{order.id}/paypal/return")


def test_paypal_refuses_an_order_in_cny(merchant):
    with pytest.raises(PaymentProblem) as problem:
        paypal_pay.start_paypal(merchant, make_order(merchant, currency="CNY"))
    assert problem.value.reason == "currency"


# --- the card form ---------------------------------------------------------------------------

def form_problems(**changes):
    with pytest.raises(PaymentProblem) as problem:
        paypal_pay.check_card_form({**GOOD_CARD, **changes}, today=TODAY)
    assert problem.value.reason == "card"
    return {(p.field, p.code) for p in problem.value.problems}


def test_card_form_is_read_as_seed_002s_credit_card_info():
    card = paypal_pay.check_card_form(GOOD_CARD, today=TODAY)
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.first_name,
            card.last_name) == ("visa", "4242", 12, 2030, "Jim", "Green")


def test_card_form_takes_a_four_digit_year_and_a_long_name():
    card = paypal_pay.check_card_form({**GOOD_CARD, "cc_exp": "7/2031",
                                       "cc_name": "Mary Ann  van Dyke"}, today=TODAY)
    assert (card.exp_month, card.exp_year, card.first_name, card.last_name) == (
        7, 2031, "Mary Ann van", "Dyke")


def test_card_form_needs_first_and_last_name():
    assert form_problems(cc_name="Cher") == {("last_name", "last_name_missing")}


def test_card_form_reports_a_mistyped_number():
    assert form_problems(cc_number="4242 4242 4242 4241") == {("card_number", "number_luhn")}


def test_card_form_reports_a_number_of_no_known_brand():
    assert form_problems(cc_number="9999 9999 9999 9995") == {("card_number", "number_brand")}


def test_card_form_reports_an_expired_card():
    assert form_problems(cc_exp="10 / 26") == {("expiry", "expired")}


def test_card_form_reports_an_unreadable_expiry():
    assert form_problems(cc_exp="December") == {("expiry", "expiry_month")}


def test_card_form_wants_four_cvv_digits_for_amex():
    assert form_problems(cc_number="3782 822463 10005", cc_csc="123") == {
        ("cvv", "cvv_format_amex")}


# --- paying by card, saved cards --------------------------------------------------------------

def test_card_payment_pays_the_order_and_saves_the_card_when_asked(merchant, settlement):
    order = make_order(merchant)
    paid = paypal_pay.pay_by_card(merchant, order, GOOD_CARD, save=True)
    assert paid.saved and bill(paid.bill_id).status == "PAID"
    assert order.bills == {"PAYPAL_CREDITCARD": paid.bill_id}
    [card] = paypal_pay.saved_cards(merchant, "alice")
    assert paypal_pay.card_label(card) == "Visa •••• 4242"
    assert card.credit_card_id == paid.credit_card_id


def test_card_is_not_saved_unless_asked(merchant, settlement):
    paypal_pay.pay_by_card(merchant, make_order(merchant), GOOD_CARD, save=False)
    assert paypal_pay.saved_cards(merchant, "alice") == []


def test_card_is_not_saved_without_a_buyer(merchant, settlement):
    paid = paypal_pay.pay_by_card(merchant, make_order(merchant, buyer_id=None), GOOD_CARD,
                                  save=True)
    assert not paid.saved and db.session.execute(db.select(BuyerCard)).first() is None


def test_declined_card_is_reported_and_another_card_then_pays(merchant, settlement):
    order = make_order(merchant)
    with pytest.raises(PaymentProblem) as problem:
        paypal_pay.pay_by_card(merchant, order, {**GOOD_CARD, "cc_number": "4000000000000002"})
    assert problem.value.reason == "declined"
    paid = paypal_pay.pay_by_card(merchant, order, GOOD_CARD)
    assert bill(paid.bill_id).status == "PAID"


def test_saved_card_pays_a_new_order_in_one_tap_in_jpy(merchant, settlement):
    paypal_pay.pay_by_card(merchant, make_order(merchant), GOOD_CARD, save=True)
    [card] = paypal_pay.saved_cards(merchant, "alice")
    order = make_order(merchant, currency="JPY", amount=1500)
    paid = paypal_pay.pay_by_saved_card(merchant, order, card.id)
    opened = bill(paid.bill_id)
    assert (opened.status, opened.currency, opened.total_fee, opened.channel) == (
        "PAID", "JPY", 1500, "PAYPAL_SAVED_CREDITCARD")


def test_another_buyers_saved_card_cannot_pay(merchant, settlement):
    paypal_pay.pay_by_card(merchant, make_order(merchant), GOOD_CARD, save=True)
    [card] = paypal_pay.saved_cards(merchant, "alice")
    assert paypal_pay.saved_cards(merchant, "mallory") == []
    with pytest.raises(PaymentProblem) as problem:
        paypal_pay.pay_by_saved_card(merchant, make_order(merchant, buyer_id="mallory"), card.id)
    assert problem.value.reason == "unknown_card"


def test_another_apps_saved_card_cannot_pay(merchant, make_merchant, settlement):
    paypal_pay.pay_by_card(merchant, make_order(merchant), GOOD_CARD, save=True)
    [card] = paypal_pay.saved_cards(merchant, "alice")
    other = make_merchant("Other Shop", channels=["PAYPAL_CREDITCARD"])
    with pytest.raises(PaymentProblem) as problem:
        paypal_pay.pay_by_saved_card(other, make_order(other), card.id)
    assert problem.value.reason == "unknown_card"


def test_expired_saved_cards_are_not_offered(merchant):
    db.session.add(BuyerCard(app_id=merchant.app_id, buyer_id="alice", credit_card_id="CARD_X",
                             brand="visa", last4="4242", exp_month=10, exp_year=2026,
                             created_at=now_ms()))
    db.session.commit()
    assert paypal_pay.saved_cards(merchant, "alice", today=TODAY) == []
    assert len(paypal_pay.saved_cards(merchant, "alice", today=(2026, 10))) == 1


def test_no_card_number_or_cvv_in_any_row_or_log_line(merchant, settlement, caplog):
    caplog.set_level(logging.DEBUG)
    order = make_order(merchant)
    with pytest.raises(PaymentProblem):
        paypal_pay.pay_by_card(merchant, order, {**GOOD_CARD, "cc_number": "4000000000000002",
                                                 "cc_csc": "482"})
    paypal_pay.pay_by_card(merchant, order, {**GOOD_CARD, "cc_csc": "591"}, save=True)
    dump = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
            dump.extend(str(value) for value in row)
    stored = "\n".join(dump)
    assert "4242" in stored  # the last four are there: the scan sees the card rows
    for secret in ("4242424242424242", "4000000000000002", "482", "591"):
        # As a token of its own: a short CVV may occur inside ids and hashes.
        alone = re.compile(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])" if len(secret) < 6 else secret)
        assert not alone.search(stored), secret
        assert not alone.search(caplog.text), secret


# --- the pages -------------------------------------------------------------------------------

def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def card_page(client, order):
    response = client.get(f"/pay/{order.id}/card")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post_card(client, order, **fields):
    html = card_page(client, order)
    return client.post(f"/pay/{order.id}/card",
                       data={"csrf_token": csrf_of(html), **GOOD_CARD, **fields})


def test_card_form_has_the_autofill_and_keyboard_hints(client, merchant):
    html = card_page(client, make_order(merchant))
    assert re.search(r'id="cc-number"[^>]*inputmode="numeric"[^>]*autocomplete="cc-number"', html)
    assert re.search(r'id="cc-exp"[^>]*inputmode="numeric"[^>]*autocomplete="cc-exp"', html)
    assert re.search(r'id="cc-csc"[^>]*inputmode="numeric"[^>]*autocomplete="cc-csc"', html)
    assert 'autocomplete="cc-name"' in html
    assert "/static/js/card-brand.js" in html and "$19.99" in html


def test_card_form_is_not_offered_for_a_cny_order(client, merchant):
    assert client.get(f"/pay/{make_order(merchant, currency='CNY').id}/card").status_code == 404


def test_unknown_order_is_404(client):
    assert client.get("/pay/nope/card").status_code == 404


def test_bad_card_shows_friendly_errors_and_never_echoes_the_number(client, merchant):
    order = make_order(merchant)
    response = post_card(client, order, cc_number="4242 4242 4242 4241", cc_csc="12")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "卡号似乎输入有误" in html  # "This card number looks mistyped"
    assert "3 位安全码" in html  # "3-digit security code"
    assert "4242 4242 4242 4241" not in html and "4242424242424241" not in html
    assert 'value="Jim Green"' in html  # the name is kept, the number and CVV are not


def test_good_card_pays_and_goes_to_the_result_page(client, merchant, settlement):
    order = make_order(merchant)
    response = post_card(client, order, save_card="1")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/pay/{order.id}/return")
    db.session.expire_all()
    assert bill(order.bills["PAYPAL_CREDITCARD"]).status == "PAID"


def test_declined_card_says_so(client, merchant, settlement):
    response = post_card(client, make_order(merchant), cc_number="4000 0000 0000 0002")
    assert response.status_code == 402
    assert "您的卡被拒绝" in response.get_data(as_text=True)


def test_saved_card_is_shown_masked_and_pays_in_one_tap(client, merchant, settlement):
    post_card(client, make_order(merchant), save_card="1")
    order = make_order(merchant, currency="JPY", amount=1200)
    html = card_page(client, order)
    assert "使用 Visa •••• 4242 支付 ¥1,200" in html  # "Pay ¥1,200 with Visa •••• 4242"
    card_id = re.search(r'name="card" value="(\d+)"', html).group(1)
    response = client.post(f"/pay/{order.id}/saved-card",
                           data={"csrf_token": csrf_of(html), "card": card_id})
    assert response.status_code == 303
    db.session.expire_all()
    paid = bill(order.bills["PAYPAL_SAVED_CREDITCARD"])
    assert (paid.status, paid.total_fee, paid.currency) == ("PAID", 1200, "JPY")


def test_another_buyers_card_id_is_refused_on_the_page(client, merchant, settlement):
    post_card(client, make_order(merchant), save_card="1")
    [card] = paypal_pay.saved_cards(merchant, "alice")
    order = make_order(merchant, buyer_id="mallory")
    html = card_page(client, order)
    assert "4242" not in html
    response = client.post(f"/pay/{order.id}/saved-card",
                           data={"csrf_token": csrf_of(html), "card": str(card.id)})
    assert response.status_code == 402
    assert "该已保存的卡不可用" in response.get_data(as_text=True)
    assert order.bills == {}


def test_paypal_button_goes_to_paypal(client, merchant):
    order = make_order(merchant)
    html = card_page(client, order)
    response = client.post(f"/pay/{order.id}/paypal", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 303
    assert "/sandbox/paypal/" in response.headers["Location"]


def test_card_payment_without_csrf_token_is_refused(client, merchant):
    order = make_order(merchant)
    response = client.post(f"/pay/{order.id}/card", data=GOOD_CARD)
    assert response.status_code == 400
    assert order.bills == {}
