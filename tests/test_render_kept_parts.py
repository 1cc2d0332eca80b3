"""What the checkout's pages keep between renders (issue 16, "Speed"): brand
marks, static URLs, the CSP, translations bound per render, the CSRF
serializer. Each kept part must give exactly what it replaces, and a change
to what it was made from must show."""

from __future__ import annotations

import re

import pytest
from flask import session, url_for
from flask_wtf.csrf import validate_csrf
from jinja2 import DictLoader, Environment
from markupsafe import escape

from checkout import i18n
from checkout.db import db
from checkout.models import CheckoutOrder
from checkout.web import brand_marks, kept_urls, security, static_files

PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/107.0 Mobile Safari/537.36 "
             "MicroMessenger/8.0.35.2360")
FAMILIES = ["ALI", "WX", "UN", "JD", "PAYPAL", "YEE", "KUAIQIAN", "BD", "VISA", "MASTERCARD",
            "AMEX", "DISCOVER", "CARD", "LOCK", "other", "", None]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PAGE_CACHE_SECONDS": 0}  # every chooser rendered


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["ALI_WEB", "WX_NATIVE", "UN_WEB", "ALI_WAP", "WX_JSAPI",
                                   "PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                         frame_origins=["https://shop.example.com"])


@pytest.fixture
def order(client, merchant, button_order):
    response = client.post("/pay", data=button_order(merchant))
    return db.session.get(CheckoutOrder, response.headers["Location"].rsplit("/", 1)[1])


def _clear_kept_parts(app):
    brand_marks._rendered.cache_clear()
    app.extensions[kept_urls.EXTENSION].clear()
    i18n.template_gettext.cache_clear()
    security._csp.cache_clear()
    security._serializer.cache_clear()


def _without_token(html: bytes) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html.decode())


def _headers_without_clock(response) -> dict:
    # A cookie's Expires is the clock's second plus a year: two responses may straddle a second.
    return {name: re.sub(r"Expires=[^;]+", "Expires=", value) for name, value in response.headers}


@pytest.mark.parametrize("user_agent", [PC_UA, PHONE_UA, WECHAT_UA])
@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("path", ["", "?all=1&lang=en&x=%E4%B8%AD", "/channel/ALI_WEB"])
def test_order_pages_are_the_same_with_the_kept_parts_made_again(app, client, order,
                                                                  user_agent, language, path):
    headers = {"User-Agent": user_agent, "Accept-Language": language}
    first = client.get(f"/pay/{order.id}{path}", headers=headers)
    _clear_kept_parts(app)
    again = client.get(f"/pay/{order.id}{path}", headers=headers)
    assert again.status_code == first.status_code
    assert _without_token(again.data) == _without_token(first.data)
    assert _headers_without_clock(again) == _headers_without_clock(first)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", [18, 24, 32])
def test_a_kept_brand_mark_is_the_macros_svg(app, family, size):
    macro = app.jinja_env.get_template("_brands.html").module.brand_mark
    assert app.jinja_env.globals["brand_mark"](family, size) == macro(family, size)


def test_logo_is_the_32px_brand_mark(app):
    assert app.jinja_env.globals["logo"]("WX") == app.jinja_env.globals["brand_mark"]("WX", 32)


def test_a_changed_brands_template_gives_new_marks():
    sources = {"_brands.html": '{% macro brand_mark(family, size=32) %}<svg>{{ family }} '
                               '{{ size }}</svg>{% endmacro %}'}
    env = Environment(loader=DictLoader(sources), auto_reload=True, autoescape=True)
    marks = brand_marks.BrandMarks(env)
    assert marks.brand_mark("ALI", 18) == "<svg>ALI 18</svg>"
    sources["_brands.html"] = sources["_brands.html"].replace("<svg>", "<svg class=new>")
    assert marks.brand_mark("ALI", 18) == "<svg class=new>ALI 18</svg>"


@pytest.mark.parametrize("filename", ["css/checkout.css", "css/pay.css", "js/pay.js",
                                      "favicon.svg", "no/such/file.css"])
def test_a_kept_static_url_is_url_for_static(app, filename):
    static_url = app.jinja_env.globals["static_url"]
    with app.test_request_context("/pay/x"):
        assert static_url(filename) == url_for("static", filename=filename)
    with app.test_request_context("/pay/x", base_url="http://localhost/shop"):
        assert static_url(filename) == url_for("static", filename=filename)
        assert static_url(filename).startswith("/shop/static/")


