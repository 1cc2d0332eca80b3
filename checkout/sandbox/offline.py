"""The offline (in-store) API of seed 000: a cashier's till creating bills.

- ``create_offline_bill`` (``POST /2/rest/offline/bill``): WX_NATIVE and
  ALI_OFFLINE_QRCODE answer a ``code_url`` for the shopper to scan (our
  simulated cashier); the barcode channels WX_SCAN, ALI_SCAN and SCAN take the
  ``auth_code`` the till scanned off the shopper's phone. In the sandbox a
  well-formed auth code pays at once (``pay_result: true``) through
  ``checkout.sandbox.settlement.mark_paid``.
- ``bill_status`` (``POST /2/rest/offline/bill/status``): ``pay_result``.
- ``revert_bill`` (``POST /2/rest/offline/bill/{bill_no}``, ``method=REVERT``):
  cancels the bill; a paid one is undone (its coupon given back).

Offline bills live in the same ``bills`` table, under the same "one order,
one payment" rules as online bills. Seed 000 has no sandbox path (the SDKs
refuse test mode for these calls), so the merchant's mode decides
(``live_channels.merchant_in_test_mode``): a test-mode merchant's offline
bills are sandbox bills paid at the simulated cashier; a live merchant's go
to the provider (Alipay's precreate / barcode pay) or answer 2
PAY_FACTOR_NOT_SET.
"""

from __future__ import annotations

import re

from sqlalchemy import update

from .. import channels as catalogue
from ..db import db
from ..models import Bill, Merchant
from . import bills, live_channels
from .bills import (CHANNEL_ERROR, CHANNEL_INVALID, MISS_PARAM, NO_SUCH_BILL, OK, PARAM_INVALID,
                    Refused, answer)

QR_CHANNELS = ("WX_NATIVE", "ALI_OFFLINE_QRCODE")
BARCODE_CHANNELS = ("WX_SCAN", "ALI_SCAN", "SCAN")
# Seed 000 section 4: what REVERT accepts as ``channel`` (WX_NATIVE cannot be reverted).
REVERT_CHANNELS = ("WX_SCAN", "ALI_OFFLINE_QRCODE", "ALI_SCAN")

# The channels' own rules for a shopper's payment code: WeChat's is 18 digits
# starting 10-15; Alipay's 16-24 digits starting 25-30.
WECHAT_AUTH_CODE = re.compile(r"1[0-5]\d{16}")
ALIPAY_AUTH_CODE = re.compile(r"(2[5-9]|30)\d{14,22}")


def _barcode_channel(code: str, auth_code: object) -> str:
    """The sub channel an ``auth_code`` belongs to, checked against ``code``."""
    if not isinstance(auth_code, str):
        raise Refused(PARAM_INVALID, "auth_code must be a string of digits")
    if WECHAT_AUTH_CODE.fullmatch(auth_code):
        found = "WX_SCAN"
    elif ALIPAY_AUTH_CODE.fullmatch(auth_code):
        found = "ALI_SCAN"
    else:
        raise Refused(PARAM_INVALID, "auth_code is not a WeChat (18 digits, 10-15…) or Alipay "
                                     "(16-24 digits, 25-30…) payment code")
    if code != "SCAN" and found != code:
        raise Refused(PARAM_INVALID, f"auth_code is not a {code} payment code")
    return found


def _pay_now(bill: Bill) -> bool:
    """Pay a barcode bill at once through settlement, if helper "cashier"'s
    settlement module is present; otherwise the bill stays OPEN (pay_result
    false, as when a shopper must still confirm on the phone: seed 000 Part 2)."""
    try:
        from . import settlement
    except ImportError:
        return False
    settlement.mark_paid(bill)
    db.session.commit()  # harmless if mark_paid committed already
    db.session.refresh(bill)
    return bill.status == Bill.PAID


