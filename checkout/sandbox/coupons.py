"""Coupons in the embedded gateway (seed 003, lines 1280-1424: "营销系统").

A merchant app defines coupon *templates* and issues *coupons* from them to
its buyers (``user_id`` is the bill's ``buyer_id``). A bill created with a
``coupon_id`` costs ``bill_fee − discount``; the coupon is consumed when that
bill is PAID, never when it is created, so a shopper who abandons a bill (or
whose bill is closed) keeps the coupon.

Two bills may carry the same unused coupon at once (the shopper opened
Alipay, then WeChat; or two tabs). Whichever is paid first consumes the coupon
with a conditional ``UPDATE … WHERE status = 0``; the other bill's payment is
then REFUSED (``consume_for_bill`` answers False and settlement does not pay
it). We chose refusing over charging the full price: the shopper agreed to the
discounted price, and a channel must never take a different amount from the
one it showed. Nothing is charged twice and no coupon is used twice.

Coupons are the app's, shared by live and test (sandbox) mode.
Money is integer fen; the rounding rule lives in ``checkout.money``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, update

from .. import money
from ..clock import now_ms as clock_now_ms
from ..db import db
from ..models import Bill, Coupon, CouponTemplate, Merchant

DAY_MS = 24 * 3600 * 1000
MAX_USER_ID = 64  # seed 003 line 359: buyer_id is at most 64 characters
DEFAULT_LIMIT = 10  # seed 003 lines 1353/1405: "limit … 默认为10"
MAX_LIMIT = 50


class CouponRefused(ValueError):
    """A coupon (or a coupon request) that cannot be accepted.

    ``err_detail`` is the precise English text for API callers; ``reason`` is a
    stable key the checkout turns into a sentence in the shopper's language;
    ``result_code`` is BeeCloud's (seed 001: 4 MISS_PARAM, 5 PARAM_INVALID)."""

    def __init__(self, err_detail: str, *, reason: str = "invalid", result_code: int = 5):
        super().__init__(err_detail)
        self.err_detail = err_detail
        self.reason = reason
        self.result_code = result_code


# --- the discount -----------------------------------------------------------------

def template_discount(template: CouponTemplate, bill_fee: int) -> int:
    """What ``template`` takes off ``bill_fee`` fen, the shopper still paying
    at least 1 fen (``money.capped_discount``)."""
    if template.type == CouponTemplate.PERCENTAGE:
        raw = money.percentage_discount(bill_fee, Decimal(template.ratio_bp) / Decimal(10000))
    else:
        raw = int(template.amount_off or 0)
    return money.capped_discount(bill_fee, raw)


def _check_usable(coupon: Coupon | None, template: CouponTemplate | None, merchant: Merchant,
                  buyer_id: object, bill_fee: int, now: int) -> int:
    """The discount ``coupon`` gives this buyer on ``bill_fee`` now, or CouponRefused."""
    if coupon is None or template is None or coupon.app_id != merchant.app_id:
        # Another app's coupon is answered exactly like a missing one.
        raise CouponRefused("no such coupon for this app", reason="not_found")
    if not isinstance(buyer_id, str) or not buyer_id:
        raise CouponRefused("buyer_id is required with coupon_id (seed 003: the coupon's "
                            "user_id must match the bill's buyer_id)", reason="no_buyer",
                            result_code=4)
    if coupon.user_id != buyer_id:
        raise CouponRefused("the coupon was not issued to this buyer_id", reason="not_yours")
    if coupon.status != Coupon.UNUSED:
        raise CouponRefused("the coupon has already been used", reason="used")
    if template.status != CouponTemplate.ACTIVE:
        raise CouponRefused("the coupon's template is not active", reason="inactive")
    if coupon.start_time is not None and now < coupon.start_time:
        raise CouponRefused("the coupon is not valid yet", reason="not_yet_valid")
    if coupon.end_time is not None and now > coupon.end_time:
        raise CouponRefused("the coupon has expired", reason="expired")
    if template.limit_fee > bill_fee:
        raise CouponRefused(f"the coupon needs a bill of at least {template.limit_fee} fen "
                            f"(limit_fee); this bill is {bill_fee} fen", reason="below_limit")
    return template_discount(template, bill_fee)


