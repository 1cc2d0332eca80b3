"""Shopper-facing language: Simplified Chinese or English.

Chosen by, in order: ``?lang=`` (which also sets a cookie so the choice
sticks), the ``lang`` cookie, the language kept on the checkout order whose
page this is (``use_order_locale``: the language the merchant gave, the
button's ``data.lang``, or the shopper's last ``?lang=`` on the order's
pages), then the browser's ``Accept-Language``. The order's language is
what keeps a choice inside a merchant's iframe, where browsers block the
cookie (third-party)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_translations
from jinja2 import pass_eval_context
from jinja2.filters import do_urlencode
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LOCALES = ("zh_Hans_CN", "en")
DEFAULT_LOCALE = "zh_Hans_CN"
COOKIE = "lang"

# What ``?lang=`` and the cookie may say, mapped to a Babel locale.
ALIASES = {"zh": "zh_Hans_CN", "zh-cn": "zh_Hans_CN", "zh_cn": "zh_Hans_CN",
           "zh_hans_cn": "zh_Hans_CN", "en": "en", "en-us": "en", "en_us": "en"}

babel = Babel()


def locale_named(value: object) -> str | None:
    """The locale a ``lang`` value (query, cookie, a button's field) names,
    or None for anything else (ignored: the next source decides)."""
    return ALIASES.get(value.lower()) if isinstance(value, str) else None


@lru_cache(maxsize=512)
def browser_locale(accept_language: str | None) -> str | None:
    """The locale the ``Accept-Language`` header (as sent) asks for first.
    Browsers send a handful of different headers, so the answer is kept per
    header instead of parsing it on every request."""
    for language, _quality in parse_accept_header(accept_language, LanguageAccept):
        language = language.lower()
        if language.startswith("zh"):
            return "zh_Hans_CN"
        if language.startswith("en"):
            return "en"
    return None


@lru_cache(maxsize=512)
def requested_locale(query_value: str | None, cookie_value: str | None,
                     accept_language: str | None, order_locale: str | None = None) -> str:
    """The locale for these request values, by the order in this module's
    docstring (kept per values: a page asks it once, and most requests
    bring one of a few combinations)."""
    return (locale_named(query_value) or locale_named(cookie_value)
            or (order_locale if order_locale in LOCALES else None)
            or browser_locale(accept_language) or DEFAULT_LOCALE)


_ORDER_LOCALE = "checkout.order_locale"


def use_order_locale(locale: str | None) -> None:
    """This request shows a checkout order's page: its kept language (or
    None) takes its place in ``select_locale``. Called before anything asks
    the page's language."""
    request.environ[_ORDER_LOCALE] = locale


def select_locale() -> str:
    return requested_locale(request.args.get("lang"), request.cookies.get(COOKIE),
                            request.headers.get("Accept-Language"),
                            request.environ.get(_ORDER_LOCALE))


def request_locale_key() -> tuple:
    """What of this request decides an order page's language, besides the
    order's own kept language: for keys of pages kept per order
    (``checkout.page_cache``), made before the order is read. A changed
    order language changes the order's row version, which the kept page's
    stamp checks."""
    return (locale_named(request.args.get("lang")), locale_named(request.cookies.get(COOKIE)),
            browser_locale(request.headers.get("Accept-Language")))


def remember_choice(response):
    query = request.environ.get("QUERY_STRING", "")
    if "lang" not in query and "%" not in query:
        return response  # no choice made (most requests: no query to parse)
    choice = locale_named(request.args.get("lang"))
    if choice:
        # SameSite=None so the choice also sticks inside a merchant's iframe
        # where the browser allows third-party cookies (where it does not,
        # the order's kept language does: ``use_order_locale``).
        response.set_cookie(COOKIE, choice, max_age=365 * 24 * 3600,
                            samesite="None", secure=True, httponly=True)
    return response


_CHINESE = "checkout.chinese"


def chinese() -> bool:
    """Whether this request's pages are in Chinese (the locale Flask-Babel
    chose with ``select_locale``). Asked three or four times by a checkout
    page (its view, the layout, ``<html lang>``), so worked out once per
    request (kept in the request's WSGI environ, which no other request
    shares): each ``get_locale()`` and ``str(locale)`` was a measurable part
    of a page (issue 16)."""
    environ = request.environ
    found = environ.get(_CHINESE)
    if found is None:
        from flask_babel import get_locale

        found = environ[_CHINESE] = str(get_locale()).startswith("zh")
    return found


def html_lang() -> str:
    return "zh-CN" if chinese() else "en"


def switch_queries() -> tuple[str, str]:
    """The query strings of the language switch's two links (Chinese,
    English): the page's own query (order fields, ``?all=1``, ``?wx=cancel``
    …) without its ``lang``, then the new ``lang``. Built here rather than
    with Jinja filters in the template: the same text, a fraction of the calls."""
    page_query = [(key, value) for key, value in request.args.items(multi=True)
                  if key != "lang"]
    return (do_urlencode(page_query + [("lang", "zh")]),
            do_urlencode(page_query + [("lang", "en")]))


@lru_cache(maxsize=16)
def template_gettext(translations) -> dict:
    """``_``, ``gettext`` and ``ngettext`` for templates, bound to one
    language's translations. Flask-Babel's template callables look the
    translations up again (request context, locale) for every ``_()``, and
    Jinja's ``_`` is one more call on the way; a page has dozens. These behave
    as Jinja's newstyle ones (autoescape, ``%`` formatting, ``num``). Kept per
    translations object: Flask-Babel keeps one per locale for the life of the
    app, so a new object (another locale) gets its own."""

    @pass_eval_context
    def gettext(eval_ctx, string: str, **variables) -> str:
        text = translations.ugettext(string)
        if eval_ctx.autoescape:
            text = Markup(text)
        # Without a "%" in it, formatting gives the text back unchanged.
        return text % variables if variables or "%" in text else text

    @pass_eval_context
    def ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        text = translations.ungettext(singular, plural, num)
        if eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def _bind_translations() -> dict:
    # A render's context variables win over the environment's globals, so
    # every ``_()`` of the page finds these (macros of templates imported
    # without context keep Flask-Babel's globals, which give the same text).
    return template_gettext(get_translations())


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          str(Path(app.root_path).parent / "translations"))
    babel.init_app(app, locale_selector=select_locale, default_locale=DEFAULT_LOCALE)
    app.after_request(remember_choice)
    app.jinja_env.globals.update(html_lang=html_lang, switch_queries=switch_queries)
    app.context_processor(_bind_translations)
