"""The shopper pages' Simplified Chinese catalog (Flask-Babel, ``checkout/i18n.py``).

Strings are marked with ``_()`` / ``gettext()`` in templates and with
``lazy_gettext`` (imported as ``_l``) in ``checkout/``; ``babel.cfg`` maps the
files. After adding or changing a shopper-facing string, from the repository root:

    # 1. extract every marked string into the template
    pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \\
        --add-comments=TRANSLATORS: --project=checkout \\
        --msgid-bugs-address=checkout@localhost -o translations/messages.pot .
    # 2. merge it into the zh_Hans_CN catalog (new strings arrive empty or fuzzy)
    pybabel update -i translations/messages.pot -d translations -l zh_Hans_CN --ignore-obsolete
    # 3. translate every empty msgstr in translations/zh_Hans_CN/LC_MESSAGES/messages.po,
    #    check and delete each "#, fuzzy" line, then compile (Flask-Babel reads only the .mo)
    pybabel compile -d translations -l zh_Hans_CN --statistics

Commit messages.pot, messages.po and messages.mo together. English needs no
catalog: the msgids are English.

These tests fail when a marked string has no Chinese translation, a
translation is fuzzy or breaks a placeholder, or the committed .mo is older
than the .po; the rest check that pages follow ``Accept-Language``, ``?lang=``
and the ``lang`` cookie. (One language per test: the test app context outlives
requests and Flask-Babel keeps the first request's locale in ``g``.)
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from checkout import i18n

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALE = "zh_Hans_CN"
PO = TRANSLATIONS / LOCALE / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / LOCALE / "LC_MESSAGES" / "messages.mo"
# The -k options of the extract command in the docstring.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _key(message) -> tuple[str, str | None]:
    msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
    return msgid, message.context


@pytest.fixture(scope="module")
def catalog():
    with PO.open("rb") as file:
        return read_po(file, locale=LOCALE)


@pytest.fixture(scope="module")
def source_messages():
    """Every marked string of the sources now, as ``pybabel extract`` would find it:
    {(msgid, context): ["path:line", ...]}."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[tuple[str, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, (tuple, list)) else message
        if msgid:
            found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


# --- the catalog covers the sources ------------------------------------------------------

def test_extraction_finds_the_python_and_template_strings(source_messages):
    places = {where.split(":")[0] for wheres in source_messages.values() for where in wheres}
    assert "checkout/web/pay.py" in places            # lazy_gettext as _l
    assert "templates/pay/chooser.html" in places
    assert len(source_messages) > 150


def test_every_marked_string_is_translated(source_messages, catalog):
    problems = []
    for key, wheres in sorted(source_messages.items()):
        message = catalog.get(*key)
        strings = message.string if message is not None else ""
        strings = list(strings) if isinstance(strings, (tuple, list)) else [strings]
        if message is None:
            problems.append(f"not in messages.po (run extract + update): {key[0]!r} at {wheres[0]}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {key[0]!r} at {wheres[0]}")
        elif not all(strings):
            problems.append(f"untranslated: {key[0]!r} at {wheres[0]}")
    assert not problems, "\n".join(problems)


def test_the_catalog_has_no_stale_or_fuzzy_entries(source_messages, catalog):
    stale = [m.id for m in catalog if m.id and _key(m) not in source_messages]
    assert not stale, f"no longer in the sources (run extract + update): {stale}"
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    assert not [m.id for m in catalog if m.id and m.fuzzy]


def test_translations_keep_placeholders_and_tags(catalog):
    placeholder = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}|<[^>]+>")
    problems = [f"{m.id!r}: {errors}" for m, errors in catalog.check()]
    for message in catalog:
        if not message.id or isinstance(message.id, (tuple, list)):
            continue
        if sorted(placeholder.findall(message.id)) != sorted(placeholder.findall(message.string)):
            problems.append(f"placeholders differ: {message.id!r} -> {message.string!r}")
        # Jinja's new-style gettext %-formats every string: a lone % would break the page.
        if "%" in placeholder.sub("", message.string).replace("%%", ""):
            problems.append(f"stray %: {message.string!r}")
    assert not problems, "\n".join(problems)


def test_the_catalog_is_chinese_with_one_plural_form(catalog):
    assert str(catalog.locale) == LOCALE
    assert catalog.num_plurals == 1
    assert catalog.plural_expr == "0"
    translated = [m for m in catalog if m.id]
    # Everything but brand names reads as Chinese.
    assert all(CJK.search("".join(m.string) if isinstance(m.string, tuple) else m.string)
               for m in translated)


