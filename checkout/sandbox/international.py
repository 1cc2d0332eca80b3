"""International bills in the embedded gateway: ``POST /1/rest/international/bill``
(seed 002 section 2), served by a simulated PayPal.

- PAYPAL_PAYPAL answers ``url``: our SANDBOX-marked PayPal approval page
  (``checkout.web.paypal_sim``). Approving pays the bill; either way the
  shopper goes back to ``return_url`` with ``bill_no`` and ``result``
  (seed 002 lines 94-100).
- PAYPAL_CREDITCARD checks ``credit_card_info`` with ``checkout.cards``,
  charges it at once (a direct card payment needs no shopper hand-off), keeps
  a ``SavedCard`` (brand, last four, expiry, holder; never number or CVV) and
  answers its ``credit_card_id`` (seed 002 line 114).
- PAYPAL_SAVED_CREDITCARD pays with a ``credit_card_id`` of the same app.

Amounts: ``total_fee`` on the wire is a decimal in the currency's own unit
("正数，最多两位小数", seed 002 line 35); inside, the bill stores minor units
(``checkout.money.decimal_to_minor``, exact, refusing what would need
rounding — so JPY/HUF/TWD refuse any fraction).

Sandbox test cards, like PayPal's and Stripe's sandboxes: a valid card whose
number is in ``DECLINED_TEST_CARDS`` is declined by the "bank" (result code 7),
so shoppers' decline handling can be tried.

Card-testing defence (``checkout.card_attempts``): when the API view passes
``attempts``, a PAYPAL_CREDITCARD call is refused while the bill_no, the
shopper's IP or the app has no room for another failed card, and each card
that breaks a rule or is declined is counted. The refusal is seed 002's
error shape with result code 7 CHANNEL_ERROR and an ``err_detail`` starting
``TOO_MANY_CARD_ATTEMPTS:`` that says when to try again — 7 because the
request itself is valid (5 PARAM_INVALID would send the merchant looking for
a wrong field) and it is the payment side refusing, like ``CARD_DECLINED``;
never 14, which means our own fault. The checkout's in-process calls pass no
``attempts``: the checkout counts its own shoppers' failures.
"""

from __future__ import annotations

import logging
import secrets
import uuid

from sqlalchemy.exc import IntegrityError

from .. import card_attempts, cards
from .. import channels as catalogue
from .. import money
from ..clock import now_ms
from ..db import db
from ..models import Bill, Merchant, SavedCard
from . import bills
from .bills import (CHANNEL_ERROR, CHANNEL_INVALID, MISS_PARAM, OK, PARAM_INVALID, Refused,
                    answer)
from ..links import base_url

log = logging.getLogger(__name__)

PAYPAL_PAYPAL, PAYPAL_CREDITCARD, PAYPAL_SAVED_CREDITCARD = (
    "PAYPAL_PAYPAL", "PAYPAL_CREDITCARD", "PAYPAL_SAVED_CREDITCARD")

# Seed 002 line 100: "订单状态 approved/cancle..，只有approved为支付成功". The
# cancel value is spelled as the document spells it; merchants test only for
# ``approved``.
RESULT_APPROVED = "approved"
RESULT_CANCELLED = "cancle"

# The numbers PayPal's sandbox documents for declines; they pass every card rule.
DECLINED_TEST_CARDS = frozenset({"4000000000000002", "5105105105105100"})


def paypal_url(bill: Bill) -> str:
    """The simulated PayPal approval page for a PAYPAL_PAYPAL bill."""
    return f"{base_url()}/sandbox/paypal/{bill.cashier_token}"


def return_url_for(bill: Bill, result: str) -> str | None:
    """Where PayPal sends the shopper back: seed 002 lines 94-100. The
    merchant's ``return_url`` has no query (line 41), so ``?`` starts ours."""
    if not bill.return_url:
        return None
    from urllib.parse import urlencode

    return f"{bill.return_url}?{urlencode({'bill_no': bill.bill_no, 'result': result})}"


# --- request checks -----------------------------------------------------------------

def check_channel(fields: dict) -> catalogue.Channel:
    if fields.get("channel") in (None, ""):
        raise Refused(MISS_PARAM, "channel is required")
    code = fields["channel"]
    channel = catalogue.get(code)
    if channel is None or channel.family != "PAYPAL":
        raise Refused(CHANNEL_INVALID, f"channel {bills._shown(code)} is not served by "
                                       "/1/rest/international/bill; use PAYPAL_PAYPAL, "
                                       "PAYPAL_CREDITCARD or PAYPAL_SAVED_CREDITCARD")
    return channel


