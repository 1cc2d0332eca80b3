"""Refunds in the embedded gateway: the write side (seed 001 §3, §4; seed 000 §6).

- ``create_refund`` (``POST /2/rest/refund``, ``/2/rest/sandbox/refund``): a
  direct refund or, with ``need_approval``, a pre-refund that waits for
  ``review_refunds``.
- ``review_refunds`` (``PUT /2/rest/refund``): approve or deny a batch of
  pre-refunds; each id gets its own outcome in ``result_map``.
- ``offline_refund`` (``POST /2/rest/offline/refund``): the same for the
  offline API's bills (WX_NATIVE, ALI_OFFLINE_QRCODE, WX_SCAN, ALI_SCAN).
- ``settle_due``: the worker's job (``checkout.sandbox.jobs``) completing
  refunds to channels whose real refunds finish later.

The partial-refund rule. Seed 001 §3 says a bill can be refunded
successfully only once; seed 003, seed 001's own "如果是小于，则表示部分退款"
and the SDKs allow partial refunds. We allow SEVERAL partial refunds of one
bill, as long as together they never exceed what the shopper actually paid
(``total_fee``: after a coupon, not ``bill_fee``), with at most ONE refund in
flight at a time (a pre-refund awaiting approval or a refund the channel has
not finished): another answers 11 ALREADY_REFUNDING.

Race safety: ONE conditional UPDATE on the bill reserves a refund's amount,

    UPDATE bills SET refunding_fee = :fee
     WHERE id = :id AND status = 'PAID' AND refunding_fee = 0
       AND refunded_fee + :fee <= total_fee

and whoever's UPDATE matches has the reservation; the refund's row is written
in the same transaction. Success moves ``refunding_fee`` into
``refunded_fee`` (and sets ``refund_result``) in the transaction that marks
the refund SUCCESS and queues its REFUND webhook (transactional outbox);
denial or failure gives it back. Every status change is a conditional
UPDATE on the refund's current status, so any number of requests and
workers may race.

Settlement. Channels whose real refunds report later by query and send no
callback (seed 001 §9: WX, YEE, KUAIQIAN, BD) stay PROCESSING for
``REFUND_SETTLE_SECONDS`` and are completed by ``settle_due``; every other
channel's refund completes in the request itself. Live mode is simulated the
same way until the channel connectors exist. A refund whose bill is no
longer paid when it completes (an offline bill reverted meanwhile) FAILS.

refund_no (seed 001 §3): today's date in China time (yyyyMMdd, Asia/Shanghai,
the channels' business day) + 3 to 24 ASCII letters/digits, the serial never
"000"; unique per app and mode, except that the number of a DENIED refund may
be submitted again: that request takes the denied record's place (a new id;
the denied one is gone), since the table holds one row per refund_no.

Refund window: ``REFUND_WINDOW_DAYS`` after the payment, per channel family
``REFUND_WINDOW_DAYS_BY_FAMILY`` (``checkout.config``); 10 REFUND_EXCEED_TIME
after it.

Every function answers the exact BeeCloud map; nothing here reads
``flask.request``.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .. import channels as catalogue
from .. import money
from ..clock import now_ms as clock_now_ms
from ..db import db
from ..models import Bill, Merchant, Refund
from . import bills, live_channels
from .bills import (CHANNEL_INVALID, MISS_PARAM, NO_SUCH_BILL, OK, PARAM_INVALID, RESULT_MSG,
                    Refused, answer)

log = logging.getLogger(__name__)

BILL_UNSUCCESS, REFUND_EXCEED_TIME, ALREADY_REFUNDING = 9, 10, 11
REFUND_AMOUNT_TOO_LARGE, NO_SUCH_REFUND = 12, 13

CHINA = ZoneInfo("Asia/Shanghai")
DAY_MS = 24 * 3600 * 1000
# Seed 001 §3: date (8) + serial (3-24 letters/digits). ASCII classes, not
# \d or \w, which would also pass "٣" or "中".
REFUND_NO = re.compile(r"([0-9]{8})([0-9A-Za-z]{3,24})")
# Seed 001 §9: channels that send no refund callback; their refunds finish later.
ASYNC_FAMILIES = frozenset({"WX", "YEE", "KUAIQIAN", "BD"})
# Seed 001 line 276: direct refunds of these answer Alipay's refund page.
ALIPAY_URL_CHANNELS = ("ALI_APP", "ALI_WEB", "ALI_QRCODE")
# Seed 000 §6: the offline API's bills; its channel is "ALI" or "WX".
OFFLINE_CHANNELS = ("WX_NATIVE", "ALI_OFFLINE_QRCODE", "WX_SCAN", "ALI_SCAN")
OFFLINE_FAMILIES = ("ALI", "WX")
# Our own guards, not BeeCloud's.
MAX_BATCH = 100           # ids in one review
MAX_REASON = 256          # deny_reason, refund_reason (characters)
# A live bill's refund whose provider answer never came is asked about again after this.
LIVE_REFUND_CHECK_MS = 60_000
SETTLE_BATCH = 200        # refunds one settle_due pass completes at most


def _now(now: int | None) -> int:
    return clock_now_ms() if now is None else now


def china_day(now: int) -> str:
    """The business day (yyyyMMdd) in China time at ``now`` ms."""
    return datetime.fromtimestamp(now / 1000, CHINA).strftime("%Y%m%d")


def _family(code: str) -> str:
    channel = catalogue.CHANNELS.get(code)
    return channel.family if channel else code.split("_")[0]


def _result_text(code: int, detail: str) -> str:
    return f"{RESULT_MSG[code]}: {detail}"


# --- the request's fields ------------------------------------------------------------

def check_refund_no(fields: dict, now: int) -> str:
    bills._require(fields, "refund_no")
    value = fields["refund_no"]
    if not isinstance(value, str) or not REFUND_NO.fullmatch(value):
        raise Refused(PARAM_INVALID, "refund_no must be the refund date (yyyyMMdd) followed by "
                                     "3 to 24 letters and/or digits (ASCII)")
    day, serial = REFUND_NO.fullmatch(value).groups()
    if serial == "000":
        raise Refused(PARAM_INVALID, "refund_no's serial (after the date) must not be 000")
    today = china_day(now)
    if day != today:
        raise Refused(PARAM_INVALID, f"refund_no must start with today's date in China time, "
                                     f"{today}, not {day}")
    return value


def _refund_fee(fields: dict) -> int:
    bills._require(fields, "refund_fee")
    return bills._positive_int(fields, "refund_fee", bills.MAX_FEE)


def _bill_no(fields: dict) -> str:
    bills._require(fields, "bill_no")
    value = fields["bill_no"]
    if not isinstance(value, str) or not bills.BILL_NO.fullmatch(value):
        raise Refused(PARAM_INVALID, "bill_no must be 8 to 32 letters and/or digits")
    return value


def _channel_codes(fields: dict, *, required: bool, allowed_families=None) -> tuple[str, ...] | None:
    """The sub channels a ``channel`` field names (a family such as WX, or one
    sub channel); None when it is optional and absent."""
    if required:
        bills._require(fields, "channel")
    value = fields.get("channel")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Refused(CHANNEL_INVALID, "channel must be a string")
    if value in catalogue.FAMILIES:
        family = value
        codes = tuple(code for code, channel in catalogue.CHANNELS.items()
                      if channel.family == value)
    elif value in catalogue.CHANNELS:
        family, codes = catalogue.CHANNELS[value].family, (value,)
    else:
        raise Refused(CHANNEL_INVALID, f"channel {bills._shown(value)} is not a known channel "
                                       "or channel family")
    if allowed_families is not None and family not in allowed_families:
        raise Refused(CHANNEL_INVALID, f"channel must be one of {', '.join(allowed_families)}")
    return codes


def _reason(fields: dict, name: str) -> str | None:
    return bills._string(fields, name, max_len=MAX_REASON)


# --- finding the bill -------------------------------------------------------------------

def _paid_bill(merchant: Merchant, bill_no: str, codes: tuple[str, ...] | None, *,
               test_mode: bool, offline: bool) -> Bill:
    """The paid bill of ``bill_no`` (one at most: the first paid wins), or
    8 NO_SUCH_BILL / 9 BILL_UNSUCCESS / 3 for a channel refunded elsewhere."""
    found = bills._bills_for(merchant.app_id, test_mode, bill_no)
    if offline:
        found = [bill for bill in found if bill.channel in OFFLINE_CHANNELS]
    if codes is not None:
        found = [bill for bill in found if bill.channel in codes]
    if not found:
        where = "" if codes is None else f" in channel {'/'.join(sorted({_family(c) for c in codes}))}"
        kind = " offline" if offline else ""
        mode = " in test mode" if test_mode else ""
        raise Refused(NO_SUCH_BILL, f"no{kind} bill with bill_no {bill_no}{where}{mode}")
    paid = next((bill for bill in found if bill.status == Bill.PAID), None)
    if paid is None:
        if any(bill.status == Bill.REVERTED for bill in found):
            raise Refused(BILL_UNSUCCESS, f"bill_no {bill_no} was reverted; nothing to refund")
        raise Refused(BILL_UNSUCCESS, f"bill_no {bill_no} has not been paid")
    channel = catalogue.CHANNELS.get(paid.channel)
    if channel is not None and channel.family == "PAYPAL":
        raise Refused(CHANNEL_INVALID, "PayPal bills are not refunded through this API "
                                       "(seed 002: international refunds are not offered)")
    if not offline and channel is not None and channel.offline:
        raise Refused(CHANNEL_INVALID, f"{paid.channel} bills are refunded through "
                                       "/2/rest/offline/refund")
    return paid


def window_days(family: str) -> int:
    by_family = current_app.config.get("REFUND_WINDOW_DAYS_BY_FAMILY") or {}
    if isinstance(by_family, str):
        from ..config import family_days
        by_family = family_days(by_family)
    return int(by_family.get(family, current_app.config.get("REFUND_WINDOW_DAYS", 365)))


def _check_window(bill: Bill, now: int) -> None:
    family = _family(bill.channel)
    days = window_days(family)
    paid_at = bill.pay_time or bill.create_time
    if now > paid_at + days * DAY_MS:
        paid_day = datetime.fromtimestamp(paid_at / 1000, CHINA).strftime("%Y-%m-%d")
        raise Refused(REFUND_EXCEED_TIME, f"{family} bills can be refunded for {days} days after "
                                          f"payment; bill_no {bill.bill_no} was paid on "
                                          f"{paid_day} (China time)")


def _explain_unreserved(bill_id: str, fee: int) -> Refused:
    """Why the reservation UPDATE matched nothing, read afterwards."""
    bill = db.session.get(Bill, bill_id)
    db.session.refresh(bill)
    if bill.status != Bill.PAID:
        return Refused(BILL_UNSUCCESS, f"bill_no {bill.bill_no} is no longer paid")
    if bill.refunding_fee:
        return Refused(ALREADY_REFUNDING, f"bill_no {bill.bill_no} has a refund in progress "
                                          f"({bill.refunding_fee} fen); wait until it is "
                                          "finished, approved or denied")
    left = bill.total_fee - bill.refunded_fee
    return Refused(REFUND_AMOUNT_TOO_LARGE,
                   f"refund_fee {fee} is more than the {left} fen left to refund of bill_no "
                   f"{bill.bill_no} (paid {bill.total_fee}, refunded {bill.refunded_fee})")


# --- creating a refund --------------------------------------------------------------------

def _start(merchant: Merchant, bill: Bill, *, refund_no: str, fee: int, optional: dict | None,
           need_approval: bool, detail: dict | None, test_mode: bool, now: int) -> Refund:
    """Reserve ``fee`` of ``bill`` and write the refund, in one transaction;
    a direct refund to a synchronous channel completes in it too."""
    bill_id, bill_no, channel = bill.id, bill.bill_no, bill.channel
    existing = db.session.execute(db.select(Refund).where(
        Refund.app_id == merchant.app_id, Refund.test_mode == test_mode,
        Refund.refund_no == refund_no)).scalar_one_or_none()
    if existing is not None and existing.status != Refund.DENIED:
        raise Refused(PARAM_INVALID, f"refund_no {refund_no} has already been used; a refund "
                                     "number may be submitted again only after its refund "
                                     "was denied")
    denied_id = existing.id if existing is not None else None
    # End any read transaction: the writes below begin with the reservation,
    # which on SQLite takes the write lock (busy-waiting, never failing).
    db.session.commit()

    reserved = db.session.execute(
        update(Bill)
        .where(Bill.id == bill_id, Bill.status == Bill.PAID, Bill.refunding_fee == 0,
               Bill.refunded_fee + fee <= Bill.total_fee)
        .values(refunding_fee=fee)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not reserved:
        refused = _explain_unreserved(bill_id, fee)
        db.session.commit()
        raise refused
    refund_id = str(uuid.uuid4())
    values = dict(
        id=refund_id, app_id=merchant.app_id, test_mode=test_mode, bill_id=bill_id,
        bill_no=bill_no, channel=channel, refund_no=refund_no, refund_fee=fee,
        optional=optional, need_approval=need_approval,
        status=Refund.PENDING_APPROVAL if need_approval else Refund.PROCESSING,
        deny_reason=None, message_detail=detail, create_time=now,
        settle_at=None if need_approval else _settle_at(channel, now, bill), finish_time=None)
    try:
        if denied_id is not None:
            # Take the denied record's place (one row per refund_no).
            written = db.session.execute(
                update(Refund).where(Refund.id == denied_id, Refund.status == Refund.DENIED)
                .values(**values).execution_options(synchronize_session=False)).rowcount == 1
        else:
            db.session.add(Refund(**values))
            db.session.flush()
            written = True
    except IntegrityError:  # the same refund_no, written by another request meanwhile
        written = False
    if not written:
        db.session.rollback()  # also gives the reservation back
        raise Refused(PARAM_INVALID, f"refund_no {refund_no} has already been used")
    if not need_approval and values["settle_at"] == now:
        _complete(refund_id, now)
    db.session.commit()
    if not need_approval and live_channels.is_live_bill(bill):
        _send_to_provider(refund_id, bill, now)
    return db.session.get(Refund, refund_id)


def _settle_at(channel: str, now: int, bill: Bill | None = None) -> int:
    """When a refund sent now completes: at once, or after the simulated delay
    of channels whose real refunds finish later (seed 001 §9). A live bill's
    refund is sent to its provider after this transaction; the worker asks
    the provider at this moment only if that answer never came."""
    if bill is not None and live_channels.is_live_bill(bill):
        return now + LIVE_REFUND_CHECK_MS
    if _family(channel) in ASYNC_FAMILIES:
        return now + round(float(current_app.config.get("REFUND_SETTLE_SECONDS", 5.0)) * 1000)
    return now


def _common_refund_fields(merchant: Merchant, fields: dict, *, test_mode: bool, offline: bool,
                          now: int) -> tuple[Bill, dict]:
    if not isinstance(fields, dict):
        raise Refused(PARAM_INVALID, "the request must be a JSON object")
    codes = _channel_codes(fields, required=False,
                           allowed_families=OFFLINE_FAMILIES if offline else None)
    refund_no = check_refund_no(fields, now)
    bill_no = _bill_no(fields)
    fee = _refund_fee(fields)
    optional = bills._flat_map(fields, "optional")
    bill = _paid_bill(merchant, bill_no, codes, test_mode=test_mode, offline=offline)
    _check_window(bill, now)
    return bill, {"refund_no": refund_no, "fee": fee, "optional": optional}


def create_refund(merchant: Merchant, fields: dict, *, test_mode: bool,
                  now: int | None = None) -> dict:
    """``POST /2/rest/refund``: ``{"id": …}`` (and ``url`` for a direct
    refund of ALI_APP / ALI_WEB / ALI_QRCODE: seed 001 line 276)."""
    now = _now(now)
    try:
        need_approval = bool(bills._bool(fields, "need_approval")) \
            if isinstance(fields, dict) else False
        bill, request = _common_refund_fields(merchant, fields, test_mode=test_mode,
                                              offline=False, now=now)
        refund = _start(merchant, bill, **request, need_approval=need_approval, detail=None,
                        test_mode=test_mode, now=now)
    except Refused as refused:
        return refused.answer()
    extra = {}
    if not need_approval and refund.channel in ALIPAY_URL_CHANNELS \
            and not live_channels.is_live_bill(bill):
        # Live: alipay.trade.refund refunds at once, no page to confirm on.
        extra["url"] = alipay_refund_url(bill)
    return answer(OK, id=refund.id, **extra)


def alipay_refund_url(bill: Bill) -> str:
    """Seed 001 line 276: Alipay's page where the merchant confirms a refund
    with its payment password. In the sandbox nothing is to be confirmed: the
    URL is the bill's SANDBOX-marked simulated cashier."""
    from .links import cashier_url
    return cashier_url(bill.cashier_token)