def create_offline_bill(merchant: Merchant, fields: dict) -> dict:
    try:
        bills._require(fields, "channel")
        code = fields["channel"]
        if code not in QR_CHANNELS + BARCODE_CHANNELS:
            raise Refused(CHANNEL_INVALID, f"channel {bills._shown(code)} is not an offline "
                                           "channel (WX_NATIVE, ALI_OFFLINE_QRCODE, WX_SCAN, "
                                           "ALI_SCAN, SCAN)")
        common = bills.check_common(fields)
        extra = {}
        if code in BARCODE_CHANNELS:
            bills._require(fields, "auth_code", f" for {code}")
            code = _barcode_channel(code, fields["auth_code"])
            # The payment code is single-use; we keep only its tail for support.
            extra["auth_code_tail"] = fields["auth_code"][-4:]
        terminal = bills._string(fields, "terminal_id", max_len=32)
        if terminal:
            extra["terminal_id"] = terminal
        channel = catalogue.CHANNELS[code]
        web = {"return_url": None, "bill_timeout": None, "params": {}}
        # Seed 000 has no sandbox path: the merchant's mode decides. Live
        # bills are paid at the channel's provider with the merchant's
        # credentials, or answer 2 PAY_FACTOR_NOT_SET.
        test_mode = live_channels.merchant_in_test_mode(merchant)
        connector = None if test_mode else live_channels.connector_for(merchant.app_id, code)
        bill = bills.open_bill(merchant, common, channel, web, test_mode=test_mode,
                               extra_params=extra)
        if connector is not None and bill.status == Bill.OPEN:
            # The payment code goes to the provider once and is never stored.
            started = live_channels.start(bill, connector, params={
                "auth_code": fields["auth_code"]} if code in BARCODE_CHANNELS else None)
        else:
            started = {}
    except Refused as refused:
        return refused.answer()
    if code in QR_CHANNELS:
        if live_channels.is_live_bill(bill):
            return answer(OK, id=bill.id, code_url=started.get("code_url", ""))
        from .links import cashier_url
        return answer(OK, id=bill.id, code_url=cashier_url(bill.cashier_token))
    db.session.refresh(bill)
    if live_channels.is_live_bill(bill):
        paid = bill.status == Bill.PAID  # settled in live_channels.start when the provider paid
    else:
        paid = bill.status == Bill.PAID or (bill.status == Bill.OPEN and _pay_now(bill))
    fields_out = {"id": bill.id, "pay_result": paid}
    if fields["channel"] == "SCAN":
        fields_out["channel_type"] = code  # seed 000: which barcode it turned out to be
    return answer(OK, **fields_out)


def _bills_by_no(merchant: Merchant, fields: dict, bill_no: object,
                 allowed: tuple[str, ...] | None = None) -> list[Bill]:
    if bill_no in (None, ""):
        raise Refused(MISS_PARAM, "bill_no is required")
    if not isinstance(bill_no, str) or not bills.BILL_NO.fullmatch(bill_no):
        raise Refused(PARAM_INVALID, "bill_no must be 8 to 32 letters and/or digits")
    channel = fields.get("channel")
    if channel not in (None, ""):
        if not isinstance(channel, str) or channel not in catalogue.CHANNELS \
                or (allowed and channel not in allowed):
            raise Refused(CHANNEL_INVALID, f"channel {bills._shown(channel)} is not valid here")
    found = [bill for bill in bills._bills_for(
                 merchant.app_id, live_channels.merchant_in_test_mode(merchant), bill_no)
             if channel in (None, "") or bill.channel == channel]
    if not found:
        raise Refused(NO_SUCH_BILL, f"no bill with bill_no {bill_no}")
    return found


def bill_status(merchant: Merchant, fields: dict) -> dict:
    """Seed 000 section 3: ``pay_result`` is true once any of the bill_no's bills is paid."""
    try:
        found = _bills_by_no(merchant, fields, fields.get("bill_no"))
    except Refused as refused:
        return refused.answer()
    if not any(bill.status == Bill.PAID for bill in found):
        for bill in found:  # a till polling a barcode whose buyer is entering a password
            live_channels.refresh(bill)
    return answer(OK, pay_result=any(bill.status == Bill.PAID for bill in found))


def revert_bill(merchant: Merchant, bill_no: str, fields: dict) -> dict:
    """Seed 000 section 4: cancel every bill of ``bill_no`` (in ``channel`` if
    given). Open bills are closed; a paid one is undone and its coupon, if any,
    released (``coupons.release_for_bill``)."""
    try:
        method = fields.get("method")
        if method in (None, ""):
            raise Refused(MISS_PARAM, "method is required (REVERT)")
        if method != "REVERT":
            raise Refused(PARAM_INVALID, "method must be REVERT")
        found = _bills_by_no(merchant, fields, bill_no, REVERT_CHANNELS)
    except Refused as refused:
        return refused.answer()
    ids = [bill.id for bill in found]
    # Conditional updates: a bill paid in between is caught by the second one.
    db.session.execute(update(Bill).where(Bill.id.in_(ids), Bill.status.in_(
        (Bill.OPEN, Bill.FAILED))).values(status=Bill.REVERTED, revert_result=True)
        .execution_options(synchronize_session=False))
    paid = list(db.session.execute(db.select(Bill).where(
        Bill.id.in_(ids), Bill.status == Bill.PAID).with_for_update()).scalars())
    if any(bill.refunded_fee or bill.refunding_fee for bill in paid):
        # A revert gives the whole payment back: after a refund (or during
        # one) it would give back what was already returned.
        db.session.commit()
        return answer(CHANNEL_ERROR, f"bill_no {bill_no} has refunds; a refunded bill cannot "
                                     "be reverted (refund the rest instead)")
    for bill in paid:
        bill.status = Bill.REVERTED
        bill.revert_result = True
        if bill.coupon_id:
            from . import coupons
            coupons.release_for_bill(bill)
    db.session.commit()
    # Live bills are cancelled at their provider too (Alipay: alipay.trade.cancel
    # closes an unpaid trade and refunds a paid one); what fails now the worker retries.
    for bill_id in ids:
        live_channels.cancel(db.session.get(Bill, bill_id))
    return answer(OK, revert_status=True)
