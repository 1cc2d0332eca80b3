"""Amounts on pages group thousands with "," (issue 15, "Layout": ¥100000000.00
was hard to read). ``checkout.money.format_amount`` is the one display
function; wire formats (``fen_to_yuan``, ``minor_to_wire``) keep no grouping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from checkout import money


def test_a_hundred_million_yuan_is_grouped_by_thousands():
    assert money.format_amount(10_000_000_000) == "¥100,000,000.00"


def test_amounts_below_a_thousand_have_no_separator():
    assert money.format_amount(99_999) == "¥999.99"
    assert money.format_amount(1) == "¥0.01"


def test_usd_is_grouped_with_two_decimals():
    assert money.format_amount(123_450, "USD") == "$1,234.50"


def test_jpy_is_grouped_with_no_decimals():
    assert money.format_amount(1_234, "JPY") == "¥1,234"


def test_a_currency_without_a_symbol_is_named_and_grouped():
    assert money.format_amount(1_000_000, "SEK") == "SEK 10,000.00"


def test_wire_formats_stay_ungrouped():
    assert money.fen_to_yuan(10_000_000_000) == "100000000.00"
    assert money.minor_to_wire(123_450, "USD") == 1234.5


@given(st.integers(min_value=0, max_value=10 ** 15),
       st.sampled_from(sorted(money.CURRENCY_EXPONENT)))
def test_removing_the_commas_gives_the_plain_decimal(amount, currency):
    shown = money.format_amount(amount, currency)
    symbol = money.CURRENCY_SYMBOL.get(currency, currency + " ")
    assert shown.startswith(symbol)
    assert shown[len(symbol):].replace(",", "") == str(money.minor_to_decimal(amount, currency))


@given(st.integers(min_value=0, max_value=10 ** 15),
       st.sampled_from(sorted(money.CURRENCY_EXPONENT)))
def test_commas_stand_every_three_digits_of_the_whole_units(amount, currency):
    symbol = money.CURRENCY_SYMBOL.get(currency, currency + " ")
    whole = money.format_amount(amount, currency)[len(symbol):].split(".")[0]
    groups = whole.split(",")
    assert 1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:])
