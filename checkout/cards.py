"""Payment cards: the rules a card must pass before PayPal sees it, and brand
detection. ONE module, used by the sandbox's international API
(``checkout.sandbox.international``) and by the checkout's card form
(``checkout.web.paypal_checkout``), so both refuse exactly the same cards.

The fields are seed 002's ``credit_card_info`` (lines 45-55): ``card_number``,
``expire_month``, ``expire_year``, ``cvv``, ``first_name``, ``last_name``,
``card_type`` (visa / mastercard / discover / amex). The issue adds the rules:
Luhn, expiry not past, CVV of 3 digits (4 for amex), ``card_type`` consistent
with the number, names present.

The card number and CVV live only in the ``Card`` passed from the request to
the charge; nothing here logs them, and ``Card.__repr__`` hides them, so an
accidental ``log(card)`` cannot leak them either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Seed 002 line 55.
VISA, MASTERCARD, DISCOVER, AMEX = "visa", "mastercard", "discover", "amex"
BRANDS = (VISA, MASTERCARD, DISCOVER, AMEX)
BRAND_NAMES = {VISA: "Visa", MASTERCARD: "Mastercard", DISCOVER: "Discover",
               AMEX: "American Express"}

# Issuer prefixes and lengths (ISO/IEC 7812 IIN ranges as the networks publish
# them). Each entry: (first digits low, high, number of digits compared).
_PREFIXES = {
    VISA: [(4, 4, 1)],
    MASTERCARD: [(51, 55, 2), (2221, 2720, 4)],
    DISCOVER: [(6011, 6011, 4), (644, 649, 3), (65, 65, 2), (622126, 622925, 6)],
    AMEX: [(34, 34, 2), (37, 37, 2)],
}
_LENGTHS = {
    VISA: (13, 16, 19),
    MASTERCARD: (16,),
    DISCOVER: (16, 17, 18, 19),
    AMEX: (15,),
}
CVV_LENGTH = {VISA: 3, MASTERCARD: 3, DISCOVER: 3, AMEX: 4}
NAME_MAX = 64
# A card is not issued for more than this many years ahead; a later year is a typo.
MAX_YEARS_AHEAD = 20

_SEPARATORS = re.compile(r"[ \-]")


@dataclass(frozen=True)
class Problem:
    """One broken rule: the form field it belongs to, a stable code the
    checkout translates, and the API's English ``err_detail``."""

    field: str
    code: str
    message: str


class CardRefused(ValueError):
    """The card breaks one or more rules; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @property
    def err_detail(self) -> str:
        return "; ".join(p.message for p in self.problems)


@dataclass(frozen=True)
class Card:
    """A card that passed every rule. ``number`` and ``cvv`` are for the
    charge only: never store, log or echo them."""

    number: str = field(repr=False)
    cvv: str = field(repr=False)
    brand: str
    exp_month: int
    exp_year: int
    first_name: str
    last_name: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def holder_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        return f"<Card {self.brand} ****{self.last4} {self.exp_month:02d}/{self.exp_year}>"


def digits_of(number: object) -> str:
    """The card number with the spaces and dashes people type removed; ''
    when it is not a string of digits."""
    if not isinstance(number, str):
        return ""
    cleaned = _SEPARATORS.sub("", number.strip())
    return cleaned if cleaned.isdigit() and cleaned.isascii() else ""


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check digit rule."""
    if not number or not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def detect_brand(number: object) -> str | None:
    """The brand a number's prefix belongs to (length not checked, so it also
    works on a half-typed number), or None. ``static/js/card-brand.js`` holds
    the same table for detection as the shopper types."""
    digits = digits_of(number) if not (isinstance(number, str) and number.isdigit()) else number
    if not digits:
        return None
    for brand, ranges in _PREFIXES.items():
        for low, high, width in ranges:
            if len(digits) >= width and low <= int(digits[:width]) <= high:
                return brand
    return None


def brand_name(brand: str) -> str:
    return BRAND_NAMES.get(brand, brand)


def masked(brand: str, last4: str) -> str:
    """How a saved card is shown: ``Visa •••• 4242``."""
    return f"{brand_name(brand)} •••• {last4}"