def offline_refund(merchant: Merchant, fields: dict, *, now: int | None = None) -> dict:
    """``POST /2/rest/offline/refund`` (seed 000 §6): a refund of an offline
    bill (live mode only, as the SDKs send it): ``{"id", "refund_result"}``,
    true once the refund has succeeded (WeChat's finish later)."""
    now = _now(now)
    try:
        if isinstance(fields, dict) and bills._bool(fields, "need_approval"):
            raise Refused(PARAM_INVALID, "need_approval is not supported by offline refunds")
        test_mode = live_channels.merchant_in_test_mode(merchant)  # offline: no sandbox path
        bill, request = _common_refund_fields(merchant, fields, test_mode=test_mode, offline=True,
                                              now=now)
        detail = {name: value for name in ("refund_reason", "operator_id", "store_id")
                  if (value := _reason(fields, name)) is not None}
        refund = _start(merchant, bill, **request, need_approval=False, detail=detail or None,
                        test_mode=test_mode, now=now)
    except Refused as refused:
        return refused.answer()
    return answer(OK, id=refund.id, refund_result=refund.status == Refund.SUCCESS)


# --- approval and denial ---------------------------------------------------------------------

def _review_fields(fields: dict) -> tuple[tuple[str, ...], list[str], bool, str | None]:
    if not isinstance(fields, dict):
        raise Refused(PARAM_INVALID, "the request must be a JSON object")
    codes = _channel_codes(fields, required=True)
    bills._require(fields, "ids")
    ids = fields["ids"]
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise Refused(PARAM_INVALID, "ids must be a list of refund ids (strings)")
    if len(ids) > MAX_BATCH:
        raise Refused(PARAM_INVALID, f"ids may hold at most {MAX_BATCH} refund ids")
    if fields.get("agree") is None:
        raise Refused(MISS_PARAM, "agree is required (true approves, false denies)")
    agree = bills._bool(fields, "agree")
    return codes, ids, agree, _reason(fields, "deny_reason")


