"""Bill expiry and closing: the one rule for "can this bill still be paid?".

A bill created with ``bill_timeout`` (seed 001 line 51: seconds, a positive
integer) gets ``expires_at = create_time + bill_timeout`` (ms). From that
moment on it can no longer be paid, whether or not a worker has closed it
yet: every reader asks ``state(bill, now)`` (the cashier, the checkout's
status through the embedded gateway, re-creating the bill) and every writer
uses ``payable(now)`` in its conditional UPDATE (settlement's ``mark_paid``
and ``mark_failed``), so they all agree at any moment. ``close_expired`` —
a timed job every ``flask --app wsgi webhooks work`` runs
(``checkout.sandbox.jobs``) — only makes the rule durable: status CLOSED.

Closing tells time-outs from other ends by ``expires_at`` alone, with no
column of its own: a bill closed for any other reason (another channel of its
order was paid, or someone closed it) before its time was up loses its
``expires_at``, so it reads ``closed`` for good; a bill closed because its
time ran out keeps it, so it reads ``expired`` before and after the job.

Nothing here touches ``flask.request``; ``now`` is milliseconds
(``checkout.clock``), passed in where tests move time.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import and_, case, or_, update

from .. import clock
from ..db import db
from ..models import Bill

log = logging.getLogger(__name__)

# What a bill is, as the cashier and the checkout's status say it.
OPEN, PAID, FAILED, CLOSED, EXPIRED = "open", "paid", "failed", "closed", "expired"
# Statuses that the passing of time still ends: an OPEN bill could be paid, a
# FAILED one may be tried again (``bills._same_order_check`` reopens it, or
# the hosted checkout replaces it, ``close_to_reopen``).
UNFINISHED = (Bill.OPEN, Bill.FAILED)
# Why a bill is closed (``close_bill``): only EXPIRY keeps ``expires_at``.
EXPIRY, PAID_ELSEWHERE, ENDED = "expired", "paid_elsewhere", "closed"
REASONS = (EXPIRY, PAID_ELSEWHERE, ENDED)


def _now(now: int | None) -> int:
    return clock.now_ms() if now is None else now


def is_expired(bill: Bill, now: int | None = None) -> bool:
    """The bill's time ran out at or before ``now`` and it was not paid (nor
    closed for another reason first, see the module's note)."""
    return (bill.status in (*UNFINISHED, Bill.CLOSED) and bill.expires_at is not None
            and bill.expires_at <= _now(now))


def state(bill: Bill, now: int | None = None) -> str:
    """The bill at ``now``: ``open`` (the only state that can be paid),
    ``paid``, ``failed``, ``expired`` or ``closed`` (a REVERTED offline bill
    reads as closed)."""
    if bill.status == Bill.PAID:
        return PAID
    if is_expired(bill, now):
        return EXPIRED
    return {Bill.OPEN: OPEN, Bill.FAILED: FAILED}.get(bill.status, CLOSED)


def is_closed(bill: Bill, now: int | None = None) -> bool:
    """Ended for good at ``now``: never payable, never tried again."""
    return state(bill, now) in (CLOSED, EXPIRED)


def payable(now: int):
    """SQL: ``state(bill, now) == "open"``, for conditional UPDATEs."""
    return and_(Bill.status == Bill.OPEN,
                or_(Bill.expires_at.is_(None), Bill.expires_at > now))


def _closed_values(reason: str, now: int) -> dict:
    if reason == EXPIRY:
        return {"status": Bill.CLOSED}
    # Ended before its time: forget the time, so it never reads "expired".
    return {"status": Bill.CLOSED,
            "expires_at": case((Bill.expires_at <= now, Bill.expires_at), else_=None)}