def check_currency(fields: dict) -> str:
    """Seed 002 line 36 and lines 57-84: a code from the document's list."""
    value = fields.get("currency")
    if value in (None, ""):
        raise Refused(MISS_PARAM, "currency is required")
    if not isinstance(value, str) or value not in money.INTERNATIONAL_CURRENCIES:
        raise Refused(PARAM_INVALID, f"currency {bills._shown(value)} is not supported; use one "
                                     "of " + ", ".join(sorted(money.INTERNATIONAL_CURRENCIES)))
    return value


def check_total_fee(fields: dict, currency: str) -> int:
    """Seed 002 line 35: a positive number with at most two decimals; none at
    all for zero-decimal currencies. Answers minor units."""
    value = fields.get("total_fee")
    if value in (None, ""):
        raise Refused(MISS_PARAM, "total_fee is required")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Refused(PARAM_INVALID, "total_fee must be a number")
    try:
        minor = money.decimal_to_minor(value, currency)
    except money.MoneyError:
        places = money.exponent(currency)
        raise Refused(PARAM_INVALID,
                      f"total_fee {bills._shown(value)} is not a valid {currency} amount: "
                      + ("a whole number, {currency} has no fractional unit".format(
                          currency=currency) if places == 0
                         else f"a number with at most {places} decimal places")) from None
    if minor <= 0:
        raise Refused(PARAM_INVALID, "total_fee must be positive")
    if minor > bills.MAX_FEE:
        raise Refused(PARAM_INVALID, "total_fee is too large")
    return minor


def _common(fields: dict, currency: str, total_fee: int) -> dict:
    """bill_no, title and the shared optional fields, checked by the bill
    service's own rules (seed 002 lines 37-38 say what seed 001 says)."""
    common = bills.check_common({**fields, "total_fee": total_fee})
    if common["coupon_id"] is not None:
        raise Refused(PARAM_INVALID, "coupon_id is not accepted by the international API: "
                                     "coupons are in CNY fen")
    common["currency"] = currency
    return common


# --- bills ------------------------------------------------------------------------------

def _open(merchant: Merchant, common: dict, channel: catalogue.Channel, *, test_mode: bool,
          return_url: str | None, params: dict) -> Bill:
    """Find or create the bill for (app, mode, bill_no, channel) under the
    bill service's "one order, one payment" rule, plus one of ours: the same
    bill_no cannot be used in two currencies. Race-safe like
    ``bills.open_bill`` (the unique constraint decides)."""
    for _attempt in range(2):
        # The bill service's per-bill_no lock, so the currency and fee rules
        # hold across channels under races too; it ends with the transaction.
        bills._lock_bill_no(merchant.app_id, test_mode, common["bill_no"])
        existing = bills._bills_for(merchant.app_id, test_mode, common["bill_no"])
        try:
            for bill in existing:
                if bill.currency != common["currency"]:
                    raise Refused(PARAM_INVALID, f"bill_no {bill.bill_no} is already used "
                                                 f"with currency {bill.currency}")
            found = bills._same_order_check(existing, common["total_fee"], common["title"],
                                            channel.code, now_ms())
        except Refused:
            db.session.commit()  # nothing written; ends the lock's transaction at once
            raise
        if found is not None:
            db.session.commit()  # nothing written; ends the lock's transaction
            return found
        now = now_ms()
        bill = Bill(
            id=str(uuid.uuid4()), app_id=merchant.app_id, test_mode=test_mode,
            bill_no=common["bill_no"], channel=channel.code, title=common["title"],
            bill_fee=common["total_fee"], discount=0, total_fee=common["total_fee"],
            coupon_id=None, buyer_id=common["buyer_id"], currency=common["currency"],
            optional=common["optional"], analysis=common["analysis"],
            return_url=return_url, notify_url=common["notify_url"],
            bill_timeout=None, expires_at=None, channel_params={**common["extra"], **params},
            status=Bill.OPEN, cashier_token=secrets.token_urlsafe(24), create_time=now,
            refund_result=False, revert_result=False)
        db.session.add(bill)
        try:
            db.session.commit()
            return bill
        except IntegrityError:
            db.session.rollback()
    raise Refused(14, "the bill could not be created; try again")  # pragma: no cover