def _pending(merchant: Merchant, refund_id: str, codes: tuple[str, ...],
             test_mode: bool) -> Refund:
    refund = None
    if 0 < len(refund_id) <= 36 and "\x00" not in refund_id:
        refund = db.session.get(Refund, refund_id)
    if refund is not None:
        db.session.refresh(refund)
    if refund is None or refund.app_id != merchant.app_id or refund.test_mode != test_mode \
            or refund.channel not in codes:
        raise Refused(NO_SUCH_REFUND, f"no refund with id {bills._shown(refund_id)} in this "
                                      "channel for this app" + (" in test mode" if test_mode
                                                                else ""))
    if not refund.need_approval:
        raise Refused(NO_SUCH_REFUND, f"refund {refund_id} is not a pre-refund")
    if refund.status != Refund.PENDING_APPROVAL:
        raise Refused(NO_SUCH_REFUND, f"pre-refund {refund_id} has already been "
                                      + ("denied" if refund.status == Refund.DENIED
                                         else "approved"))
    return refund


def _approve(refund: Refund, now: int) -> bool:
    bill = db.session.get(Bill, refund.bill_id)
    db.session.refresh(bill)
    if bill.status != Bill.PAID:
        raise Refused(BILL_UNSUCCESS, f"bill_no {bill.bill_no} is no longer paid")
    _check_window(bill, now)
    db.session.commit()  # the writes below begin with their conditional UPDATE
    settle_at = _settle_at(refund.channel, now, bill)
    won = db.session.execute(
        update(Refund).where(Refund.id == refund.id, Refund.status == Refund.PENDING_APPROVAL)
        .values(status=Refund.PROCESSING, settle_at=settle_at)
        .execution_options(synchronize_session=False)).rowcount == 1
    if won and settle_at == now:
        _complete(refund.id, now)
    db.session.commit()
    if won and live_channels.is_live_bill(bill):
        _send_to_provider(refund.id, bill, now)
    return won


