"""Webhooks: the outbox (``webhook_deliveries``) and the worker that empties it.

Seed 003 lines 392-444:
- POST, JSON, ``Content-Type: application/json``, to the bill's
  ``notify_url``, else the merchant's webhook URL;
- ``signature = md5(app_id + transaction_id + transaction_type + channel_type
  + transaction_fee + master_secret)`` (``checkout.signing.webhook_signature``);
- the merchant answers the string ``success``; anything else (another body,
  an error status, a timeout) means "send again", at 2 s, 4 s, 8 s, …, 2^17 s.
  "约36小时" (line 405) shows those are moments counted from the payment —
  2^17 s is 36.4 hours — not gaps added one after the other (which would
  take 72 hours). After the 2^17 s retry fails the delivery is GAVE_UP.

The row is written in the payment's own transaction (``settlement.mark_paid``)
and its ``body`` is the exact text sent on every attempt. Workers on several
hosts share the table: a worker CLAIMS due rows by setting ``claimed_until``
(a lease) with a conditional UPDATE; on PostgreSQL the candidates are picked
``FOR UPDATE SKIP LOCKED`` so workers do not even queue behind each other.
The HTTP call happens outside any transaction; its outcome is written only
if the lease is still ours, so an event is sent by one worker at a time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

import httpx
from flask import current_app
from sqlalchemy import or_, update

from .. import channels as catalogue
from .. import signing
from ..clock import now_ms as clock_now_ms
from ..db import db
from ..models import Bill, Merchant, WebhookDelivery

log = logging.getLogger(__name__)

MAX_RETRY_EXPONENT = 17   # seed 003 line 405: "2秒,4秒,8秒,…,2^17秒"
SUCCESS_BODY = "success"  # seed 003 lines 404, 414
LEASE_MARGIN_MS = 5_000
MAX_ERROR_TEXT = 500


def channel_type(bill: Bill) -> str:
    channel = catalogue.CHANNELS.get(bill.channel)
    return channel.family if channel else bill.channel.split("_")[0]


def sub_channel_type(bill: Bill) -> str:
    # Seed 003 line 423 lists 'PAYPAL_SANDBOX' / 'PAYPAL_LIVE' as PayPal's
    # sub channels; the embedded gateway's PayPal is a sandbox.
    return "PAYPAL_SANDBOX" if channel_type(bill) == "PAYPAL" else bill.channel


def payment_body(bill: Bill, merchant: Merchant, now: int) -> dict:
    """The PAY webhook's fields, in seed 003's order (lines 419-444)."""
    family = channel_type(bill)
    return {
        "signature": signing.webhook_signature(bill.app_id, bill.bill_no, "PAY", family,
                                               bill.total_fee, merchant.master_secret),
        "timestamp": now,
        "channel_type": family,
        "sub_channel_type": sub_channel_type(bill),
        "transaction_type": "PAY",
        # Line 440: "对应支付请求的bill_no" (the button's out_trade_no).
        "transaction_id": bill.bill_no,
        "transaction_fee": bill.total_fee,   # what was paid, after any coupon
        "bill_fee": bill.bill_fee,
        "discount": bill.discount,
        "coupon_id": bill.coupon_id,
        "trade_success": True,
        "message_detail": bill.message_detail or {},
        "optional": bill.optional or {},
    }


def queue_payment(bill: Bill, *, now_ms: int | None = None) -> WebhookDelivery | None:
    """Add the PAY webhook of a just-paid bill to the outbox, inside the
    caller's transaction. None when neither the bill nor the merchant has
    a URL to notify."""
    now = clock_now_ms() if now_ms is None else now_ms
    merchant = db.session.execute(
        db.select(Merchant).where(Merchant.app_id == bill.app_id)).scalar_one()
    url = bill.notify_url or merchant.webhook_url
    if not url:
        return None
    delivery = WebhookDelivery(
        app_id=bill.app_id, bill_id=bill.id, transaction_type="PAY", url=url,
        body=json.dumps(payment_body(bill, merchant, now), ensure_ascii=False,
                        separators=(",", ":")),
        status=WebhookDelivery.PENDING, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    return delivery


def next_attempt_at(created_at: int, failed_attempts: int, now: int) -> int | None:
    """When to try again after ``failed_attempts`` failures, or None to give up.

    The n-th retry is due 2^n seconds after the payment (n = 1 … 17). A worker
    that was down skips the moments already past instead of firing them all
    at once; once the 2^17 s moment has passed, the delivery is given up."""
    for exponent in range(max(failed_attempts, 1), MAX_RETRY_EXPONENT + 1):
        moment = created_at + (2 ** exponent) * 1000
        if moment > now:
            return moment
    return None


# --- the worker ----------------------------------------------------------------------

def _lease_ms() -> int:
    return int(float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10.0)) * 1000) \
        + LEASE_MARGIN_MS


def claim_due(now: int, limit: int = 20) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due deliveries for this worker: ``[(id, lease_until)]``."""
    lease_until = now + _lease_ms()
    due = (db.select(WebhookDelivery.id)
           .where(WebhookDelivery.status == WebhookDelivery.PENDING,
                  WebhookDelivery.next_attempt_at <= now,
                  or_(WebhookDelivery.claimed_until.is_(None),
                      WebhookDelivery.claimed_until < now))
           .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
           .limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    candidates = list(db.session.execute(due).scalars())
    claimed = []
    for delivery_id in candidates:
        # The same conditional UPDATE is the claim on SQLite (one writer at a
        # time) and a harmless re-check on PostgreSQL (rows already locked).
        won = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id,
                   WebhookDelivery.status == WebhookDelivery.PENDING,
                   or_(WebhookDelivery.claimed_until.is_(None),
                       WebhookDelivery.claimed_until < now))
            .values(claimed_until=lease_until)
            .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            claimed.append((delivery_id, lease_until))
    db.session.commit()
    return claimed


