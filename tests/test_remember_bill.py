"""``orders.remember_bill`` records a channel's bill on the checkout's order
with one UPDATE conditional on the version the page read (through the write
queue), or under the row lock when the row changed meanwhile (issue 16): what
another request recorded meanwhile is kept, and the order in the session shows
what was written."""

from __future__ import annotations

import threading

import pytest

from checkout import orders
from checkout.db import db, write_queue
from checkout.models import CheckoutOrder


@pytest.fixture
def order(make_merchant, button_order):
    merchant = make_merchant(channels=["ALI_WEB", "WX_NATIVE"])
    return orders.open_order(button_order(merchant))


def stored(order_id: str) -> CheckoutOrder:
    db.session.expire_all()
    return db.session.get(CheckoutOrder, order_id)


def test_a_bill_recorded_meanwhile_by_another_request_is_kept(app, order):
    token = order.id
    with app.app_context():  # another request, with its own session
        orders.remember_bill(orders.find_checkout(token)[0], "WX_NATIVE", "bill-wx")
        db.session.remove()
    orders.remember_bill(order, "ALI_WEB", "bill-ali")  # this one loaded it before
    assert stored(token).bills == {"WX_NATIVE": "bill-wx", "ALI_WEB": "bill-ali"}
    assert stored(token).extra["last"] == "ALI_WEB"


def test_the_order_in_the_session_shows_what_was_recorded(app, order):
    version = order.version
    orders.remember_bill(order, "ALI_WEB", "bill-ali", to_pay=199)
    assert order.bills == {"ALI_WEB": "bill-ali"}
    assert order.extra["to_pay"] == 199 and order.extra["last"] == "ALI_WEB"
    assert order.version == version + 1  # read again: the UPDATE added one


def test_recording_the_same_bill_again_writes_nothing(app, order):
    orders.remember_bill(order, "ALI_WEB", "bill-ali")
    version = stored(order.id).version
    orders.remember_bill(order, "ALI_WEB", "bill-ali")
    assert stored(order.id).version == version


def test_an_order_unchanged_since_its_page_read_it_is_written_with_other_hot_writes(app, order):
    token = order.id
    db.session.remove()
    found, _merchant = orders.find_checkout(token)
    queue = write_queue(db.engine)

    def record():  # the page's request, on its own thread
        with app.app_context():
            orders.remember_bill(found, "ALI_WEB", "bill-ali")

    worker = threading.Thread(target=record)
    with queue.held():
        worker.start()
        waiting = threading.Event()
        while queue.waiting() < 1:  # the UPDATE waits in the write queue
            waiting.wait(0.001)
    worker.join()
    assert stored(token).bills == {"ALI_WEB": "bill-ali"}
    assert found.version == stored(token).version
