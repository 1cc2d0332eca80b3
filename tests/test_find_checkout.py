"""``orders.find_checkout``: every checkout page's order and merchant from one
row read on the driver's cursor (issue 16). The order is what the ORM would
have loaded, persistent in the session; the merchant is the worker's reading
copy of its row at the version read with the order."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from checkout import merchants, orders
from checkout.db import db, session_in_transaction
from checkout.models import CheckoutOrder


@pytest.fixture
def token(app, make_merchant, button_order):
    order = orders.open_order(button_order(make_merchant(), buyer_id="buyer-1"))
    token = order.id
    db.session.remove()
    return token


def stored(token: str) -> CheckoutOrder:
    db.session.remove()
    return db.session.get(CheckoutOrder, token)


def test_the_order_has_every_column_of_its_row(app, token):
    order, _merchant = orders.find_checkout(token)
    loaded = stored(token)
    columns = [prop.key for prop in CheckoutOrder.__mapper__.column_attrs]
    assert {key: getattr(order, key) for key in columns} == \
        {key: getattr(loaded, key) for key in columns}


def test_the_order_is_persistent_in_the_session_so_a_page_can_update_it(app, token):
    order, _merchant = orders.find_checkout(token)
    assert inspect(order).persistent
    orders.set_openid(order, "openid-of-the-shopper")
    assert stored(token).openid == "openid-of-the-shopper"


def test_finding_the_order_leaves_no_database_transaction_open(app, token):
    orders.find_checkout(token)
    assert not session_in_transaction()


def test_an_order_already_in_the_session_is_the_same_object(app, token):
    first, _ = orders.find_checkout(token)
    again, _ = orders.find_checkout(token)
    assert again is first


def test_the_merchant_is_the_workers_reading_copy(app, token):
    _order, merchant = orders.find_checkout(token)
    _order, again = orders.find_checkout(token)
    assert merchants.copy_version(merchant) == merchant.version
    assert again is merchant
    assert merchant not in db.session


def test_a_merchant_changed_since_the_last_page_is_read_again(app, token):
    _order, merchant = orders.find_checkout(token)
    row = merchants.get_merchant(merchant.app_id)
    merchants.update_merchant(row, name="Renamed Shop")
    db.session.remove()
    _order, now = orders.find_checkout(token)
    assert now.name == "Renamed Shop"
    assert now.version == merchant.version + 1


@pytest.mark.parametrize("token", ["no-such-order", "", "x" * 65, None, 7])
def test_an_unknown_or_malformed_token_finds_nothing(app, token):
    assert orders.find_checkout(token) is None