@dataclass
class Outcome:
    delivered: bool
    error: str = ""


def post(url: str, body: str, timeout_seconds: float) -> Outcome:
    """One attempt: delivered only if the merchant answered exactly ``success``."""
    timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0))
    try:
        response = httpx.post(url, content=body.encode("utf-8"), timeout=timeout,
                              headers={"Content-Type": "application/json"},
                              follow_redirects=False)
    except httpx.HTTPError as error:
        return Outcome(False, f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT])
    if response.text == SUCCESS_BODY and response.is_success:
        return Outcome(True)
    shown = response.text[:80].replace("\n", " ")
    return Outcome(False, f"HTTP {response.status_code}, answered {shown!r} instead of "
                          f"'success'"[:MAX_ERROR_TEXT])


def record(delivery_id: int, lease_until: int, outcome: Outcome, now: int) -> str | None:
    """Write an attempt's outcome if our lease still holds; the new status."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    attempts = delivery.attempts + 1
    if outcome.delivered:
        values = {"status": WebhookDelivery.DELIVERED, "delivered_at": now, "last_error": None}
    else:
        retry_at = next_attempt_at(delivery.created_at, attempts, now)
        values = {"status": WebhookDelivery.GAVE_UP} if retry_at is None else \
            {"next_attempt_at": retry_at}
        values["last_error"] = outcome.error
    written = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claimed_until == lease_until,
               WebhookDelivery.status == WebhookDelivery.PENDING)
        .values(attempts=attempts, claimed_until=None, **values)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return values.get("status", WebhookDelivery.PENDING) if written else None


def work_once(*, now: Callable[[], int] = clock_now_ms,
              send: Callable[[str, str, float], Outcome] = post, limit: int = 20) -> int:
    """Send every delivery due now (in batches of ``limit``); the number of
    attempts made. ``now`` and ``send`` are injectable for tests."""
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10.0))
    attempts = 0
    while True:
        claimed = claim_due(now(), limit)
        if not claimed:
            return attempts
        for delivery_id, lease_until in claimed:
            delivery = db.session.get(WebhookDelivery, delivery_id)
            url, body = delivery.url, delivery.body
            db.session.commit()  # no transaction open during the HTTP call
            outcome = send(url, body, timeout)
            status = record(delivery_id, lease_until, outcome, now())
            attempts += 1
            if status == WebhookDelivery.GAVE_UP:
                log.warning("webhook %s to %s given up after %s attempts", delivery_id,
                            _safe_url(url), MAX_RETRY_EXPONENT + 1)
            elif not outcome.delivered:
                log.info("webhook %s to %s not delivered: %s", delivery_id, _safe_url(url),
                         outcome.error)


def _safe_url(url: str) -> str:
    """Scheme, host and path only: a query string might carry a merchant's token."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{':' + str(parts.port) if parts.port else ''}{parts.path}"