def _deny(refund: Refund, reason: str | None, now: int) -> bool:
    db.session.commit()
    won = db.session.execute(
        update(Refund).where(Refund.id == refund.id, Refund.status == Refund.PENDING_APPROVAL)
        .values(status=Refund.DENIED, deny_reason=reason, finish_time=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    if won:
        _release(refund.bill_id, refund.refund_fee)
    db.session.commit()
    return won


def review_refunds(merchant: Merchant, fields: dict, *, test_mode: bool,
                   now: int | None = None) -> dict:
    """``PUT /2/rest/refund`` (seed 001 §4): approve (``agree: true``) or deny
    the pre-refunds ``ids`` of ``channel``. ``result_map`` answers each id
    "OK" or the reason it was not (seed 001 documents it for approvals; we
    answer it for denials too, so a batch's mixed outcome is never silent),
    and ``url`` (Alipay's refund page) when ALI refunds were approved."""
    now = _now(now)
    try:
        codes, ids, agree, reason = _review_fields(fields)
    except Refused as refused:
        return refused.answer()
    result_map: dict[str, str] = {}
    approved_alipay: Bill | None = None
    for refund_id in ids:
        try:
            refund = _pending(merchant, refund_id, codes, test_mode)
            won = _approve(refund, now) if agree else _deny(refund, reason, now)
            if not won:
                raise Refused(NO_SUCH_REFUND, f"pre-refund {refund_id} was reviewed by another "
                                              "request at the same moment")
        except Refused as refused:
            db.session.commit()
            result_map[refund_id] = _result_text(refused.result_code, refused.err_detail)
            continue
        result_map[refund_id] = "OK"
        if agree and approved_alipay is None and refund.channel in ALIPAY_URL_CHANNELS:
            approved = db.session.get(Bill, refund.bill_id)
            if not live_channels.is_live_bill(approved):  # live: refunded at once, no page
                approved_alipay = approved
    extra = {"url": alipay_refund_url(approved_alipay)} if approved_alipay is not None else {}
    return answer(OK, result_map=result_map, **extra)


# --- completing refunds -----------------------------------------------------------------------

def _release(bill_id: str, fee: int) -> None:
    db.session.execute(
        update(Bill).where(Bill.id == bill_id, Bill.refunding_fee == fee)
        .values(refunding_fee=0).execution_options(synchronize_session=False))


def _complete(refund_id: str, now: int, provider_detail: dict | None = None) -> bool:
    """Finish one PROCESSING refund inside the caller's transaction: SUCCESS,
    the bill's reservation moved into ``refunded_fee`` and the REFUND webhook
    queued — or FAILED and the reservation released when the bill is no
    longer paid. False when another worker finished it first."""
    refund = db.session.get(Refund, refund_id)
    bill = db.session.get(Bill, refund.bill_id)
    detail = {**(refund.message_detail or {}),
              **(provider_detail if provider_detail is not None
                 else refund_message_detail(refund, bill, now))}
    won = db.session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == Refund.PROCESSING)
        .values(status=Refund.SUCCESS, finish_time=now, message_detail=detail)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        return False
    moved = db.session.execute(
        update(Bill)
        .where(Bill.id == bill.id, Bill.status == Bill.PAID,
               Bill.refunding_fee == refund.refund_fee)
        .values(refunded_fee=Bill.refunded_fee + refund.refund_fee, refunding_fee=0,
                refund_result=True)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not moved:
        # The bill was reverted while the refund was with the channel: the
        # channel refuses it, and the reservation is given back.
        db.session.execute(
            update(Refund).where(Refund.id == refund_id)
            .values(status=Refund.FAILED, message_detail={
                **(refund.message_detail or {}), "tradeSuccess": False,
                "error": f"bill_no {bill.bill_no} is no longer paid"})
            .execution_options(synchronize_session=False))
        _release(bill.id, refund.refund_fee)
        return True
    db.session.refresh(refund)
    db.session.refresh(bill)
    from . import webhooks
    webhooks.queue_refund(refund, bill, now_ms=now)
    return True


def settle_due(now: int) -> int:
    """The worker's job: complete the refunds whose ``settle_at`` has come;
    how many were completed. Safe with any number of workers: each refund's
    completion is a conditional UPDATE on its PROCESSING status."""
    due = list(db.session.execute(
        db.select(Refund.id).where(Refund.status == Refund.PROCESSING,
                                   Refund.settle_at.is_not(None), Refund.settle_at <= now)
        .order_by(Refund.settle_at, Refund.id).limit(SETTLE_BATCH)).scalars())
    db.session.commit()
    changed = 0
    for refund_id in due:
        refund = db.session.get(Refund, refund_id)
        bill = db.session.get(Bill, refund.bill_id)
        if live_channels.is_live_bill(bill):
            changed += _ask_provider(refund, bill, now)
        elif _complete(refund_id, now):
            changed += 1
        db.session.commit()
    return changed


# --- live bills: the provider refunds (issue 14) ------------------------------------------

def _fail(refund_id: str, bill: Bill, reason: str, now: int) -> None:
    """The provider refused the refund: FAILED, the reservation given back."""
    refund = db.session.get(Refund, refund_id)
    failed = db.session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == Refund.PROCESSING)
        .values(status=Refund.FAILED, finish_time=now, message_detail={
            **(refund.message_detail or {}), "tradeSuccess": False, "error": reason})
        .execution_options(synchronize_session=False)).rowcount == 1
    if failed:
        _release(bill.id, refund.refund_fee)
    db.session.commit()


