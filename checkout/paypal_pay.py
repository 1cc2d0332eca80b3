"""PayPal in the hosted checkout (issue 5 item 2): pay an order by PayPal
redirect, by card, or by a card the buyer saved before.

The order's ``amount`` is an integer in the currency's minor unit, exactly as
the merchant signed it (seed 003 line 383's sign rule is unchanged); the
international API wants a decimal in the currency's own unit (seed 002 line
35). ``gateway_request`` converts it exactly once, with
``checkout.money.minor_to_wire``.

Cards are checked here with ``checkout.cards`` before the gateway sees them
(the same rules the gateway applies), so the shopper gets friendly, per-field
errors. Card numbers and CVVs pass through in memory only; what the checkout
keeps (``BuyerCard``) is brand, last four and expiry, to offer the card again
as "Visa •••• 4242" for the same ``buyer_id``.

Card-testing defence (``checkout.card_attempts``): a card is tried only while
the order, the shopper's IP and the merchant have room for another failure,
and every card that fails here (a broken card rule or a decline) is counted.
The checkout counts its own failures; the embedded gateway's in-process
call does not count them again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from . import card_attempts, cards, money, orders
from .channels import CHANNELS
from .clock import now_ms
from .db import db
from .gateway import GatewayError, GatewayUnavailable, get_gateway
from .models import BuyerCard, CheckoutOrder, Merchant
from .links import base_url

log = logging.getLogger(__name__)

PAYPAL_PAYPAL, PAYPAL_CREDITCARD, PAYPAL_SAVED_CREDITCARD = (
    "PAYPAL_PAYPAL", "PAYPAL_CREDITCARD", "PAYPAL_SAVED_CREDITCARD")
# The ones a shopper picks in the chooser; saved cards appear inside the card page.
CHOOSER_CHANNELS = (PAYPAL_PAYPAL, PAYPAL_CREDITCARD)


class PaymentProblem(Exception):
    """The payment did not go through; ``reason`` is a stable key the page
    turns into a sentence (``paypal_checkout.REASONS``), ``problems`` the card
    form's per-field problems when the card itself is wrong."""

    def __init__(self, reason: str, problems: list[cards.Problem] | None = None, *,
                 retry_minutes: int | None = None, retry_after: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.problems = problems or []
        # "too_many_attempts": when card payments open again, rounded up.
        self.retry_minutes = retry_minutes
        self.retry_after = retry_after


@dataclass(frozen=True)
class CardPayment:
    bill_id: str
    credit_card_id: str | None
    saved: bool


# --- what the chooser offers ----------------------------------------------------------

def accepts_currency(currency: str) -> bool:
    """PayPal takes seed 002's currencies only (CNY is not one of them)."""
    return currency in money.INTERNATIONAL_CURRENCIES


def offered_channels(merchant: Merchant, order: CheckoutOrder) -> list[str]:
    """The PayPal channels the merchant enabled, in the merchant's order, when
    the order's currency is one PayPal takes."""
    if not accepts_currency(order.currency):
        return []
    return [code for code in merchant.channels if code in CHOOSER_CHANNELS]


def saved_cards(merchant: Merchant, buyer_id: str | None, *,
                today: tuple[int, int] | None = None) -> list[BuyerCard]:
    """The buyer's unexpired saved cards, newest first (none without a buyer_id)."""
    if not buyer_id:
        return []
    year, month = today or cards._today()
    found = db.session.execute(
        db.select(BuyerCard).where(BuyerCard.app_id == merchant.app_id,
                                   BuyerCard.buyer_id == buyer_id)
        .order_by(BuyerCard.created_at.desc(), BuyerCard.id.desc())).scalars()
    return [card for card in found if (card.exp_year, card.exp_month) >= (year, month)]


def card_label(card: BuyerCard) -> str:
    return cards.masked(card.brand, card.last4)


# --- the gateway request ----------------------------------------------------------------

def return_url(order: CheckoutOrder) -> str:
    """Where PayPal sends the shopper back (seed 002 line 41: no ``?`` or
    ``&``; PayPal appends ``bill_no`` and ``result``). That page
    (``web/paypal_checkout.paypal_return``) reads only whether the shopper
    cancelled, to word the result page; the status comes from the gateway."""
    return f"{base_url()}/pay/{order.id}/paypal/return"


# ``result`` on PayPal's way back (seed 002 lines 94-100): BeeCloud spells cancel "cancle".
CANCELLED_RESULTS = frozenset({"cancle", "cancel"})


def shopper_cancelled(result: str | None) -> bool:
    """Whether PayPal's ``result`` says the shopper pressed Cancel."""
    return (result or "").strip().lower() in CANCELLED_RESULTS


def gateway_request(order: CheckoutOrder, channel: str, **fields) -> dict:
    """The international API's body for this order (without app_id,
    timestamp, app_sign, which the gateway adds)."""
    request = {"channel": channel,
               "total_fee": money.minor_to_wire(order.amount, order.currency),
               "currency": order.currency, "bill_no": order.bill_no,
               "title": orders.bill_title(order.title)}
    optional = orders.bill_optional(order)
    if optional:
        request["optional"] = optional
    if order.buyer_id:
        request["buyer_id"] = order.buyer_id
    request.update(fields)
    return request


def _create(merchant: Merchant, order: CheckoutOrder, channel: str, **fields) -> dict:
    try:
        answer = get_gateway().create_international_bill(
            merchant, gateway_request(order, channel, **fields))
    except GatewayUnavailable:
        raise PaymentProblem("unavailable") from None
    except GatewayError as error:
        # err_detail may name the bill or card rule, never the number or CVV.
        log.info("PayPal %s refused for order %s: %s %s", channel, order.id,
                 error.result_code, error.err_detail)
        if error.result_code == 7 and "DECLINED" in error.err_detail:
            raise PaymentProblem("declined") from None
        if error.result_code == 7 and "ORDERPAID" in error.err_detail:
            raise PaymentProblem("already_paid") from None
        if error.result_code == 5 and "currency" in error.err_detail:
            raise PaymentProblem("currency") from None
        raise PaymentProblem("refused") from None
    orders.remember_bill(order, channel, answer["id"])
    return answer


# --- PayPal redirect ------------------------------------------------------------------------

def start_paypal(merchant: Merchant, order: CheckoutOrder) -> str:
    """Open (or find again) the order's PAYPAL_PAYPAL bill; the URL of
    PayPal's approval page to send the shopper to."""
    if not accepts_currency(order.currency):
        raise PaymentProblem("currency")
    answer = _create(merchant, order, PAYPAL_PAYPAL, return_url=return_url(order))
    url = answer.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PaymentProblem("unavailable")
    return url


# --- cards --------------------------------------------------------------------------------

_EXPIRY = re.compile(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*")


def card_info_from_form(form: dict) -> dict:
    """The card form's fields (autocomplete cc-name, cc-number, cc-exp,
    cc-csc) as seed 002's ``credit_card_info``. The brand is read from the
    number, not asked; the name on the card splits at its last space into
    first and last name, as PayPal wants them."""
    name = " ".join(str(form.get("cc_name") or "").split())
    first, _, last = name.rpartition(" ")
    if not first:  # one word only: it is a first name with no last name
        first, last = last, ""
    number = str(form.get("cc_number") or "")
    match = _EXPIRY.fullmatch(str(form.get("cc_exp") or ""))
    month, year = ("", "")
    if match:
        month, year = match.group(1), match.group(2)
        if len(year) == 2:  # a card's "MM / YY": this century
            year = "20" + year
    elif form.get("cc_exp"):
        month, year = "0", "0"  # present but unreadable: "must be a month"
    return {"card_number": number, "expire_month": month, "expire_year": year,
            "cvv": str(form.get("cc_csc") or "").strip(), "first_name": first,
            "last_name": last, "card_type": cards.detect_brand(number) or "unknown"}


def check_card_form(form: dict, *, today: tuple[int, int] | None = None) -> cards.Card:
    """The card form against ``checkout.cards``; ``PaymentProblem("card", …)``
    with every problem when it fails. A number of no known brand reports the
    number, not the (hidden) card type."""
    try:
        return cards.check_card(card_info_from_form(form), today=today)
    except cards.CardRefused as refused:
        problems = [p for p in refused.problems if p.field != "card_type"]
        raise PaymentProblem("card", problems or refused.problems) from None


def _attempt(merchant: Merchant, order: CheckoutOrder,
             client_ip: str | None) -> card_attempts.Attempt:
    return card_attempts.Attempt(app_id=merchant.app_id, bill_no=order.bill_no,
                                 client_ip=client_ip)


def check_card_attempts(merchant: Merchant, order: CheckoutOrder,
                        client_ip: str | None) -> None:
    """``PaymentProblem("too_many_attempts")`` when no card may be tried for
    this order from this IP now."""
    try:
        card_attempts.current().check(_attempt(merchant, order, client_ip))
    except card_attempts.TooManyAttempts as full:
        raise PaymentProblem("too_many_attempts", retry_minutes=full.minutes,
                             retry_after=full.retry_after) from None


def pay_by_card(merchant: Merchant, order: CheckoutOrder, form: dict, *,
                save: bool = False, client_ip: str | None = None) -> CardPayment:
    """Charge the card of the form; keep it for the buyer when asked (and
    the order has a buyer_id). ``client_ip``: the shopper's, for the
    card-testing limits."""
    if not accepts_currency(order.currency):
        raise PaymentProblem("currency")
    check_card_attempts(merchant, order, client_ip)
    try:
        card = check_card_form(form)
        info = {"card_number": card.number, "expire_month": card.exp_month,
                "expire_year": card.exp_year, "cvv": card.cvv, "first_name": card.first_name,
                "last_name": card.last_name, "card_type": card.brand}
        answer = _create(merchant, order, PAYPAL_CREDITCARD, credit_card_info=info)
    except PaymentProblem as problem:
        if problem.reason == "declined" or (
                problem.reason == "card" and card_attempts.tried(p.code for p in problem.problems)):
            card_attempts.current().record_failure(_attempt(merchant, order, client_ip))
            # The failure that fills a limit says so now, rather than after
            # the shopper has typed another card in vain.
            check_card_attempts(merchant, order, client_ip)
        raise
    card_id = answer.get("credit_card_id")
    saved = False
    if save and order.buyer_id and isinstance(card_id, str) and card_id:
        db.session.add(BuyerCard(app_id=merchant.app_id, buyer_id=order.buyer_id,
                                 credit_card_id=card_id, brand=card.brand, last4=card.last4,
                                 exp_month=card.exp_month, exp_year=card.exp_year,
                                 created_at=now_ms()))
        try:
            db.session.commit()
            saved = True
        except IntegrityError:  # the same id saved already (a repeated answer)
            db.session.rollback()
    return CardPayment(bill_id=answer["id"], credit_card_id=card_id, saved=saved)


def buyer_card(merchant: Merchant, order: CheckoutOrder, card_id: object) -> BuyerCard | None:
    """The order's buyer's own saved card with this id, or None: a card of
    another buyer or app is as unknown as a made-up one."""
    if not order.buyer_id or not isinstance(card_id, (str, int)) or not str(card_id).isdigit():
        return None
    card = db.session.get(BuyerCard, int(card_id))
    if card is None or card.app_id != merchant.app_id or card.buyer_id != order.buyer_id:
        return None
    return card


def pay_by_saved_card(merchant: Merchant, order: CheckoutOrder, card_id: object) -> CardPayment:
    """Pay in one tap with a card the order's buyer saved."""
    if not accepts_currency(order.currency):
        raise PaymentProblem("currency")
    card = buyer_card(merchant, order, card_id)
    if card is None:
        raise PaymentProblem("unknown_card")
    answer = _create(merchant, order, PAYPAL_SAVED_CREDITCARD,
                     credit_card_id=card.credit_card_id)
    return CardPayment(bill_id=answer["id"], credit_card_id=card.credit_card_id, saved=True)


def is_paypal_channel(code: str) -> bool:
    channel = CHANNELS.get(code)
    return channel is not None and channel.family == "PAYPAL"
