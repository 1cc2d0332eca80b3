"""Money. Inside the product every amount is an integer in the currency's
minor unit (fen for CNY). Conversions to and from decimals happen only here.

Rules, written down once:
- Display: fen are shown as yuan with exactly two decimals (``¥0.01``); no
  rounding ever happens for display, the integer is split. Pages group the
  whole units by thousands with "," (``¥100,000,000.00``): zh-CN and en write
  amounts alike. Only ``format_amount`` does this; wire formats (REST
  fields, forms to channels) use ``fen_to_yuan`` / ``minor_to_wire``.
- Decimal <-> minor unit: exact. A decimal with more places than the currency
  has (or any fraction for a zero-decimal currency) is refused, never rounded.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation

# Minor-unit exponents: CNY for domestic channels, then seed 002's currency
# table for the international (PayPal) API.
CURRENCY_EXPONENT = {
    "CNY": 2,
    "AUD": 2, "BRL": 2, "CAD": 2, "CZK": 2, "DKK": 2, "EUR": 2, "HKD": 2, "ILS": 2,
    "MYR": 2, "MXN": 2, "NZD": 2, "NOK": 2, "PHP": 2, "PLN": 2, "GBP": 2, "SGD": 2,
    "SEK": 2, "CHF": 2, "THB": 2, "TRY": 2, "USD": 2,
    # Zero-decimal for PayPal (seed 002): no fractional part allowed.
    "JPY": 0, "HUF": 0, "TWD": 0,
}

CURRENCY_SYMBOL = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


class MoneyError(ValueError):
    """An amount that cannot be represented exactly."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENT[currency.upper()]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def minor_to_decimal(amount: int, currency: str = "CNY") -> Decimal:
    """1234 fen -> Decimal('12.34'); 500 JPY -> Decimal('500')."""
    places = exponent(currency)
    return (Decimal(int(amount)) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))


def decimal_to_minor(value: object, currency: str = "CNY") -> int:
    """'12.34' USD -> 1234. Refuses values with more places than the currency has."""
    places = exponent(currency)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise MoneyError(f"{value!r} is not a finite number")
    scaled = number.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{value!r} has more than {places} decimal places for {currency}")
    return int(scaled)


def format_amount(amount: int, currency: str = "CNY") -> str:
    """Minor units as a display string for people (pages, the CLI), with
    thousands grouped (issue 15): 1 -> '¥0.01', 10000000000 -> '¥100,000,000.00',
    123450 USD -> '$1,234.50', 1234 JPY -> '¥1,234'. Never for a wire format."""
    symbol = CURRENCY_SYMBOL.get(currency.upper(), currency.upper() + " ")
    return f"{symbol}{minor_to_decimal(amount, currency):,}"


def fen_to_yuan(fen: int) -> str:
    """1 -> '0.01' (channel message details and cashier pages speak yuan)."""
    return str(minor_to_decimal(fen, "CNY"))


# --- Coupon discounts (seed 003, lines 1322-1335) ------------------------------

def percentage_discount(bill_fee: int, ratio: object) -> int:
    """The discount, in fen, of a type 1 ("折扣") coupon on ``bill_fee`` fen.

    Seed 003 line 1329: type 1 stores the *ratio paid*, "0.9 表示9折" — the
    shopper pays 90 % of the price, so the discount is the other 10 %.

    The rounding rule, written down once: the shopper pays the exact product
    ``bill_fee × ratio`` rounded UP to a whole fen, so the discount is
    ``floor(bill_fee × (1 − ratio))``. A coupon therefore never gives away more
    than it advertises (199 fen at 0.9: pays 180, discount 19 — not 20). The
    arithmetic is exact (``Decimal``), never binary floating point.

    ``ratio`` must satisfy 0 < ratio < 1 (as a Decimal, str or int; floats are
    converted through ``str`` so 0.9 means 0.9). The 1-fen floor on the amount
    paid is applied separately by ``capped_discount``.
    """
    try:
        value = Decimal(str(ratio).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{ratio!r} is not a ratio") from None
    if not value.is_finite() or not Decimal(0) < value < Decimal(1):
        raise MoneyError(f"a percentage coupon's ratio must be between 0 and 1, not {ratio!r}")
    fee = int(bill_fee)
    if fee < 0:
        raise MoneyError("a bill fee cannot be negative")
    return int((fee * (Decimal(1) - value)).to_integral_value(rounding=ROUND_FLOOR))


def capped_discount(bill_fee: int, discount: int) -> int:
    """A discount limited so the shopper still pays at least 1 fen: channels
    cannot charge 0 (seed 001: total_fee is a positive integer). A 10-yuan
    coupon on a 5-yuan bill therefore takes 4.99 off, and the bill costs ¥0.01."""
    return max(0, min(int(discount), int(bill_fee) - 1))


# --- International (PayPal) amounts (seed 002) ------------------------------------

# Seed 002 lines 57-84: the currencies the international API accepts (CNY is
# not among them).
INTERNATIONAL_CURRENCIES = frozenset({
    "AUD", "BRL", "CAD", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN",
    "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "TRY", "USD",
})


def minor_to_wire(amount: int, currency: str) -> int | float:
    """The international API's ``total_fee`` (a JSON number in the currency's
    own unit, seed 002 line 35) for ``amount`` minor units: the ONE conversion
    the checkout makes on its way to the gateway.

    Zero-decimal currencies give an int (500 JPY -> 500). Two-decimal ones give
    the float whose shortest repr is exactly the decimal (1999 USD -> 19.99),
    so ``json.dumps`` writes ``19.99`` and ``decimal_to_minor(str(x))`` gives
    the amount back unchanged (exact for every amount below 10^15 minor units:
    a double carries 15 significant decimal digits)."""
    value = minor_to_decimal(amount, currency)
    return int(value) if exponent(currency) == 0 else float(value)
