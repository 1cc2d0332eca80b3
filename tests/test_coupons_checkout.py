"""Coupons in the hosted checkout (button UI 4.0): what the chooser offers,
what it preselects, and what the shopper is told (seed 003 lines 333-334, 358-359)."""

from __future__ import annotations

import pytest

from checkout.coupon_offers import NO_COUPON, coupon_offer

NOW = 1_800_000_000_000
DAY = 24 * 3600 * 1000


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def give(merchant, give_coupon):
    """``give("alice", discount="5")``: one coupon for that buyer, issued a day before NOW."""
    return lambda user_id="alice", **fields: give_coupon(merchant, user_id, now_ms=NOW - DAY,
                                                          **fields)


def offer(merchant, buyer_id="alice", amount=10000, **kwargs):
    return coupon_offer(merchant, buyer_id, amount, now_ms=NOW, **kwargs)


def test_the_biggest_saving_is_preselected(merchant, give):
    give(discount="5")
    best = give(type=1, discount="0.8", name="20% off")
    shown = offer(merchant)
    assert [c.discount for c in shown.choices] == [2000, 500]
    assert (shown.coupon_id, shown.discount, shown.to_pay) == (best.id, 2000, 8000)


def test_the_shopper_may_pick_another(merchant, give):
    small = give(discount="5")
    give(discount="20")
    shown = offer(merchant, chosen=small.id)
    assert (shown.coupon_id, shown.to_pay) == (small.id, 9500)


def test_the_shopper_may_pick_none(merchant, give):
    give()
    shown = offer(merchant, chosen=NO_COUPON)
    assert shown.selected is None and shown.to_pay == 10000 and len(shown.choices) == 1


def test_an_unknown_pick_falls_back_to_the_best(merchant, give):
    best = give(discount="20")
    assert offer(merchant, chosen="forged").coupon_id == best.id


def test_the_merchants_usable_coupon_is_preselected_over_a_bigger_one(merchant, give):
    given = give(discount="5")
    give(discount="20")
    shown = offer(merchant, merchant_coupon_id=given.id)
    assert shown.coupon_id == given.id and shown.notice is None


def test_the_merchants_unusable_coupon_is_explained(merchant, give):
    given = give(discount="20", limit_fee=50000)
    other = give(discount="5")
    shown = offer(merchant, merchant_coupon_id=given.id)
    assert shown.notice == "below_limit"
    assert shown.coupon_id == other.id  # the shopper still gets the best usable one


def test_another_buyers_coupon_is_explained(merchant, give):
    given = give("bob")
    assert offer(merchant, merchant_coupon_id=given.id).notice == "not_yours"


def test_a_merchant_coupon_without_buyer_is_explained(merchant, give):
    given = give()
    shown = offer(merchant, buyer_id=None, merchant_coupon_id=given.id)
    assert shown.notice == "no_buyer" and shown.choices == []


def test_no_buyer_means_no_coupons(merchant, give):
    give()
    shown = offer(merchant, buyer_id=None)
    assert (shown.choices, shown.selected, shown.notice) == ([], None, None)


def test_foreign_currency_orders_get_no_coupons(merchant, give):
    give()
    shown = offer(merchant, currency="USD")
    assert shown.choices == [] and shown.to_pay == 10000


def test_coupons_over_the_amount_are_not_offered(merchant, give):
    give(limit_fee=20000)
    assert offer(merchant, amount=19999).choices == []


def test_a_gateway_without_coupon_support_offers_none(merchant, give):
    class BillsOnly:  # e.g. a remote gateway that does not list coupons
        pass

    give()
    shown = coupon_offer(merchant, "alice", 10000, gateway=BillsOnly(), now_ms=NOW)
    assert shown.choices == [] and shown.to_pay == 10000


# --- the choice kept on the order, and the bill request ------------------------------------

def make_order(merchant, **fields):
    import secrets

    from checkout.db import db
    from checkout.models import CheckoutOrder

    fields.setdefault("buyer_id", "alice")
    fields.setdefault("extra", {})
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="tea", amount=10000, currency="CNY", bills={},
                          created_at=NOW, updated_at=NOW, **fields)
    db.session.add(order)
    db.session.commit()
    return order


def test_the_order_remembers_the_shoppers_pick(merchant, give):
    from checkout.coupon_offers import choose_coupon, offer_for_order

    small = give(discount="5")
    give(discount="20")
    order = make_order(merchant)
    assert choose_coupon(order, small.id)
    assert offer_for_order(order, merchant, now_ms=NOW).coupon_id == small.id
    assert choose_coupon(order, NO_COUPON)
    assert offer_for_order(order, merchant, now_ms=NOW).selected is None


def test_a_pick_that_cannot_be_a_coupon_id_is_refused(merchant):
    from checkout.coupon_offers import choose_coupon

    order = make_order(merchant)
    assert not choose_coupon(order, "x" * 37) and not choose_coupon(order, None)


def test_the_scripts_use_id_finds_the_buyers_coupons(merchant, give):
    from checkout.coupon_offers import offer_for_order

    best = give("carol", discount="20")
    order = make_order(merchant, buyer_id=None, extra={"use_id": "carol"})
    assert offer_for_order(order, merchant, now_ms=NOW).coupon_id == best.id


def test_the_bill_request_carries_the_selected_coupon_and_buyer(merchant, give):
    from checkout.coupon_offers import bill_coupon_fields

    best = give(discount="20")
    order = make_order(merchant)
    assert bill_coupon_fields(order, merchant) == {"buyer_id": "alice", "coupon_id": best.id}


def test_the_bill_request_without_coupons_carries_only_the_buyer(merchant):
    from checkout.coupon_offers import bill_coupon_fields

    assert bill_coupon_fields(make_order(merchant), merchant) == {"buyer_id": "alice"}
