"""Alipay's async notification (异步通知) of a paid trade.

A form POST (``application/x-www-form-urlencoded``, UTF-8) to the trade's
``notify_url`` with the trade's fields, ``notify_type=trade_status_sync``, a
``notify_id`` and ``sign`` (RSA2 with the app's Alipay private key over every
parameter except ``sign`` and ``sign_type``, sorted: ``signing.notify_content``).
Delivered when the merchant answers exactly ``success``; otherwise Alipay
tries again after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 notifications in 25
hours, its documented schedule), then gives up.

The first attempt is made at once, in the request where the buyer paid;
``send_due(now_ms)`` (a worker job) makes the later ones.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

import httpx
from sqlalchemy import or_, update

from ... import clock
from ...db import db
from . import signing, trades
from .models import SimApp, SimNotify, SimTrade

log = logging.getLogger(__name__)

MINUTE = 60_000
RETRY_DELAYS_MS = (4 * MINUTE, 10 * MINUTE, 10 * MINUTE, 60 * MINUTE, 120 * MINUTE,
                   360 * MINUTE, 900 * MINUTE)
TIMEOUT_SECONDS = 5.0
# While one attempt is made its row is claimed for this long, so a second
# worker does not send the same notification at the same time.
LEASE_MS = int(TIMEOUT_SECONDS * 1000) + 10_000


def params_of(trade: SimTrade, app: SimApp, now: int) -> dict[str, str]:
    total = trades.yuan(trade.total_fen)
    params = {
        "notify_time": trades.alipay_time(now), "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16), "app_id": app.app_id, "auth_app_id": app.app_id,
        "charset": "utf-8", "version": "1.0", "sign_type": "RSA2",
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
        "buyer_id": trade.buyer_user_id or "", "buyer_logon_id": trade.buyer_logon_id or "",
        "seller_id": app.seller_id, "trade_status": trade.status,
        "total_amount": total, "receipt_amount": total, "invoice_amount": total,
        "buyer_pay_amount": total, "point_amount": "0.00", "subject": trade.subject,
        "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % total,
        "gmt_create": trades.alipay_time(trade.created_at),
        "gmt_payment": trades.alipay_time(trade.paid_at),
    }
    # Alipay sends no empty parameters; an empty one would be signed by one
    # reading of the rule and verified by another (python-alipay-sdk keeps them).
    params = {key: value for key, value in params.items() if value not in (None, "")}
    params["sign"] = signing.sign(app.alipay_private_key, signing.notify_content(params))
    return params


def start(trade: SimTrade, now: int) -> SimNotify | None:
    """Record the paid trade's notification and make its first attempt now.
    A trade without a notify_url gets none."""
    if not trade.notify_url:
        return None
    app = db.session.get(SimApp, trade.app_id)
    row = SimNotify(trade_id=trade.id, url=trade.notify_url,
                    body=urlencode(params_of(trade, app, now)), status=SimNotify.PENDING,
                    attempts=0, next_attempt_at=now + LEASE_MS, created_at=now)
    db.session.add(row)
    db.session.commit()
    _attempt(row, now)
    return row


def resend(trade: SimTrade, now: int) -> SimNotify | None:
    """The operator's "send the notification again" (replay testing): the same
    body, one more attempt now, whatever happened before."""
    row = db.session.query(SimNotify).filter_by(trade_id=trade.id) \
        .order_by(SimNotify.id.desc()).first()
    if row is None:
        return start(trade, now) if trade.paid_at is not None else None
    db.session.execute(update(SimNotify).where(SimNotify.id == row.id)
                       .values(status=SimNotify.PENDING, next_attempt_at=now + LEASE_MS))
    db.session.commit()
    db.session.refresh(row)
    _attempt(row, now)
    return row


def _attempt(row: SimNotify, now: int) -> None:
    try:
        response = httpx.post(row.url, content=row.body.encode("utf-8"), timeout=TIMEOUT_SECONDS,
                              headers={"Content-Type":
                                       "application/x-www-form-urlencoded; charset=utf-8"})
        answer = response.text.strip()[:200]
        delivered = response.status_code == 200 and answer == "success"
        outcome = f"HTTP {response.status_code}: {answer}"
    except httpx.HTTPError as error:
        delivered, outcome = False, f"{type(error).__name__}"
    attempts = row.attempts + 1
    if delivered:
        values = {"status": SimNotify.DELIVERED, "delivered_at": clock.now_ms(),
                  "next_attempt_at": None}
    elif attempts <= len(RETRY_DELAYS_MS):
        values = {"next_attempt_at": now + RETRY_DELAYS_MS[attempts - 1]}
    else:
        values = {"status": SimNotify.ABANDONED, "next_attempt_at": None}
    db.session.execute(update(SimNotify).where(SimNotify.id == row.id)
                       .values(attempts=attempts, last_answer=outcome[:200], **values))
    db.session.commit()
    db.session.refresh(row)
    if not delivered:
        log.info("alipay simulator: notify %s attempt %s not accepted (%s)", row.id, attempts,
                 outcome)


def send_due(now_ms: int) -> int:
    """Make every notification attempt that is due at ``now_ms`` (a worker job);
    returns how many were made."""
    due = [row_id for (row_id,) in db.session.query(SimNotify.id).filter(
        SimNotify.status == SimNotify.PENDING, SimNotify.next_attempt_at <= now_ms)
        .order_by(SimNotify.next_attempt_at).limit(100)]
    made = 0
    for row_id in due:
        claimed = db.session.execute(
            update(SimNotify).where(SimNotify.id == row_id, SimNotify.status == SimNotify.PENDING,
                                    or_(SimNotify.next_attempt_at <= now_ms))
            .values(next_attempt_at=now_ms + LEASE_MS)).rowcount == 1
        db.session.commit()
        if not claimed:
            continue
        row = db.session.get(SimNotify, row_id)
        _attempt(row, now_ms)
        made += 1
    return made
