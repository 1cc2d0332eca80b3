"""Settlement: the one place a sandbox bill becomes PAID, FAILED or CLOSED.

"One order, one payment" (architecture.md): several channels may hold OPEN
bills for one (app, mode, bill_no); the first one paid wins. ``mark_paid``

1. takes the bill service's per-bill_no lock (``bills._lock_bill_no``:
   PostgreSQL advisory lock / SQLite write lock), so two channels of one
   order paid at the same moment are decided one after the other;
2. pays with ONE conditional ``UPDATE … WHERE status = 'OPEN'`` that also
   requires the bill not to be expired (``expiry.payable``, the one rule of
   bill expiry) and no sibling bill to be PAID — whoever's UPDATE matches
   the row has paid, everyone else gets False;
3. closes the other OPEN bills of the order (``expiry.close_other_bills``);
4. consumes the bill's coupon (``coupons.consume_for_bill``); if another bill
   consumed it first the whole payment is rolled back and the bill FAILS
   (never charged at a price the shopper was not shown — see coupons.py);
5. queues the PAY webhook in the outbox (``webhooks.queue_payment``)

— all in one transaction, so a paid bill always has its webhook row and no
webhook exists for a payment that did not happen (transactional outbox).

``message_detail`` imitates what each channel family sends BeeCloud (seed 003
lines 453-626, "部分字段含义" tables and examples).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, update
from sqlalchemy.orm import aliased

from .. import channels as catalogue
from .. import clock, money
from ..db import db
from ..models import Bill
from . import bills as bill_service
from . import expiry

CHINA = ZoneInfo("Asia/Shanghai")  # channels report Beijing time


def bill_by_cashier_token(token: object) -> Bill | None:
    """The bill behind a cashier URL, or None for anything else."""
    if not isinstance(token, str) or not 0 < len(token) <= 64 or "\x00" in token:
        return None
    return db.session.execute(
        db.select(Bill).where(Bill.cashier_token == token)).scalar_one_or_none()


# What the shopper sees at a cashier: one of these (``expiry.state``).
OPEN, PAID, FAILED, CLOSED, EXPIRED = (expiry.OPEN, expiry.PAID, expiry.FAILED, expiry.CLOSED,
                                       expiry.EXPIRED)
is_expired = expiry.is_expired


def cashier_state(bill: Bill, now: int | None = None) -> str:
    """The bill as a cashier page shows it; only ``open`` can be paid. The
    one rule of expiry (``expiry.state``), so the cashier, the checkout's
    status and the REST API agree at any moment, before a worker closes it."""
    return expiry.state(bill, now)


# --- channel trade numbers and message_detail (seed 003 lines 453-626) ------------------

def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def new_trade_no(channel: str, now: int) -> str:
    """A channel-shaped trade number: date-prefixed digits like Alipay's
    ``2015052300001000620053541865`` (28), WeChat's ``1006410636…`` (28),
    UnionPay's ``queryId`` (21), Baidu's ``bfb_order_no`` (31)."""
    family = catalogue.CHANNELS[channel].family if channel in catalogue.CHANNELS else ""
    day = datetime.fromtimestamp(now / 1000, CHINA).strftime("%Y%m%d")
    if family == "WX":
        return "42000" + _digits(5) + day + _digits(10)
    if family == "UN":
        return datetime.fromtimestamp(now / 1000, CHINA).strftime("%Y%m%d%H%M%S") + _digits(7)
    if family == "BD":
        return day + _digits(23)
    if family == "YEE":
        return _digits(15) + "I"
    if family == "JD":
        return secrets.token_hex(16)
    return day + _digits(20)


def imitated_detail(bill: Bill, trade_no: str, now: int) -> dict:
    """What the channel told BeeCloud about the payment, per family, shaped
    like seed 003's examples (lines 468, 481, 494, 508, 520, 528, 541, 554)."""
    family = catalogue.CHANNELS[bill.channel].family if bill.channel in catalogue.CHANNELS \
        else bill.channel.split("_")[0]
    when = datetime.fromtimestamp(now / 1000, CHINA)
    created = datetime.fromtimestamp(bill.create_time / 1000, CHINA)
    yuan = money.fen_to_yuan(bill.total_fee) if bill.currency == "CNY" else None
    fen = str(bill.total_fee)
    if family == "ALI":
        return {"trade_no": trade_no, "out_trade_no": bill.bill_no, "subject": bill.title,
                "body": bill.title, "total_fee": yuan, "price": yuan, "quantity": "1",
                "discount": "0.00", "payment_type": "1", "trade_status": "TRADE_SUCCESS",
                "notify_type": "trade_status_sync", "buyer_email": "sandbox-buyer@example.com",
                "gmt_create": created.strftime("%Y-%m-%d %H:%M:%S"),
                "gmt_payment": when.strftime("%Y-%m-%d %H:%M:%S"),
                "notify_time": when.strftime("%Y-%m-%d %H:%M:%S"),
                "use_coupon": "N", "tradeSuccess": True}
    if family == "WX":
        trade_type = {"WX_NATIVE": "NATIVE", "WX_JSAPI": "JSAPI", "WX_WAP": "MWEB",
                      "WX_APP": "APP", "WX_SCAN": "MICROPAY"}.get(bill.channel, "NATIVE")
        return {"transaction_id": trade_no, "out_trade_no": bill.bill_no, "total_fee": fen,
                "cash_fee": fen, "fee_type": "CNY", "bank_type": "CFT", "trade_type": trade_type,
                "openid": (bill.channel_params or {}).get("openid", ""),
                "time_end": when.strftime("%Y%m%d%H%M%S"), "result_code": "SUCCESS",
                "return_code": "SUCCESS", "is_subscribe": "N", "tradeSuccess": True}
    if family == "UN":
        return {"queryId": trade_no, "orderId": bill.bill_no, "txnAmt": fen,
                "txnTime": created.strftime("%Y%m%d%H%M%S"), "traceNo": trade_no[-6:],
                "txnType": "01", "currencyCode": "156", "respCode": "00",
                "respMsg": "Success!", "tradeSuccess": True}
    if family == "JD":
        return {"ID": trade_no, "AMOUNT": fen, "PAYAMOUNT": fen, "CURRENCY": "CNY",
                "DATE": when.strftime("%Y%m%d"), "TIME": when.strftime("%H%M%S"),
                "STATUS": "0", "CODE": "0000", "DESC": "成功", "TYPE": "S", "NOTE": bill.title,
                "tradeSuccess": True}
    if family == "BD":
        return {"order_no": bill.bill_no, "bfb_order_no": trade_no, "total_amount": fen,
                "pay_result": "1", "pay_time": when.strftime("%Y%m%d%H%M%S"),
                "pay_type": "2", "currency": "1", "tradeSuccess": True}
    if family == "YEE":
        if bill.channel == "YEE_WAP":
            return {"orderid": bill.bill_no, "yborderid": trade_no, "amount": bill.total_fee,
                    "status": 1, "tradeSuccess": True}
        return {"r0_Cmd": "Buy", "r1_Code": "1", "r2_TrxId": trade_no, "r3_Amt": yuan,
                "r4_Cur": "RMB", "r5_Pid": bill.title, "r6_Order": bill.bill_no,
                "r9_BType": "2", "rp_PayDate": when.strftime("%Y%m%d%H%M%S"),
                "tradeSuccess": True}
    if family == "KUAIQIAN":
        # Seed 003 has no Kuaiqian example; these are 99bill's own notify names.
        return {"orderId": bill.bill_no, "dealId": trade_no, "orderAmount": fen,
                "payAmount": fen, "payResult": "10", "dealTime": when.strftime("%Y%m%d%H%M%S"),
                "tradeSuccess": True}
    if family == "PAYPAL":
        return {"title": bill.title, "total_fee": bill.total_fee, "bill_no": bill.bill_no,
                "channel": "PAYPAL_SANDBOX", "currency": bill.currency,
                "optional": bill.optional or {}, "tradeSuccess": True}
    return {"trade_no": trade_no, "out_trade_no": bill.bill_no, "total_fee": fen,
            "tradeSuccess": True}


