"""Brand marks (issue 15, "Brand marks are placeholders": Alipay was the glyph
支 in grey, PayPal and card rows showed "¥", the secure mark was a green
square). ``templates/_brands.html``'s ``brand_mark`` is the one source; these
tests read what it draws. The browser tests (test_brand_marks_browser.py)
look at the pages that use it."""

from __future__ import annotations

import re

import pytest

from checkout import channels

CARD_BRANDS = ["VISA", "MASTERCARD", "AMEX", "DISCOVER"]
# A colour each brand is known by (its mark is drawn in it).
BRAND_COLOURS = {"ALI": "#1677ff", "WX": "#07c160", "UN": "#e21836", "JD": "#e1251b",
                 "PAYPAL": "#003087", "VISA": "#1a1f71", "MASTERCARD": "#eb001b",
                 "AMEX": "#006fcf", "DISCOVER": "#ff6000", "YEE": "#e8380d",
                 "KUAIQIAN": "#6b2c91", "BD": "#2932e1"}


@pytest.fixture
def mark(app):
    macro = app.jinja_env.get_template("_brands.html").module.brand_mark

    def draw(family, size=32):
        return str(macro(family, size))
    return draw


def drawing(svg: str) -> str:
    """The SVG without its own attributes (what is drawn inside it)."""
    return svg[svg.index(">") + 1:]


def test_every_channel_family_has_its_own_mark(mark):
    fallback = drawing(mark("NO-SUCH-FAMILY"))
    drawn = {family: drawing(mark(family)) for family in channels.FAMILIES}
    assert all(inside != fallback for inside in drawn.values())
    assert len(set(drawn.values())) == len(drawn)


def test_every_card_brand_has_its_own_mark(mark):
    drawn = {drawing(mark(brand)) for brand in CARD_BRANDS + ["CARD"]}
    assert len(drawn) == len(CARD_BRANDS) + 1


@pytest.mark.parametrize("family, colour", sorted(BRAND_COLOURS.items()))
def test_a_mark_is_drawn_in_its_brands_colour(mark, family, colour):
    assert colour in mark(family).lower()


@pytest.mark.parametrize("family", sorted(BRAND_COLOURS) + ["CARD", "LOCK"])
def test_no_mark_is_a_currency_sign(mark, family):
    assert "¥" not in mark(family) and "$" not in mark(family)


def test_a_mark_is_hidden_from_screen_readers_because_its_row_names_the_brand(mark):
    svg = mark("ALI")
    assert svg.startswith("<svg") and 'aria-hidden="true"' in svg and 'focusable="false"' in svg


def test_a_mark_has_the_size_asked_for(mark):
    svg = mark("WX", 24)
    assert 'width="24"' in svg and 'height="24"' in svg and 'viewBox="0 0 40 40"' in svg


def test_a_mark_names_its_family_for_styles_and_tests(mark):
    assert 'data-brand="PAYPAL"' in mark("paypal")


def test_marks_use_no_style_attribute_or_id_the_csp_and_many_marks_a_page_forbid(mark):
    for family in list(BRAND_COLOURS) + ["CARD", "LOCK"]:
        svg = mark(family)
        assert not re.search(r"\sstyle=", svg) and not re.search(r"\sid=", svg)


def test_the_sandbox_logo_is_the_same_mark(app, mark):
    logo = app.jinja_env.get_template("sandbox/_logos.html").module.logo
    assert str(logo("UN")).strip() == mark("UN")
