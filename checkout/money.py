"""Money. Inside the product every amount is an integer in the currency's
minor unit (fen for CNY). Conversions to and from decimals happen only here.

Rules, written down once:
- Display: fen are shown as yuan with exactly two decimals (``¥0.01``); no
  rounding ever happens for display, the integer is split.
- Decimal <-> minor unit: exact. A decimal with more places than the currency
  has (or any fraction for a zero-decimal currency) is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
    """Minor units as a display string: 1 -> '¥0.01', 1234 USD -> '$12.34'."""
    symbol = CURRENCY_SYMBOL.get(currency.upper(), currency.upper() + " ")
    return f"{symbol}{minor_to_decimal(amount, currency)}"


def fen_to_yuan(fen: int) -> str:
    """1 -> '0.01' (channel message details and cashier pages speak yuan)."""
    return str(minor_to_decimal(fen, "CNY"))