def close_bill(bill: Bill, reason: str = ENDED, *, now: int | None = None) -> bool:
    """Close an OPEN bill for good; True when this call closed it. ``EXPIRY``
    closes only a bill whose time is up; any other reason closes it at once
    (an already expired bill still reads ``expired``). The caller commits."""
    assert reason in REASONS
    now = _now(now)
    condition = [Bill.id == bill.id]
    if reason == EXPIRY:
        condition += [Bill.status.in_(UNFINISHED), Bill.expires_at <= now]
    else:
        condition += [Bill.status == Bill.OPEN]
    closed = db.session.execute(
        update(Bill).where(*condition).values(**_closed_values(reason, now))
        .execution_options(synchronize_session=False)).rowcount == 1
    if closed:
        log.info("bill %s closed: %s", bill.id, reason)
    return closed


# --- re-opening a channel (issue 15, "expired and failed bills re-open") -------------------
# BeeCloud's REST API keeps one bill per (app, mode, bill_no, channel): a
# merchant re-creating an expired bill gets 7 ORDERCLOSED and uses a new
# bill_no (seed 003 line 39: "同一订单号不可重复提交"). The hosted checkout cannot
# change the merchant's out_trade_no, yet a shopper who left the QR page open
# must still be able to pay: so its hand-off (``checkout.handoff``) asks, for
# the length of its create-bill call, that a channel whose bill expired or
# failed get a NEW bill (new cashier token, new QR) for the same bill_no. The
# request travels through the Gateway interface, which speaks BeeCloud REST
# and has no field for it, hence a context variable rather than a parameter;
# a remote gateway never sees it and answers ORDERCLOSED as BeeCloud would.
_REOPEN = ContextVar("checkout_reopen_ended_bills", default=False)


@contextmanager
def reopening():
    """Within this block, ``bills.open_bill`` re-opens an expired or failed
    channel with a new bill instead of refusing (or reviving) it."""
    token = _REOPEN.set(True)
    try:
        yield
    finally:
        _REOPEN.reset(token)


def reopening_asked() -> bool:
    return _REOPEN.get()


def close_to_reopen(app_id: str, test_mode: bool, bill_no: str, channel: str,
                    now: int) -> int:
    """End the channel's expired or failed bill for good, in the caller's
    transaction (under the bill_no lock, ``bills._lock_bill_no``), just
    before its new bill is inserted: the order keeps at most one OPEN or
    FAILED bill per channel (the partial unique index
    ``uq_bills_live_channel``). A bill that is still payable is never
    touched. An expired one keeps ``expires_at`` (it still reads
    ``expired``); a failed one whose time was not up loses it, like any bill
    closed before its time (it reads ``closed``)."""
    return db.session.execute(
        update(Bill)
        .where(Bill.app_id == app_id, Bill.test_mode == test_mode, Bill.bill_no == bill_no,
               Bill.channel == channel,
               or_(Bill.status == Bill.FAILED,
                   and_(Bill.status == Bill.OPEN, Bill.expires_at <= now)))
        .values(**_closed_values(ENDED, now))
        .execution_options(synchronize_session=False)).rowcount


def close_other_bills(bill: Bill, *, now: int | None = None) -> int:
    """``bill`` was just paid: close its order's other OPEN bills (one order,
    one payment; architecture.md). Inside the payer's transaction; the caller
    commits. Answers how many were closed."""
    now = _now(now)
    return db.session.execute(
        update(Bill)
        .where(Bill.app_id == bill.app_id, Bill.test_mode == bill.test_mode,
               Bill.bill_no == bill.bill_no, Bill.id != bill.id, Bill.status == Bill.OPEN)
        .values(**_closed_values(PAID_ELSEWHERE, now))
        .execution_options(synchronize_session=False)).rowcount


def close_expired(now: int) -> int:
    """The worker's job (``checkout.sandbox.jobs``): close every unfinished
    bill whose time is up at ``now``; how many it closed. One conditional
    UPDATE, so any number of workers may run it at once: a row is closed by
    exactly one of them, and a bill paid a moment earlier is never touched."""
    closed = db.session.execute(
        update(Bill)
        .where(Bill.status.in_(UNFINISHED), Bill.expires_at.is_not(None),
               Bill.expires_at <= now)
        .values(status=Bill.CLOSED)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if closed:
        log.info("closed %d expired bill(s)", closed)
    return closed