def _send_to_provider(refund_id: str, bill: Bill, now: int) -> None:
    """Send a PROCESSING refund of a live bill to its provider (outside any
    transaction) and record what it said. Unreachable: it stays PROCESSING and
    ``settle_due`` asks the provider at its ``settle_at``."""
    from .. import connectors

    refund = db.session.get(Refund, refund_id)
    try:
        result = live_channels.refund(bill, refund.refund_no, refund.refund_fee)
    except connectors.ProviderUnreachable as error:
        log.info("refund %s: provider unreachable, asked again later: %s", refund_id, error.detail)
        return
    except connectors.ConnectorError as error:
        _fail(refund_id, bill, error.detail, now)
        return
    if result.done:
        _complete(refund_id, now, dict(result.message_detail or {}))
        db.session.commit()


def _ask_provider(refund: Refund, bill: Bill, now: int) -> int:
    """``settle_due`` for a live bill's refund whose answer never came."""
    from .. import connectors

    db.session.execute(update(Refund).where(Refund.id == refund.id)
                       .values(settle_at=now + LIVE_REFUND_CHECK_MS)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    try:
        result = live_channels.refund_status(bill, refund.refund_no)
        if not result.done:
            # Never received by the provider (or still pending): send again;
            # the refund number makes a second send idempotent.
            result = live_channels.refund(bill, refund.refund_no, refund.refund_fee)
    except connectors.ProviderUnreachable:
        return 0
    except connectors.ConnectorError as error:
        _fail(refund.id, bill, error.detail, now)
        return 1
    if result.done and _complete(refund.id, now, dict(result.message_detail or {})):
        db.session.commit()
        return 1
    return 0


# --- the channels' refund notices (message_detail) --------------------------------------------

def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def refund_message_detail(refund: Refund, bill: Bill, now: int) -> dict:
    """What the channel reports about a finished refund, per family, shaped
    like each channel's own refund notice or refund query answer."""
    family = _family(bill.channel)
    when = datetime.fromtimestamp(now / 1000, CHINA)
    fen, total = str(refund.refund_fee), str(bill.total_fee)
    yuan = money.fen_to_yuan(refund.refund_fee)
    trade_no = bill.trade_no or ""
    if family == "ALI":  # batch_refund_notify / alipay.trade.refund
        return {"notify_type": "batch_refund_notify", "notify_id": secrets.token_hex(16),
                "notify_time": when.strftime("%Y-%m-%d %H:%M:%S"), "batch_no": refund.refund_no,
                "success_num": "1", "result_details": f"{trade_no}^{yuan}^SUCCESS",
                "out_trade_no": bill.bill_no, "refund_fee": yuan, "tradeSuccess": True}
    if family == "WX":  # refund query: refund_status_0 …
        return {"return_code": "SUCCESS", "result_code": "SUCCESS",
                "transaction_id": trade_no, "out_trade_no": bill.bill_no,
                "out_refund_no": refund.refund_no, "refund_id": "50000" + _digits(24),
                "total_fee": total, "refund_fee": fen, "settlement_refund_fee": fen,
                "refund_status": "SUCCESS", "refund_channel": "ORIGINAL",
                "refund_recv_accout": "支付用户的零钱",
                "success_time": when.strftime("%Y-%m-%d %H:%M:%S"), "tradeSuccess": True}
    if family == "UN":  # ACP 退货 (txnType 04) notice
        return {"queryId": when.strftime("%Y%m%d%H%M%S") + _digits(7), "origQryId": trade_no,
                "orderId": refund.refund_no, "txnType": "04", "txnSubType": "00",
                "txnAmt": fen, "currencyCode": "156", "txnTime": when.strftime("%Y%m%d%H%M%S"),
                "respCode": "00", "respMsg": "Success!", "tradeSuccess": True}
    if family == "JD":
        return {"ID": refund.refund_no, "OID": trade_no, "AMOUNT": fen, "CURRENCY": "CNY",
                "DATE": when.strftime("%Y%m%d"), "TIME": when.strftime("%H%M%S"),
                "STATUS": "0", "TYPE": "R", "CODE": "0000", "DESC": "成功",
                "tradeSuccess": True}
    if family == "BD":
        return {"sp_refund_no": refund.refund_no, "order_no": bill.bill_no,
                "bfb_order_no": trade_no, "cashback_amount": fen, "ret_code": "1",
                "ret_detail": "退款成功", "cashback_time": when.strftime("%Y%m%d%H%M%S"),
                "tradeSuccess": True}
    if family == "YEE":
        return {"r0_Cmd": "RefundOrd", "r1_Code": "1", "r2_TrxId": _digits(15) + "R",
                "r3_Amt": yuan, "r4_Cur": "RMB", "r6_Order": bill.bill_no,
                "refund_no": refund.refund_no, "tradeSuccess": True}
    if family == "KUAIQIAN":
        return {"orderId": refund.refund_no, "dealId": trade_no, "refundAmount": fen,
                "result": "Y", "dealTime": when.strftime("%Y%m%d%H%M%S"), "tradeSuccess": True}
    return {"refund_no": refund.refund_no, "out_trade_no": bill.bill_no, "refund_fee": fen,
            "tradeSuccess": True}