def _int_field(value: object) -> int | None:
    """Seed 002 types the expiry as int; accept digit strings ("07") too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        return int(value.strip())
    return None


def _today() -> tuple[int, int]:
    now = datetime.now(timezone.utc)
    return now.year, now.month


def check_card(info: object, *, today: tuple[int, int] | None = None) -> Card:
    """Apply every rule to a ``credit_card_info`` map; return the ``Card`` or
    raise ``CardRefused`` listing every problem (field order as in seed 002).

    ``today`` is (year, month), UTC by default: a card is valid through the
    last day of its expiry month, so 11/2026 is still good in November 2026.
    """
    if not isinstance(info, dict):
        raise CardRefused([Problem("credit_card_info", "not_a_map",
                                   "credit_card_info must be a JSON object")])
    problems: list[Problem] = []
    year_now, month_now = today or _today()

    raw_number = info.get("card_number")
    number = digits_of(raw_number)
    brand = None
    if raw_number in (None, ""):
        problems.append(Problem("card_number", "number_missing",
                                "credit_card_info.card_number is required"))
    elif not number or not 12 <= len(number) <= 19:
        problems.append(Problem("card_number", "number_format",
                                "credit_card_info.card_number must be 12 to 19 digits"))
    else:
        brand = detect_brand(number)
        if brand is None:
            problems.append(Problem("card_number", "number_brand",
                                    "credit_card_info.card_number is not a Visa, Mastercard, "
                                    "Discover or American Express number"))
        elif len(number) not in _LENGTHS[brand]:
            problems.append(Problem("card_number", "number_length",
                                    f"credit_card_info.card_number has {len(number)} digits; "
                                    f"a {brand_name(brand)} number has "
                                    f"{' or '.join(map(str, _LENGTHS[brand]))}"))
        elif not luhn_ok(number):
            problems.append(Problem("card_number", "number_luhn",
                                    "credit_card_info.card_number is mistyped (its check digit "
                                    "is wrong)"))

    month = _int_field(info.get("expire_month"))
    year = _int_field(info.get("expire_year"))
    if info.get("expire_month") in (None, "") or info.get("expire_year") in (None, ""):
        problems.append(Problem("expiry", "expiry_missing",
                                "credit_card_info.expire_month and expire_year are required"))
    elif month is None or not 1 <= month <= 12:
        problems.append(Problem("expiry", "expiry_month",
                                "credit_card_info.expire_month must be a month, 1 to 12"))
    elif year is None or not 1000 <= year <= 9999:
        problems.append(Problem("expiry", "expiry_year",
                                "credit_card_info.expire_year must be a four-digit year"))
    elif (year, month) < (year_now, month_now):
        problems.append(Problem("expiry", "expired",
                                f"the card expired at the end of {month:02d}/{year}"))
    elif year > year_now + MAX_YEARS_AHEAD:
        problems.append(Problem("expiry", "expiry_year",
                                f"credit_card_info.expire_year {year} is too far ahead"))

    raw_cvv = info.get("cvv")
    cvv = str(raw_cvv).strip() if isinstance(raw_cvv, (str, int)) and not isinstance(
        raw_cvv, bool) else None
    wanted = CVV_LENGTH.get(brand or str(info.get("card_type") or "").lower(), 3)
    if raw_cvv in (None, ""):
        problems.append(Problem("cvv", "cvv_missing", "credit_card_info.cvv is required"))
    elif cvv is None or not cvv.isdigit() or not cvv.isascii() or len(cvv) != wanted:
        problems.append(Problem("cvv", "cvv_format" if wanted == 3 else "cvv_format_amex",
                                f"credit_card_info.cvv must be {wanted} digits"
                                + (" for American Express" if wanted == 4 else "")))

    names = {}
    for name in ("first_name", "last_name"):
        value = info.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            problems.append(Problem(name, f"{name}_missing",
                                    f"credit_card_info.{name} is required"))
        elif len(text) > NAME_MAX:
            problems.append(Problem(name, f"{name}_long",
                                    f"credit_card_info.{name} must be at most {NAME_MAX} "
                                    "characters"))
        names[name] = text

    card_type = info.get("card_type")
    if card_type in (None, ""):
        problems.append(Problem("card_type", "type_missing",
                                "credit_card_info.card_type is required"))
    elif not isinstance(card_type, str) or card_type.lower() not in BRANDS:
        problems.append(Problem("card_type", "type_unknown",
                                "credit_card_info.card_type must be visa, mastercard, discover "
                                "or amex"))
    elif brand is not None and card_type.lower() != brand:
        problems.append(Problem("card_type", "type_mismatch",
                                f"credit_card_info.card_type is {card_type.lower()} but the "
                                f"number is a {brand_name(brand)} number"))

    if problems:
        raise CardRefused(problems)
    return Card(number=number, cvv=cvv, brand=brand, exp_month=month, exp_year=year,
                first_name=names["first_name"], last_name=names["last_name"])
