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

The row is written in the payment's own transaction (``settlement.mark_paid``),
or the refund's (``refunds``: a REFUND webhook, ``queue_refund``),
and its ``body`` is the exact text sent on every attempt. Workers on several
hosts share the table: a worker CLAIMS one due row right before sending it,
by setting ``claimed_until`` (a lease) with a conditional UPDATE; on
PostgreSQL the candidate is picked ``FOR UPDATE SKIP LOCKED`` so workers do
not even queue behind each other. The HTTP call happens outside any
transaction and is cut off before the lease ends; its outcome is written
only if the lease is still ours, so an event is sent by one worker at a time
however slow the receiver (see "the worker" below).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import httpx
from flask import current_app
from sqlalchemy import or_, update

from .. import channels as catalogue
from .. import signing
from ..clock import now_ms as clock_now_ms
from ..db import db
from ..models import Bill, Merchant, Refund, WebhookDelivery

log = logging.getLogger(__name__)

MAX_RETRY_EXPONENT = 17   # seed 003 line 405: "2秒,4秒,8秒,…,2^17秒"
SUCCESS_BODY = "success"  # seed 003 lines 404, 414
MAX_ERROR_TEXT = 500


def channel_type(bill: Bill) -> str:
    channel = catalogue.CHANNELS.get(bill.channel)
    return channel.family if channel else bill.channel.split("_")[0]


def sub_channel_type(bill: Bill) -> str:
    # Seed 003 line 423 lists 'PAYPAL_SANDBOX' / 'PAYPAL_LIVE' as PayPal's
    # sub channels; the embedded gateway's PayPal is a sandbox.
    return "PAYPAL_SANDBOX" if channel_type(bill) == "PAYPAL" else bill.channel


def _body(bill: Bill, merchant: Merchant, now: int, *, transaction_type: str,
          transaction_id: str, transaction_fee: int, message_detail: dict | None,
          optional: dict | None) -> dict:
    """A webhook's fields, in seed 003's order (lines 419-444), for a PAY or a
    REFUND: the signature covers the transaction's own id, type and fee."""
    family = channel_type(bill)
    return {
        "signature": signing.webhook_signature(bill.app_id, transaction_id, transaction_type,
                                               family, transaction_fee, merchant.master_secret),
        "timestamp": now,
        "channel_type": family,
        "sub_channel_type": sub_channel_type(bill),
        "transaction_type": transaction_type,
        "transaction_id": transaction_id,
        "transaction_fee": transaction_fee,
        "bill_fee": bill.bill_fee,
        "discount": bill.discount,
        "coupon_id": bill.coupon_id,
        "trade_success": True,   # line 442: only successes are sent
        "message_detail": message_detail or {},
        "optional": optional or {},
    }


def payment_body(bill: Bill, merchant: Merchant, now: int) -> dict:
    """The PAY webhook. Line 440: ``transaction_id`` is the payment's bill_no
    (the button's out_trade_no); line 441: the fee is what was paid, after
    any coupon."""
    return _body(bill, merchant, now, transaction_type="PAY", transaction_id=bill.bill_no,
                 transaction_fee=bill.total_fee, message_detail=bill.message_detail,
                 optional=bill.optional)


def refund_body(refund: Refund, bill: Bill, merchant: Merchant, now: int) -> dict:
    """The REFUND webhook. Lines 440-441: ``transaction_id`` is the refund's
    refund_no and the fee its refund_fee; ``optional`` is the one the
    merchant sent with the refund (line 444); bill_fee, discount and
    coupon_id describe the refunded bill."""
    return _body(bill, merchant, now, transaction_type="REFUND",
                 transaction_id=refund.refund_no, transaction_fee=refund.refund_fee,
                 message_detail=refund.message_detail, optional=refund.optional)


