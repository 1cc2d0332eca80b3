"""Repeat views of a checkout's chooser are served from the worker's page
cache (checkout.page_cache) while, and only while, the rows the page was made
from are unchanged."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from flask import template_rendered

from checkout import create_app, merchants, orders
from checkout.db import db
from checkout.models import CheckoutOrder, Merchant
from checkout.page_cache import PageCache
from checkout.web.pay import CHOOSER_PAGES

PC_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["ALI_WEB", "WX_NATIVE", "ALI_WAP"],
                         frame_origins=["https://shop.example.com"])


@pytest.fixture
def open_order(client, merchant, button_order):
    """``open_order(**fields) -> path``: a checkout opened through /pay."""

    def make(**fields):
        response = client.post("/pay", data=button_order(merchant, **fields))
        assert response.status_code == 303, response.data
        return response.headers["Location"]

    return make


@pytest.fixture
def view(app, client):
    """``view(path, **headers)``: GET as a worker serves it, in an app context
    of its own (the test's own context would lend the request its database
    session, with rows loaded earlier, and its cached language)."""

    def get(path, **headers):
        with app.app_context():
            return client.get(path, headers=headers)

    return get


@pytest.fixture
def rendered(app):
    """The names of the templates rendered while the test runs."""
    names: list[str] = []

    def record(_sender, template, context, **_extra):
        names.append(template.name)

    with template_rendered.connected_to(record, app):
        yield names


@contextmanager
def another_worker(app_config):
    """A second app on the same database, as another gunicorn worker would be."""
    other = create_app(app_config)
    with other.app_context():
        yield other
        db.session.remove()
        db.engine.dispose()


def _channels(html: bytes) -> list[str]:
    return re.findall(r'data-testid="channel-(\w+)"', html.decode())


def _order_of(path: str) -> CheckoutOrder:
    return db.session.get(CheckoutOrder, path.rsplit("/", 1)[1])


def test_a_repeat_view_is_served_without_rendering_again(view, open_order, rendered):
    path = open_order()
    first = view(path, **{"User-Agent": PC_UA})
    second = view(path, **{"User-Agent": PC_UA})
    assert rendered == ["pay/chooser.html"]
    assert second.status_code == 200
    assert second.data == first.data


def test_a_kept_page_keeps_its_security_headers_and_sets_no_cookie(view, open_order):
    path = open_order()
    first = view(path)
    second = view(path)
    for name in ("Content-Security-Policy", "Cache-Control", "Content-Type",
                 "X-Content-Type-Options"):
        assert second.headers[name] == first.headers[name]
    assert second.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in second.headers


def test_the_language_switch_still_sets_its_cookie_on_a_kept_page(view, open_order):
    path = open_order()
    view(path + "?lang=en")
    second = view(path + "?lang=en")
    assert "lang=en" in second.headers["Set-Cookie"]


def test_each_device_language_and_frame_gets_its_own_page(view, open_order, rendered):
    path = open_order()
    pc = view(path, **{"User-Agent": PC_UA})
    phone = view(path, **{"User-Agent": PHONE_UA})
    english = view(path, **{"User-Agent": PC_UA, "Accept-Language": "en"})
    assert _channels(pc.data) == ["ALI_WEB", "WX_NATIVE"]
    assert _channels(phone.data) == ["ALI_WAP"]
    assert "Choose how to pay" in english.data.decode()
    assert "Choose how to pay" not in pc.data.decode()
    assert len(rendered) == 3


def test_the_query_string_is_part_of_what_a_page_is_kept_for(view, open_order):
    path = open_order()
    view(path)
    noticed = view(path + "?notice=unavailable")
    assert b'data-testid="chooser-notice"' in noticed.data


def test_the_order_paid_since_is_not_shown_a_kept_chooser(app, view, open_order):
    path = open_order()
    view(path)
    orders.mark_paid(_order_of(path))
    again = view(path)
    assert again.status_code == 303
    assert again.headers["Location"].endswith("/return")


def test_a_change_to_the_order_renders_the_page_again(view, open_order, rendered):
    path = open_order()
    view(path)
    orders.remember(_order_of(path), note="anything")
    view(path)
    assert rendered == ["pay/chooser.html", "pay/chooser.html"]


def test_a_merchant_change_made_by_another_worker_shows_on_the_next_view(
        app_config, view, open_order, merchant):
    path = open_order()
    assert _channels(view(path, **{"User-Agent": PC_UA}).data) == \
        ["ALI_WEB", "WX_NATIVE"]
    with another_worker(app_config):
        elsewhere = merchants.get_merchant(merchant.app_id)
        merchants.update_merchant(elsewhere, channels=["WX_NATIVE"])
    assert _channels(view(path, **{"User-Agent": PC_UA}).data) == ["WX_NATIVE"]


def test_every_update_of_a_row_adds_one_to_its_version(app, open_order, merchant):
    order = _order_of(open_order())
    before = orders.page_stamp(order.id)
    orders.remember(order, note="orm")
    after_orm = orders.page_stamp(order.id)
    db.session.execute(db.update(Merchant).where(Merchant.app_id == merchant.app_id)
                       .values(name="Core update"))
    db.session.commit()
    after_core = orders.page_stamp(order.id)
    assert before == (1, 1)
    assert after_orm == (2, 1)
    assert after_core == (2, 2)


def test_there_is_no_stamp_for_an_unknown_order(app):
    assert orders.page_stamp("no-such-order") is None
    assert orders.page_stamp("x" * 65) is None


def test_an_unknown_order_is_still_not_found(view):
    assert view("/pay/no-such-order").status_code == 404
    assert view("/pay/no-such-order").status_code == 404


def test_orders_with_a_buyer_are_rendered_every_time(view, open_order, merchant, give_coupon,
                                                    rendered):
    path = open_order(buyer_id="alice")
    first = view(path)
    give_coupon(merchant, "alice", discount="5")
    second = view(path)
    assert b'data-testid="coupons"' not in first.data
    assert b'data-testid="coupons"' in second.data
    assert rendered == ["pay/chooser.html", "pay/chooser.html"]


def test_page_cache_seconds_zero_keeps_nothing(app, view, open_order, rendered):
    app.extensions[CHOOSER_PAGES] = PageCache(0)
    path = open_order()
    view(path)
    view(path)
    assert rendered == ["pay/chooser.html", "pay/chooser.html"]


# --- the cache itself -------------------------------------------------------------------------

def test_a_page_is_served_only_for_the_stamp_it_was_made_from():
    pages = PageCache(60)
    pages.keep("key", (1, 1), body=b"page", status=200, headers=[])
    assert pages.get("key", (1, 1)).body == b"page"
    assert pages.get("key", (2, 1)) is None
    assert pages.get("key", None) is None
    assert pages.get("other", (1, 1)) is None


def test_a_page_is_dropped_after_its_seconds():
    now = [1000.0]
    pages = PageCache(60, timer=lambda: now[0])
    pages.keep("key", (1, 1), body=b"page", status=200, headers=[])
    now[0] += 59
    assert pages.get("key", (1, 1)) is not None
    now[0] += 2
    assert pages.get("key", (1, 1)) is None


def test_the_cache_holds_at_most_its_size():
    pages = PageCache(60, max_pages=3)
    for number in range(5):
        pages.keep(number, (1, 1), body=b"page", status=200, headers=[])
    assert len(pages) == 3
    assert pages.get(4, (1, 1)) is not None