def _load(coupon_id: object) -> tuple[Coupon | None, CouponTemplate | None]:
    if not isinstance(coupon_id, str) or not coupon_id or len(coupon_id) > 36:
        return None, None
    coupon = db.session.get(Coupon, coupon_id)
    template = db.session.get(CouponTemplate, coupon.template_id) if coupon else None
    return coupon, template


def discount_for_bill(merchant: Merchant, coupon_id: object, buyer_id: object, bill_fee: int,
                      *, now_ms: int | None = None) -> int:
    """The discount in fen for a new bill of ``bill_fee`` fen using ``coupon_id``.

    Accepted only if the coupon belongs to the app and to ``buyer_id``, is
    unused, valid now, its template active, and ``limit_fee`` ≤ ``bill_fee``
    (seed 003 lines 1300, 1328, 1336-1339). Raises ``CouponRefused``."""
    coupon, template = _load(coupon_id)
    now = clock_now_ms() if now_ms is None else now_ms
    return _check_usable(coupon, template, merchant, buyer_id, int(bill_fee), now)


def consume_for_bill(bill: Bill, *, now_ms: int | None = None) -> bool:
    """Mark the bill's coupon used, inside the caller's transaction (settlement's
    ``mark_paid``). True when the bill has no coupon, or this bill now holds it
    (again: idempotent); False when another bill consumed it first — the caller
    must then not pay this bill (see the module docstring)."""
    if not bill.coupon_id or not bill.discount:
        return True
    now = clock_now_ms() if now_ms is None else now_ms
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.id == bill.coupon_id, Coupon.status == Coupon.UNUSED)
        .values(status=Coupon.USED, use_time=now, used_by_bill=bill.id, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount == 1:
        template_id = db.session.scalar(db.select(Coupon.template_id)
                                        .where(Coupon.id == bill.coupon_id))
        db.session.execute(
            update(CouponTemplate).where(CouponTemplate.id == template_id)
            .values(use_count=CouponTemplate.use_count + 1, updated_at=now)
            .execution_options(synchronize_session=False))
        _expire(bill.coupon_id)
        return True
    holder = db.session.scalar(db.select(Coupon.used_by_bill).where(Coupon.id == bill.coupon_id))
    return holder == bill.id


def release_for_bill(bill: Bill, *, now_ms: int | None = None) -> bool:
    """Give the coupon back when the payment that consumed it is undone (e.g. an
    offline REVERT). Only the bill holding the coupon can release it. In the
    caller's transaction; True if a coupon went back to unused."""
    if not bill.coupon_id:
        return False
    now = clock_now_ms() if now_ms is None else now_ms
    template_id = db.session.scalar(db.select(Coupon.template_id)
                                    .where(Coupon.id == bill.coupon_id))
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.id == bill.coupon_id, Coupon.status == Coupon.USED,
               Coupon.used_by_bill == bill.id)
        .values(status=Coupon.UNUSED, use_time=None, used_by_bill=None, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    db.session.execute(
        update(CouponTemplate).where(CouponTemplate.id == template_id)
        .values(use_count=CouponTemplate.use_count - 1, updated_at=now)
        .execution_options(synchronize_session=False))
    _expire(bill.coupon_id)
    return True


def _expire(coupon_id: str) -> None:
    """Objects already loaded in this session must not show stale values."""
    coupon = db.session.identity_map.get(db.session.identity_key(Coupon, coupon_id))
    if coupon is not None:
        db.session.expire(coupon)
        template = db.session.identity_map.get(
            db.session.identity_key(CouponTemplate, coupon.template_id))
        if template is not None:
            db.session.expire(template)


# --- what a buyer can use (the checkout's coupon block) -----------------------------

@dataclass(frozen=True)
class UsableCoupon:
    coupon_id: str
    name: str
    type: int
    discount: int  # fen taken off this bill
    to_pay: int  # fen the shopper pays
    limit_fee: int
    end_time: int | None


def usable_coupons(merchant: Merchant, buyer_id: object, bill_fee: int, *,
                   now_ms: int | None = None) -> list[UsableCoupon]:
    """The buyer's coupons that ``discount_for_bill`` would accept for this
    amount now, the biggest saving first (then the one expiring soonest)."""
    if not isinstance(buyer_id, str) or not buyer_id or len(buyer_id) > MAX_USER_ID:
        return []
    now = clock_now_ms() if now_ms is None else now_ms
    rows = db.session.execute(
        db.select(Coupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(Coupon.app_id == merchant.app_id, Coupon.user_id == buyer_id,
               Coupon.status == Coupon.UNUSED)).all()
    usable = []
    for coupon, template in rows:
        try:
            discount = _check_usable(coupon, template, merchant, buyer_id, int(bill_fee), now)
        except CouponRefused:
            continue
        if discount <= 0:
            continue
        usable.append(UsableCoupon(coupon.id, template.name, template.type, discount,
                                   int(bill_fee) - discount, template.limit_fee, coupon.end_time))
    far = 2 ** 62
    usable.sort(key=lambda c: (-c.discount, c.end_time if c.end_time is not None else far,
                               c.coupon_id))
    return usable


# --- templates ------------------------------------------------------------------------

def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise CouponRefused(f"{field} must be a number", result_code=5)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CouponRefused(f"{field} must be a number", result_code=5) from None
    if not number.is_finite():
        raise CouponRefused(f"{field} must be a finite number")
    return number


def _whole(value: object, field: str, *, minimum: int = 0, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CouponRefused(f"{field} must be an integer ≥ {minimum}")
    return value


def create_template(merchant: Merchant, *, name: str, type: int, discount: object,
                    limit_fee: int = 0, total_count: int = 0, max_count_per_user: int = 0,
                    expiry_type: int = CouponTemplate.WINDOW, start_time: int | None = None,
                    end_time: int | None = None, delivery_valid_days: int | None = None,
                    status: int = CouponTemplate.ACTIVE, code: str | None = None,
                    now_ms: int | None = None) -> CouponTemplate:
    """A new template. ``discount`` is as on the wire (seed 003 line 1329): yuan
    for type 0 (at most two decimals, e.g. "10" or "0.5"), the ratio paid for
    type 1 (0 < ratio < 1, at most four decimals, e.g. "0.9" = 9折)."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        raise CouponRefused("name must be 1-64 characters")
    if type not in (CouponTemplate.AMOUNT_OFF, CouponTemplate.PERCENTAGE):
        raise CouponRefused("type must be 0 (amount off) or 1 (percentage)")
    value = _decimal(discount, "discount")
    amount_off = ratio_bp = None
    if type == CouponTemplate.AMOUNT_OFF:
        try:
            amount_off = money.decimal_to_minor(value, "CNY")
        except money.MoneyError:
            raise CouponRefused("discount (yuan) must have at most two decimals") from None
        if amount_off <= 0:
            raise CouponRefused("discount (yuan) must be positive")
    else:
        if not Decimal(0) < value < Decimal(1):
            raise CouponRefused("discount must be a ratio between 0 and 1 for type 1, "
                                "e.g. 0.9 for 10% off")
        scaled = value.scaleb(4)
        if scaled != scaled.to_integral_value():
            raise CouponRefused("discount ratio must have at most four decimals")
        ratio_bp = int(scaled)
    limit_fee = _whole(limit_fee, "limit_fee")
    total_count = _whole(total_count, "total_count")
    max_count_per_user = _whole(max_count_per_user, "max_count_per_user")
    if expiry_type == CouponTemplate.WINDOW:
        start_time = _whole(start_time, "start_time", allow_none=True)
        end_time = _whole(end_time, "end_time", allow_none=True)
        if start_time is not None and end_time is not None and end_time <= start_time:
            raise CouponRefused("end_time must be after start_time")
        delivery_valid_days = None
    elif expiry_type == CouponTemplate.DAYS_AFTER_DELIVERY:
        delivery_valid_days = _whole(delivery_valid_days, "delivery_valid_days", minimum=1)
        start_time = end_time = None
    else:
        raise CouponRefused("expiry_type must be 1 (template window) or 2 (days after delivery)")
    if status not in (CouponTemplate.NOT_STARTED, CouponTemplate.ACTIVE, CouponTemplate.STOPPED):
        raise CouponRefused("status must be 0, 1 or -1")
    if code is not None and (not isinstance(code, str) or len(code) > 32):
        raise CouponRefused("code must be at most 32 characters")
    now = clock_now_ms() if now_ms is None else now_ms
    template = CouponTemplate(
        id=str(uuid.uuid4()), app_id=merchant.app_id, name=name.strip(), type=type, code=code,
        limit_fee=limit_fee, amount_off=amount_off, ratio_bp=ratio_bp, total_count=total_count,
        max_count_per_user=max_count_per_user, deliver_count=0, use_count=0,
        expiry_type=expiry_type, start_time=start_time, end_time=end_time,
        delivery_valid_days=delivery_valid_days, status=status, mch_account=merchant.name,
        created_at=now, updated_at=now)
    db.session.add(template)
    db.session.commit()
    return template


def set_template_status(merchant: Merchant, template_id: str, status: int, *,
                        now_ms: int | None = None) -> CouponTemplate:
    """Start (1) or stop (-1) a template; a stopped template's coupons stop working."""
    template = get_template(merchant, template_id)
    if template is None:
        raise CouponRefused("no such coupon template for this app", reason="not_found")
    if status not in (CouponTemplate.NOT_STARTED, CouponTemplate.ACTIVE, CouponTemplate.STOPPED):
        raise CouponRefused("status must be 0, 1 or -1")
    template.status = status
    template.updated_at = clock_now_ms() if now_ms is None else now_ms
    db.session.commit()
    return template


def get_template(merchant: Merchant, template_id: object) -> CouponTemplate | None:
    if not isinstance(template_id, str) or not template_id or len(template_id) > 36:
        return None
    template = db.session.get(CouponTemplate, template_id)
    return template if template is not None and template.app_id == merchant.app_id else None


def _page(filters: dict) -> tuple[int, int]:
    skip = filters.get("skip", 0)
    limit = filters.get("limit", DEFAULT_LIMIT)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise CouponRefused("skip must be an integer ≥ 0")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise CouponRefused(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return skip, limit


def _created_window(query, column, filters: dict):
    for field, compare in (("created_before", column.__le__), ("created_after", column.__ge__)):
        if filters.get(field) is not None:
            value = filters[field]
            if isinstance(value, bool) or not isinstance(value, int):
                raise CouponRefused(f"{field} must be a millisecond timestamp")
            query = query.where(compare(value))
    return query


def query_templates(merchant: Merchant, filters: dict) -> list[CouponTemplate]:
    """Seed 003 lines 1341-1358: name, created_before, created_after, skip, limit."""
    skip, limit = _page(filters)
    query = db.select(CouponTemplate).where(CouponTemplate.app_id == merchant.app_id)
    if filters.get("name") is not None:
        if not isinstance(filters["name"], str):
            raise CouponRefused("name must be a string")
        query = query.where(CouponTemplate.name == filters["name"])
    query = _created_window(query, CouponTemplate.created_at, filters)
    query = query.order_by(CouponTemplate.created_at.desc(), CouponTemplate.id)
    return list(db.session.execute(query.offset(skip).limit(limit)).scalars())


# --- issuing --------------------------------------------------------------------------

def issue_coupon(merchant: Merchant, template_id: object, user_id: object, *,
                 now_ms: int | None = None) -> Coupon:
    """``POST /2/rest/coupon``: give one coupon of ``template_id`` to ``user_id``.

    ``total_count`` and ``max_count_per_user`` hold under concurrency: the
    template row is claimed first with a conditional UPDATE (a row lock on
    PostgreSQL, the write lock on SQLite), so the per-user count that follows
    sees every earlier issue."""
    if template_id is None or template_id == "":
        raise CouponRefused("template_id is required", result_code=4)
    if user_id is None or user_id == "":
        raise CouponRefused("user_id is required", result_code=4)
    if not isinstance(user_id, str) or len(user_id) > MAX_USER_ID:
        raise CouponRefused(f"user_id must be a string of at most {MAX_USER_ID} characters")
    template = get_template(merchant, template_id)
    if template is None:
        raise CouponRefused("no such coupon template for this app", reason="not_found")
    if template.status != CouponTemplate.ACTIVE:
        raise CouponRefused("the coupon template is not active", reason="inactive")
    now = clock_now_ms() if now_ms is None else now_ms
    if template.expiry_type == CouponTemplate.WINDOW:
        start, end = template.start_time, template.end_time
        if end is not None and now > end:
            raise CouponRefused("the coupon template's validity window is over", reason="expired")
    else:
        start, end = now, now + template.delivery_valid_days * DAY_MS
    claimed = db.session.execute(
        update(CouponTemplate)
        .where(CouponTemplate.id == template.id,
               (CouponTemplate.total_count == 0)
               | (CouponTemplate.deliver_count < CouponTemplate.total_count))
        .values(deliver_count=CouponTemplate.deliver_count + 1, updated_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise CouponRefused("all coupons of this template have been issued (total_count)",
                            reason="sold_out")
    if template.max_count_per_user:
        held = db.session.scalar(db.select(func.count()).select_from(Coupon).where(
            Coupon.template_id == template.id, Coupon.user_id == user_id))
        if held >= template.max_count_per_user:
            db.session.rollback()
            raise CouponRefused("this user already holds the most coupons of this template "
                                "(max_count_per_user)", reason="per_user_limit")
    coupon = Coupon(id=str(uuid.uuid4()), template_id=template.id, app_id=merchant.app_id,
                    user_id=user_id, status=Coupon.UNUSED, start_time=start, end_time=end,
                    created_at=now, updated_at=now)
    db.session.add(coupon)
    db.session.commit()
    db.session.refresh(template)
    return coupon


def get_coupon(merchant: Merchant, coupon_id: object) -> Coupon | None:
    coupon, _template = _load(coupon_id)
    return coupon if coupon is not None and coupon.app_id == merchant.app_id else None


def query_coupons(merchant: Merchant, filters: dict) -> list[Coupon]:
    """Seed 003 lines 1390-1412: user_id, template_id, status, limit_fee (coupons
    whose template's limit_fee is met by that amount), created_before,
    created_after, skip, limit."""
    skip, limit = _page(filters)
    query = db.select(Coupon).where(Coupon.app_id == merchant.app_id)
    for field in ("user_id", "template_id"):
        if filters.get(field) is not None:
            if not isinstance(filters[field], str):
                raise CouponRefused(f"{field} must be a string")
            query = query.where(getattr(Coupon, field) == filters[field])
    if filters.get("status") is not None:
        if filters["status"] not in (Coupon.UNUSED, Coupon.USED) or isinstance(filters["status"], bool):
            raise CouponRefused("status must be 0 (unused) or 1 (used)")
        query = query.where(Coupon.status == filters["status"])
    if filters.get("limit_fee") is not None:
        fee = filters["limit_fee"]
        if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
            raise CouponRefused("limit_fee must be an integer number of fen")
        query = query.join(CouponTemplate, CouponTemplate.id == Coupon.template_id) \
            .where(CouponTemplate.limit_fee <= fee)
    query = _created_window(query, Coupon.created_at, filters)
    query = query.order_by(Coupon.created_at.desc(), Coupon.id)
    return list(db.session.execute(query.offset(skip).limit(limit)).scalars())


# --- wire shapes (seed 003 lines 1297-1340) ----------------------------------------------

def _wire_discount(template: CouponTemplate) -> float:
    if template.type == CouponTemplate.PERCENTAGE:
        return float(Decimal(template.ratio_bp) / Decimal(10000))
    return float(money.minor_to_decimal(template.amount_off or 0, "CNY"))


def template_to_wire(template: CouponTemplate) -> dict:
    return {
        "id": template.id,
        "name": template.name,
        "type": template.type,
        "code": template.code,
        "limit_fee": template.limit_fee,
        "discount": _wire_discount(template),
        "total_count": template.total_count,
        "max_count_per_user": template.max_count_per_user,
        "deliver_count": template.deliver_count,
        "use_count": template.use_count,
        "expiry_type": template.expiry_type,
        "start_time": template.start_time,
        "end_time": template.end_time,
        "delivery_valid_days": template.delivery_valid_days,
        "status": template.status,
        "mch_account": template.mch_account,
        "app_id": template.app_id,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


def coupon_to_wire(coupon: Coupon, template: CouponTemplate | None = None) -> dict:
    template = template or db.session.get(CouponTemplate, coupon.template_id)
    return {
        "id": coupon.id,
        "template": template_to_wire(template),
        "user_id": coupon.user_id,
        "app_id": coupon.app_id,
        "status": coupon.status,
        "created_at": coupon.created_at,
        "updated_at": coupon.updated_at,
        "start_time": coupon.start_time,
        "end_time": coupon.end_time,
        "use_time": coupon.use_time,
    }