def _queue(bill: Bill, transaction_type: str, body: Callable[[Merchant, int], dict],
           now_ms: int | None) -> WebhookDelivery | None:
    now = clock_now_ms() if now_ms is None else now_ms
    merchant = db.session.execute(
        db.select(Merchant).where(Merchant.app_id == bill.app_id)).scalar_one()
    url = bill.notify_url or merchant.webhook_url
    if not url:
        return None
    delivery = WebhookDelivery(
        app_id=bill.app_id, bill_id=bill.id, transaction_type=transaction_type, url=url,
        body=json.dumps(body(merchant, now), ensure_ascii=False, separators=(",", ":")),
        status=WebhookDelivery.PENDING, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    return delivery


def queue_payment(bill: Bill, *, now_ms: int | None = None) -> WebhookDelivery | None:
    """Add the PAY webhook of a just-paid bill to the outbox, inside the
    caller's transaction. None when neither the bill nor the merchant has
    a URL to notify."""
    return _queue(bill, "PAY", lambda merchant, now: payment_body(bill, merchant, now), now_ms)


def queue_refund(refund: Refund, bill: Bill, *,
                 now_ms: int | None = None) -> WebhookDelivery | None:
    """Add the REFUND webhook of a just-succeeded refund to the outbox, inside
    the transaction that marks it SUCCESS (``checkout.sandbox.refunds``), to
    the bill's notify_url or the merchant's webhook URL; retried on the same
    schedule as payments, counted from the refund's success."""
    return _queue(bill, "REFUND",
                  lambda merchant, now: refund_body(refund, bill, merchant, now), now_ms)


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
#
# A worker claims ONE delivery right before sending it: a conditional UPDATE
# sets ``claimed_until`` (the lease) and commits, the POST runs outside any
# transaction, and the outcome is written only while that lease is still
# ours. Claiming a batch under one lease let a slow receiver run the lease
# out halfway through the batch, and a second worker then sent the tail again
# (issue 12: 6 duplicates of 20).
#
# So that a send can never outlive its claim:
#     lease = send deadline (WEBHOOK_TIMEOUT_SECONDS) + WEBHOOK_LEASE_MARGIN_SECONDS
# and the send is cut off at ``lease - margin``, a hard deadline from connect
# to last byte (``post``). The margin is the time left to write the outcome,
# and it must also cover how far the workers' clocks may disagree, since
# another worker judges the lease by its own clock. A crashed worker's claim
# simply expires, and the delivery is sent again by whoever claims it next.

@dataclass(frozen=True)
class Claim:
    id: int
    lease_until: int
    url: str
    body: str


def send_deadline_ms() -> int:
    """The longest one attempt may take, connect to last byte."""
    return round(float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10.0)) * 1000)


def lease_margin_ms() -> int:
    """How long a claim outlasts its send: time to record the outcome, plus
    the most the workers' clocks may differ."""
    return round(float(current_app.config.get("WEBHOOK_LEASE_MARGIN_SECONDS", 5.0)) * 1000)


def lease_ms() -> int:
    return send_deadline_ms() + lease_margin_ms()


def claim(now: int) -> Claim | None:
    """Claim the delivery due first, for one send; None when nothing is due
    and unclaimed."""
    unclaimed = or_(WebhookDelivery.claimed_until.is_(None),
                    WebhookDelivery.claimed_until < now)
    due = (db.select(WebhookDelivery.id, WebhookDelivery.url, WebhookDelivery.body)
           .where(WebhookDelivery.status == WebhookDelivery.PENDING,
                  WebhookDelivery.next_attempt_at <= now, unclaimed)
           .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
           .limit(1))
    if db.session.get_bind().dialect.name == "postgresql":
        # Workers skip a row another worker is claiming instead of queueing.
        due = due.with_for_update(skip_locked=True)
    while True:
        row = db.session.execute(due).first()
        if row is None:
            db.session.commit()
            return None
        lease_until = now + lease_ms()
        # The claim itself on SQLite (one writer at a time: of two workers
        # that read the same row, only the first UPDATE matches); a harmless
        # re-check on PostgreSQL, where the row is already locked.
        won = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id,
                   WebhookDelivery.status == WebhookDelivery.PENDING, unclaimed)
            .values(claimed_until=lease_until)
            .execution_options(synchronize_session=False)).rowcount == 1
        db.session.commit()
        if won:
            return Claim(row.id, lease_until, row.url, row.body)
        # Another worker claimed it between our read and our write: look again.


