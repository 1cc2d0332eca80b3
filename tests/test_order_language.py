"""A checkout's language kept on its order: the merchant page's language the
button sends (``lang``), and the shopper's choice on the order's pages, so
that every page of one checkout speaks one language even where the ``lang``
cookie cannot be kept (a merchant's iframe in a browser that blocks
third-party cookies). ``?lang=`` and the cookie still come first
(``checkout.i18n``)."""

from __future__ import annotations

import pytest
from flask import g

from checkout import i18n
from checkout.db import db
from checkout.models import CheckoutOrder

CHINESE_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9"}
ENGLISH_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def open_checkout(client, merchant, button_order):
    """``open_checkout(**fields)``: the chooser's path of a new order posted
    as the button posts it."""

    def open_(**fields):
        answer = client.post("/pay", data=button_order(merchant, **fields),
                             headers=CHINESE_BROWSER)
        assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
        return answer.headers["Location"]

    return open_


def get(client, path: str, headers: dict):
    """A GET as a server sees it. The ``app`` fixture's app context is shared
    by the test client's requests (Flask pushes one per request only when
    none is active), and Flask-Babel keeps a request's locale on ``g``; a
    server's requests each have their own."""
    g.pop("_flask_babel", None)
    return client.get(path, headers=headers)


def language_of(answer) -> str:
    html = answer.get_data(as_text=True)
    return "zh" if '<html lang="zh-CN"' in html else "en" if '<html lang="en"' in html else "?"


def stored_locale() -> str | None:
    db.session.expire_all()
    return (db.session.execute(db.select(CheckoutOrder)).scalar_one().extra or {}).get("locale")


def test_the_order_keeps_the_language_of_the_page_the_button_was_on(open_checkout):
    open_checkout(lang="en")
    assert stored_locale() == "en"


def test_an_order_page_speaks_the_orders_language_before_the_browsers(client, open_checkout):
    chooser = open_checkout(lang="en")
    assert language_of(get(client, chooser, CHINESE_BROWSER)) == "en"


def test_without_a_language_from_the_button_the_browser_decides(client, open_checkout):
    chooser = open_checkout()
    assert stored_locale() is None
    assert language_of(get(client, chooser, ENGLISH_BROWSER)) == "en"


def test_a_language_the_checkout_does_not_speak_is_ignored(client, open_checkout):
    chooser = open_checkout(lang="fr")
    assert stored_locale() is None
    assert language_of(get(client, chooser, ENGLISH_BROWSER)) == "en"


def test_the_shoppers_cookie_comes_before_the_orders_language(client, open_checkout):
    chooser = open_checkout(lang="en")
    client.set_cookie(i18n.COOKIE, "zh_Hans_CN")
    assert language_of(get(client, chooser, ENGLISH_BROWSER)) == "zh"


def test_a_language_chosen_on_an_order_page_is_kept_on_the_order(client, open_checkout):
    chooser = open_checkout(lang="zh")
    get(client, chooser + "?lang=en", CHINESE_BROWSER)
    client.delete_cookie(i18n.COOKIE)  # as a browser that refuses it in a frame
    assert stored_locale() == "en"
    assert language_of(get(client, chooser + "/return", CHINESE_BROWSER)) == "en"


def test_a_new_click_from_a_page_in_another_language_changes_it(client, merchant,
                                                                 button_order):
    order = button_order(merchant, lang="zh")
    client.post("/pay", data=order)
    client.post("/pay", data={**order, "lang": "en"})
    assert stored_locale() == "en"


def test_the_shoppers_choice_outlasts_a_new_click(client, merchant, button_order):
    order = button_order(merchant, lang="zh")
    chooser = client.post("/pay", data=order).headers["Location"]
    get(client, chooser + "?lang=en", CHINESE_BROWSER)
    client.post("/pay", data=order)
    assert stored_locale() == "en"


def test_a_kept_chooser_is_not_served_in_another_language(client, open_checkout):
    """The page cache keys on the request's language signals, the order's
    own language being in its row: the same order asked for with and
    without a cookie gets each its language."""
    chooser = open_checkout(lang="en")
    assert language_of(get(client, chooser, CHINESE_BROWSER)) == "en"
    client.set_cookie(i18n.COOKIE, "zh_Hans_CN")
    assert language_of(get(client, chooser, CHINESE_BROWSER)) == "zh"
    client.delete_cookie(i18n.COOKIE)
    assert language_of(get(client, chooser, CHINESE_BROWSER)) == "en"


def test_the_orders_language_comes_after_lang_and_the_cookie():
    assert i18n.requested_locale(None, None, "zh-CN", "en") == "en"
    assert i18n.requested_locale(None, "zh", "en", "en") == "zh_Hans_CN"
    assert i18n.requested_locale("zh", None, "en", "en") == "zh_Hans_CN"
    assert i18n.requested_locale(None, None, "en", "klingon") == "en"