def _settlement():
    # Helper "cashier"'s module: the one place a bill becomes PAID (first paid
    # wins, other OPEN bills of the order closed, webhook queued).
    from . import settlement

    return settlement


def _trade_no() -> str:
    # Shaped like a PayPal sale id.
    return "PAY-" + secrets.token_hex(12).upper()


class CardDeclined(Refused):
    """The simulated bank declined the card (a failed card attempt)."""


# What a refusal for too many failed card attempts names, per limit.
_LIMITED = {card_attempts.ORDER: "for this bill_no",
            card_attempts.IP: "from this shopper's IP address",
            card_attempts.MERCHANT: "for this app"}


def _too_many(full: card_attempts.TooManyAttempts) -> Refused:
    minutes = full.minutes
    return Refused(CHANNEL_ERROR,
                   f"TOO_MANY_CARD_ATTEMPTS: too many failed card attempts {_LIMITED[full.scope]} "
                   f"(at most {full.limit.amount} in {_window(full.limit)}); try again in "
                   f"{minutes} minute{'s' if minutes != 1 else ''}; nothing was charged")


def _window(item) -> str:
    seconds = item.get_expiry()
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


def _charge(bill: Bill, card_brand: str, last4: str, number: str | None = None) -> None:
    """The simulated card charge: declined test cards fail the bill (result
    code 7); others pay it. Raises ``Refused`` when the bill is not paid."""
    settlement = _settlement()
    if number is not None and number in DECLINED_TEST_CARDS:
        settlement.mark_failed(bill)
        raise CardDeclined(CHANNEL_ERROR, f"CARD_DECLINED: the {cards.brand_name(card_brand)} "
                                          f"card ending {last4} was declined by its bank")
    if not settlement.mark_paid(bill, trade_no=_trade_no()):
        db.session.refresh(bill)
        raise Refused(CHANNEL_ERROR, f"ORDERPAID: bill_no {bill.bill_no} has already been paid"
                      if bill.status == Bill.PAID else
                      f"ORDERCLOSED: bill_no {bill.bill_no} can no longer be paid")


def _pay_by_card(merchant: Merchant, fields: dict, common: dict, channel: catalogue.Channel,
                 test_mode: bool, attempts: card_attempts.CardAttempts | None,
                 client_ip: str | None) -> dict:
    if fields.get("credit_card_info") in (None, ""):
        raise Refused(MISS_PARAM, "credit_card_info is required for PAYPAL_CREDITCARD")
    attempt = card_attempts.Attempt(
        app_id=merchant.app_id, bill_no=common["bill_no"],
        client_ip=card_attempts.shopper_ip(common["analysis"], client_ip))
    if attempts is not None:
        try:
            attempts.check(attempt)
        except card_attempts.TooManyAttempts as full:
            raise _too_many(full) from None
    try:
        card = cards.check_card(fields["credit_card_info"])
    except cards.CardRefused as refused:
        if attempts is not None and card_attempts.tried(p.code for p in refused.problems):
            attempts.record_failure(attempt)
        raise Refused(PARAM_INVALID, refused.err_detail) from None
    bill = _open(merchant, common, channel, test_mode=test_mode, return_url=None,
                 params={"brand": card.brand, "last4": card.last4})
    try:
        _charge(bill, card.brand, card.last4, card.number)
    except CardDeclined:
        if attempts is not None:
            attempts.record_failure(attempt)
        raise
    saved = SavedCard(id="CARD_" + secrets.token_hex(10).upper(), app_id=merchant.app_id,
                      buyer_id=common["buyer_id"], brand=card.brand, last4=card.last4,
                      exp_month=card.exp_month, exp_year=card.exp_year,
                      holder_name=card.holder_name[:130], created_at=now_ms())
    db.session.add(saved)
    db.session.commit()
    log.info("international bill %s paid by %r; saved as %s", bill.id, card, saved.id)
    return answer(OK, id=bill.id, credit_card_id=saved.id)


def saved_card(merchant: Merchant, credit_card_id: object) -> SavedCard | None:
    """The app's own saved card with this id, or None (another app's card
    is as unknown as a made-up id)."""
    if not isinstance(credit_card_id, str) or not 0 < len(credit_card_id) <= 40:
        return None
    card = db.session.get(SavedCard, credit_card_id)
    return card if card is not None and card.app_id == merchant.app_id else None