def test_a_static_file_of_new_content_gets_a_new_url(app, monkeypatch):
    static_url = app.jinja_env.globals["static_url"]
    with app.test_request_context("/pay/x"):
        monkeypatch.setattr(static_files, "version_of", lambda filename: "aaaaaaaaaaaa")
        assert static_url("css/pay.css").endswith("?v=aaaaaaaaaaaa")
        monkeypatch.setattr(static_files, "version_of", lambda filename: "bbbbbbbbbbbb")
        assert static_url("css/pay.css").endswith("?v=bbbbbbbbbbbb")


def test_a_kept_endpoint_url_is_url_for(app):
    endpoint_url = app.jinja_env.globals["endpoint_url"]
    with app.test_request_context("/pay/x", base_url="http://localhost/shop"):
        assert endpoint_url("home.favicon") == url_for("home.favicon") \
            == "/shop/favicon.ico"


@pytest.mark.parametrize("query", ["", "lang=en", "all=1", "a=1&b=2&a=3&lang=zh&lang=en",
                                   "title=%E7%BB%BF%E8%8C%B6&x=a+b&y=%26%3D%3F", "flag&lang",
                                   "bad=%ZZ%E4"])
def test_the_language_switch_keeps_the_query_as_the_templates_filters_did(app, query):
    filters = app.jinja_env.from_string(
        "{% set q = request.args.items(multi=True)|rejectattr('0', 'equalto', 'lang')|list %}"
        "{{ (q + [('lang', 'zh')])|urlencode }} {{ (q + [('lang', 'en')])|urlencode }}")
    with app.test_request_context(f"/pay/x?{query}"):
        from flask import request
        # Both printed by the template, so both autoescaped.
        assert " ".join(map(escape, i18n.switch_queries())) == filters.render(request=request)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_bound_translations_give_flask_babels_text(app, language):
    template = app.jinja_env.from_string(
        "{{ _('Checkout') }}|{{ _('Taking you to %(channel)s…', channel='<b>') }}|"
        "{{ _('100%% <sure>') }}|{{ gettext('Checkout') }}|"
        "{{ ngettext('Try again in %(num)d minute.', 'Try again in %(num)d minutes.', 3) }}")
    with app.test_request_context("/pay/x", headers={"Accept-Language": language}):
        bound = template.render(**i18n._bind_translations())
        babel = template.render()  # Flask-Babel's own template callables
    assert bound == babel
    assert ("收银台" in bound) == (language == "zh-CN") and "&lt;b&gt;" in bound
    assert "|100% <sure>|" in bound


# --- the CSRF token --------------------------------------------------------------------------

def test_an_order_token_is_one_flask_wtf_accepts_for_the_orders_value(app):
    with app.test_request_context("/pay/x"):
        token = security.order_csrf_token("order-1")
        session["order_value"] = security._raw_value("order-1")
        validate_csrf(token, token_key="order_value")  # raises if not


def test_an_order_token_is_accepted_for_its_order_only(app):
    with app.test_request_context("/pay/x"):
        token = security.order_csrf_token("order-1")
        assert security.order_csrf_ok("order-1", token)
        assert not security.order_csrf_ok("order-2", token)


@pytest.mark.parametrize("token", [None, "", 7, "garbage", "a.b.c"])
def test_a_missing_or_malformed_token_is_refused(app, token):
    with app.test_request_context("/pay/x"):
        assert not security.order_csrf_ok("order-1", token)


def test_a_token_signed_with_another_key_is_refused(app):
    with app.test_request_context("/pay/x"):
        token = security.order_csrf_token("order-1")
    app.config["SECRET_KEY"] = app.secret_key = "another key"
    with app.test_request_context("/pay/x"):
        assert not security.order_csrf_ok("order-1", token)


def test_a_session_csrf_token_of_flask_wtf_is_not_an_order_token(app):
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context("/pay/x"):
        assert not security.order_csrf_ok("order-1", generate_csrf())


def test_a_token_older_than_the_time_limit_is_refused(app, monkeypatch):
    import itsdangerous.timed

    with app.test_request_context("/pay/x"):
        token = security.order_csrf_token("order-1")
        app.config["WTF_CSRF_TIME_LIMIT"] = 60
        now = itsdangerous.timed.TimestampSigner.get_timestamp
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                            lambda self: now(self) + 61)
        assert not security.order_csrf_ok("order-1", token)
