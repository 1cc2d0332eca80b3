"""Coupons in the hosted checkout's pages (issue 5 item 4): the chooser lists
the buyer's usable coupons, preselects the biggest saving, lets the shopper
pick another or none, and the bill carries what was picked."""

from __future__ import annotations

import re

import pytest

from checkout.db import db
from checkout.models import Bill
from checkout.sandbox import settlement

PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def give(merchant, give_coupon):
    return lambda user_id="alice", **fields: give_coupon(merchant, user_id, **fields)


@pytest.fixture
def checkout(client, merchant, button_order):
    def open_(**fields):
        fields.setdefault("amount", "10000")
        response = client.post("/pay", data=button_order(merchant, **fields))
        path = response.headers["Location"]
        return path, client.get(path, headers={"User-Agent": PC_UA}).get_data(as_text=True)
    return open_


def _checked(page: str) -> str | None:
    match = re.search(r'<input type="radio" name="coupon" value="([^"]+)"[^>]* checked', page)
    return match.group(1) if match else None


def _pay(client, path, page, channel="ALI_WEB", coupon=None):
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "channel": channel}
    if coupon:
        data["coupon"] = coupon
    location = client.post(path + "/start", data=data).headers["Location"]
    client.get(location, headers={"User-Agent": PC_UA})
    return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()


def test_the_buyers_best_coupon_is_preselected_and_the_total_shows_it(checkout, give):
    give(discount="5")
    best = give(discount="20")
    _, page = checkout(buyer_id="alice")
    assert _checked(page) == best.id
    assert "¥80.00" in page and "¥100.00" in page and "¥20.00" in page


def test_the_scripts_useid_finds_the_buyers_coupons(checkout, give):
    best = give(discount="20")
    _, page = checkout(useId="alice")
    assert _checked(page) == best.id


def test_a_picked_coupon_goes_on_the_bill(client, checkout, give):
    small = give(discount="5")
    give(discount="20")
    path, page = checkout(buyer_id="alice")
    bill = _pay(client, path, page, coupon=small.id)
    assert (bill.coupon_id, bill.bill_fee, bill.discount, bill.total_fee) == \
        (small.id, 10000, 500, 9500)


def test_no_coupon_pays_the_full_price(client, checkout, give):
    give(discount="20")
    path, page = checkout(buyer_id="alice")
    bill = _pay(client, path, page, coupon="none")
    assert (bill.coupon_id, bill.total_fee) == (None, 10000)


def test_the_merchants_coupon_is_preselected_when_usable(checkout, give):
    merchants_pick = give(discount="5")
    give(discount="20")
    _, page = checkout(buyer_id="alice", coupon_id=merchants_pick.id)
    assert _checked(page) == merchants_pick.id


def test_an_unusable_merchant_coupon_is_explained(checkout, give):
    not_enough = give(discount="5", limit_fee=20000)
    _, page = checkout(buyer_id="alice", coupon_id=not_enough.id)
    assert 'data-testid="coupon-notice"' in page


def test_the_price_is_locked_once_a_payment_has_started(client, checkout, give):
    best = give(discount="20")
    path, page = checkout(buyer_id="alice")
    _pay(client, path, page)
    again = client.get(path + "?all=1", headers={"User-Agent": PC_UA}).get_data(as_text=True)
    assert 'data-testid="coupon-locked"' in again and 'name="coupon"' not in again
    wx = _pay(client, path, again, channel="WX_NATIVE", coupon="none")
    assert wx.coupon_id == best.id


def test_the_coupon_is_consumed_only_when_paid(client, checkout, give):
    coupon = give(discount="20")
    path, page = checkout(buyer_id="alice")
    bill = _pay(client, path, page)
    db.session.refresh(coupon)
    assert coupon.status == coupon.UNUSED
    assert settlement.mark_paid(bill)
    db.session.refresh(coupon)
    assert coupon.status == coupon.USED


def test_the_merchants_sign_covers_the_original_amount(client, merchant, button_order, give):
    give(discount="20")
    # Signed over 10000 fen, the amount before the coupon: accepted.
    response = client.post("/pay", data=button_order(merchant, amount="10000",
                                                     buyer_id="alice"))
    assert response.status_code == 303