# --- the compiled catalog is the .po ----------------------------------------------------

def _contents(catalog) -> dict:
    return {(m.id, m.context): m.string for m in catalog if m.id}


def test_the_committed_mo_is_compiled_from_the_po(catalog):
    assert MO.exists(), "run: pybabel compile -d translations -l zh_Hans_CN"
    fresh = io.BytesIO()
    write_mo(fresh, catalog)           # what pybabel compile writes (fuzzy left out)
    if MO.read_bytes() == fresh.getvalue():
        return
    fresh.seek(0)
    with MO.open("rb") as file:
        committed = read_mo(file)
    expected = read_mo(fresh)
    assert _contents(committed) == _contents(expected), \
        "messages.mo is older than messages.po: run pybabel compile -d translations -l zh_Hans_CN"
    assert committed.plural_forms == expected.plural_forms


# --- pages follow the shopper's language -----------------------------------------------------

def _refused(client, query="", **headers):
    response = client.get("/pay?appId=x" + query, headers=headers)
    assert response.status_code == 400
    return response, response.get_data(as_text=True)


def test_a_chinese_browser_gets_the_chinese_page(client):
    _response, page = _refused(client, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert 'lang="zh-CN"' in page
    assert "该订单无法支付" in page                    # template string
    assert "支付服务中找不到该商户。" in page            # lazy_gettext in checkout/web/pay.py
    assert "未产生任何扣款" in page
    assert "This order cannot be paid" not in page


def test_chinese_is_the_default_language(client):
    _response, page = _refused(client)
    assert 'lang="zh-CN"' in page and "该订单无法支付" in page


def test_an_english_browser_gets_the_english_page(client):
    _response, page = _refused(client, **{"Accept-Language": "en-US,en;q=0.9"})
    assert 'lang="en"' in page
    assert "This order cannot be paid" in page
    assert "This shop is not known to the payment service." in page
    assert not CJK.search(page.replace("秒支付", "").replace("中文", ""))


def test_lang_en_switches_a_chinese_browser_to_english_and_sticks(client):
    response, page = _refused(client, "&lang=en", **{"Accept-Language": "zh-CN"})
    assert 'lang="en"' in page and "This order cannot be paid" in page
    assert "lang=en" in response.headers["Set-Cookie"]


def test_the_lang_cookie_keeps_the_choice(client):
    client.set_cookie("lang", "en")
    _response, page = _refused(client, **{"Accept-Language": "zh-CN"})
    assert 'lang="en"' in page and "This order cannot be paid" in page


def test_lang_zh_switches_an_english_browser_to_chinese(client):
    _response, page = _refused(client, "&lang=zh", **{"Accept-Language": "en"})
    assert 'lang="zh-CN"' in page and "该订单无法支付" in page


def test_the_chooser_speaks_chinese(client, make_merchant, button_order):
    merchant = make_merchant()
    headers = {"Accept-Language": "zh-CN"}
    entry = client.post("/pay", data=button_order(merchant), headers=headers)
    assert entry.status_code == 303
    page = client.get(entry.headers["Location"], headers=headers).get_data(as_text=True)
    assert "选择支付方式" in page and "订单号" in page and "安全支付 · 秒支付" in page
    assert "Choose how to pay" not in page


def test_the_not_found_page_speaks_english_to_an_english_browser(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "Page not found" in text
    assert not CJK.search(text.replace("秒支付", "").replace("中文", ""))


def test_the_not_found_page_speaks_chinese_to_a_chinese_browser(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"})
    assert "找不到这个页面" in page.get_data(as_text=True)


@pytest.mark.parametrize("accept_language,locale", [
    ("en;q=0.5, zh-CN;q=0.9", "zh_Hans_CN"),   # by quality, not by position
    ("fr-FR, en;q=0.8, zh;q=0.1", "en"),        # the first language we speak
    ("fr-FR", "zh_Hans_CN"),                    # none we speak: the default
    (None, "zh_Hans_CN"),
])
def test_the_browsers_languages_are_taken_by_preference(accept_language, locale):
    assert i18n.requested_locale(None, None, accept_language) == locale


def test_lang_and_the_cookie_come_before_the_browsers_languages():
    assert i18n.requested_locale("en", "zh", "zh-CN") == "en"
    assert i18n.requested_locale(None, "en", "zh-CN") == "en"
    assert i18n.requested_locale("klingon", None, "en") == "en"