def release(delivery_id: int, lease_until: int) -> None:
    """Give a claim back unsent, so the next worker need not wait for its lease."""
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claimed_until == lease_until)
        .values(claimed_until=None)
        .execution_options(synchronize_session=False))
    db.session.commit()


@dataclass
class Outcome:
    delivered: bool
    error: str = ""


def post(url: str, body: str, deadline_seconds: float) -> Outcome:
    """One attempt, over by ``deadline_seconds`` whatever the receiver does:
    delivered only if the merchant answered exactly ``success``.

    httpx's timeouts bound each connect, write and read on its own, so a
    receiver that trickles its answer a byte at a time keeps a request open
    indefinitely (encode/httpx#1450); the whole request therefore runs under
    ``asyncio.timeout``, which closes the connection when the deadline
    passes. It runs on an event loop of its own in a thread of its own: the
    caller's thread may be running a loop already (Playwright's sync API
    does), and a thread runs one loop at a time."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(_post_on_own_loop, url, body, deadline_seconds).result()


def _post_on_own_loop(url: str, body: str, deadline_seconds: float) -> Outcome:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_post(url, body, deadline_seconds))
    finally:
        # Not ``asyncio.run``: its shutdown would wait for an abandoned DNS
        # lookup in the loop's thread pool after the deadline.
        loop.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once per process: loading the CA
    bundle for every client took most of a local send's time (~60 ms)."""
    return httpx.create_ssl_context()


async def _post(url: str, body: str, deadline_seconds: float) -> Outcome:
    timeout = httpx.Timeout(deadline_seconds, connect=min(deadline_seconds, 5.0))
    try:
        async with asyncio.timeout(deadline_seconds):
            async with httpx.AsyncClient(timeout=timeout, verify=_tls_context(),
                                         follow_redirects=False) as client:
                response = await client.post(url, content=body.encode("utf-8"),
                                             headers={"Content-Type": "application/json"})
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(False, f"Timeout: no complete answer within {deadline_seconds:.3g} s")
    except httpx.HTTPError as error:
        return Outcome(False, f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT])
    if response.text == SUCCESS_BODY and response.is_success:
        return Outcome(True)
    shown = response.text[:80].replace("\n", " ")
    return Outcome(False, f"HTTP {response.status_code}, answered {shown!r} instead of "
                          f"'success'"[:MAX_ERROR_TEXT])


def record(delivery_id: int, lease_until: int, outcome: Outcome, now: int) -> str | None:
    """Write an attempt's outcome if our lease still holds; the new status,
    or None when the lease was lost (the outcome is then not written)."""
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
              send: Callable[[str, str, float], Outcome] = post) -> int:
    """Send every delivery due now, claiming each right before its send; the
    number of attempts made. ``now`` and ``send`` are injectable for tests."""
    attempts = 0
    while True:
        claimed = claim(now())
        if claimed is None:
            return attempts
        # The send ends a margin before the lease does, however long the
        # claim took to commit.
        deadline_ms = claimed.lease_until - lease_margin_ms() - now()
        if deadline_ms <= 0:
            release(claimed.id, claimed.lease_until)
            log.warning("webhook %s: claiming it took the whole send deadline; "
                        "released unsent", claimed.id)
            return attempts
        outcome = send(claimed.url, claimed.body, deadline_ms / 1000)
        status = record(claimed.id, claimed.lease_until, outcome, now())
        attempts += 1
        if status is None:
            # Our lease ran out before the outcome was written and another
            # worker has claimed the delivery: it may reach the merchant twice.
            log.warning("webhook %s to %s: another worker took it over before this attempt "
                        "was recorded (raise WEBHOOK_LEASE_MARGIN_SECONDS)",
                        claimed.id, _safe_url(claimed.url))
        elif status == WebhookDelivery.GAVE_UP:
            log.warning("webhook %s to %s given up after %s attempts", claimed.id,
                        _safe_url(claimed.url), MAX_RETRY_EXPONENT + 1)
        elif not outcome.delivered:
            log.info("webhook %s to %s not delivered: %s", claimed.id, _safe_url(claimed.url),
                     outcome.error)


def _safe_url(url: str) -> str:
    """Scheme, host and path only: a query string might carry a merchant's token."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{':' + str(parts.port) if parts.port else ''}{parts.path}"