# --- state changes ---------------------------------------------------------------------

def _end_transaction() -> None:
    """Commit: we may hold the bill_no lock (and, on SQLite, the write lock)
    even when nothing matched; a rollback could throw away a caller's
    pending work, and we wrote nothing of our own."""
    db.session.commit()


def _consume_coupon(bill: Bill) -> bool:
    try:
        from . import coupons
    except ImportError:  # pragma: no cover - coupons are part of the product
        return True
    return coupons.consume_for_bill(bill)


def mark_paid(bill: Bill, *, trade_no: str | None = None, now_ms: int | None = None,
              message_detail: dict | None = None) -> bool:
    """Pay ``bill`` if it is OPEN, not expired, and no other bill of its order
    is paid. True when THIS call paid it; False otherwise (already paid,
    closed, failed, expired, another channel paid first, coupon taken).
    A live bill passes what its provider reported as ``message_detail``
    (seed 003: the channel's own notification); the sandbox imitates one."""
    now = clock.now_ms() if now_ms is None else now_ms
    bill_id, app_id, test_mode, bill_no = bill.id, bill.app_id, bill.test_mode, bill.bill_no
    trade_no = trade_no or new_trade_no(bill.channel, now)
    detail = message_detail if message_detail is not None else imitated_detail(bill, trade_no, now)

    bill_service._lock_bill_no(app_id, test_mode, bill_no)
    sibling = aliased(Bill)
    paid = db.session.execute(
        update(Bill)
        .where(Bill.id == bill_id, expiry.payable(now),
               ~exists().where(and_(sibling.app_id == app_id, sibling.test_mode == test_mode,
                                    sibling.bill_no == bill_no, sibling.status == Bill.PAID)))
        .values(status=Bill.PAID, trade_no=trade_no, pay_time=now, message_detail=detail)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not paid:
        _end_transaction()
        db.session.refresh(bill)
        return False

    db.session.refresh(bill)
    if not _consume_coupon(bill):
        # Another bill of this shopper used the coupon first: no payment at a
        # price the shopper was not shown. Undo, then fail this bill.
        db.session.rollback()
        mark_failed(bill)
        return False

    if expiry.close_other_bills(bill, now=now):
        from . import live_channels

        live_channels.ended_here(app_id, bill_no, now)  # closed at their provider too

    from . import webhooks

    webhooks.queue_payment(bill, now_ms=now)
    db.session.commit()
    db.session.refresh(bill)
    return True


def mark_failed(bill: Bill, *, now_ms: int | None = None) -> bool:
    """The shopper's payment failed at the channel. Only an OPEN bill whose
    time is not up fails; re-creating the same bill opens it again
    (``bills._same_order_check``)."""
    now = clock.now_ms() if now_ms is None else now_ms
    changed = db.session.execute(
        update(Bill).where(Bill.id == bill.id, expiry.payable(now)).values(status=Bill.FAILED)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    db.session.refresh(bill)
    return changed


def close_bill(bill: Bill, reason: str = expiry.ENDED, *, now_ms: int | None = None) -> bool:
    """Close an OPEN bill for good (it can never be paid): ``expiry.close_bill``."""
    closed = expiry.close_bill(bill, reason, now=now_ms)
    db.session.commit()
    db.session.refresh(bill)
    return closed