def _pay_by_saved_card(merchant: Merchant, fields: dict, common: dict,
                       channel: catalogue.Channel, test_mode: bool) -> dict:
    card_id = fields.get("credit_card_id")
    if card_id in (None, ""):
        raise Refused(MISS_PARAM, "credit_card_id is required for PAYPAL_SAVED_CREDITCARD")
    card = saved_card(merchant, card_id)
    if card is None:
        raise Refused(PARAM_INVALID, f"credit_card_id {bills._shown(card_id)} is not a card "
                                     "saved by this app")
    if card.buyer_id and common["buyer_id"] and card.buyer_id != common["buyer_id"]:
        # Our extension: a card saved for one buyer does not pay for another.
        raise Refused(PARAM_INVALID, f"credit_card_id {card_id} belongs to another buyer_id")
    year, month = cards._today()
    if (card.exp_year, card.exp_month) < (year, month):
        raise Refused(PARAM_INVALID, f"the card {card_id} expired at the end of "
                                     f"{card.exp_month:02d}/{card.exp_year}")
    bill = _open(merchant, common, channel, test_mode=test_mode, return_url=None,
                 params={"credit_card_id": card.id, "brand": card.brand, "last4": card.last4})
    _charge(bill, card.brand, card.last4)
    return answer(OK, id=bill.id)


def create_international_bill(merchant: Merchant, request: dict, *,
                              test_mode: bool = False,
                              attempts: card_attempts.CardAttempts | None = None,
                              client_ip: str | None = None) -> dict:
    """``POST /1/rest/international/bill`` for an authenticated merchant: the
    exact answer map of seed 002 (``id``, plus ``url`` or ``credit_card_id``).
    ``attempts``: limit failed PAYPAL_CREDITCARD cards (the API view passes
    them, with ``client_ip``, the caller's address, counted when the body has
    no ``analysis.ip``)."""
    if not isinstance(request, dict):
        return answer(PARAM_INVALID, "the request must be a JSON object")
    try:
        channel = check_channel(request)
        for name in ("total_fee", "currency", "bill_no", "title"):
            bills._require(request, name)
        currency = check_currency(request)
        common = _common(request, currency, check_total_fee(request, currency))
        if not test_mode:
            from . import live_channels

            live_channels.connector_for(merchant.app_id, channel.code)  # PayPal: 2 until its own
        if channel.code == PAYPAL_CREDITCARD:
            return _pay_by_card(merchant, request, common, channel, test_mode, attempts,
                                client_ip)
        if channel.code == PAYPAL_SAVED_CREDITCARD:
            return _pay_by_saved_card(merchant, request, common, channel, test_mode)
        bills._require(request, "return_url", " for PAYPAL_PAYPAL")
        return_url = bills._http_url(request, "return_url", query_allowed=False)
        if "&" in return_url:
            raise Refused(PARAM_INVALID, "return_url must not contain '?' or '&'")
        bill = _open(merchant, common, channel, test_mode=test_mode, return_url=return_url,
                     params={})
        if bill.status != Bill.OPEN:
            raise Refused(CHANNEL_ERROR, f"bill_no {bill.bill_no} can no longer be paid")
        return answer(OK, id=bill.id, url=paypal_url(bill))
    except Refused as refused:
        return refused.answer()


# --- the simulated PayPal (``checkout.web.paypal_sim``) ----------------------------

def bill_for_approval(token: str) -> Bill | None:
    """The PAYPAL_PAYPAL bill behind an approval page's token."""
    if not isinstance(token, str) or not 0 < len(token) <= 64:
        return None
    bill = db.session.execute(db.select(Bill).where(Bill.cashier_token == token)).scalar_one_or_none()
    return bill if bill is not None and bill.channel == PAYPAL_PAYPAL else None


def approve(bill: Bill) -> str | None:
    """The buyer approved on PayPal: pay the bill (first paid wins) and say
    where the buyer goes. ``result=approved`` only if this bill is now paid."""
    paid = _settlement().mark_paid(bill, trade_no=_trade_no())
    if not paid:  # a second click, or another channel paid first
        db.session.refresh(bill)
        paid = bill.status == Bill.PAID and bill.channel == PAYPAL_PAYPAL
    return return_url_for(bill, RESULT_APPROVED if paid else RESULT_CANCELLED)


def cancel(bill: Bill) -> str | None:
    """The buyer cancelled on PayPal: the bill stays OPEN (they may try again
    or choose another way to pay) and goes back with the cancel value."""
    return return_url_for(bill, RESULT_CANCELLED)
