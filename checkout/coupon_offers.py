"""The coupon block of the checkout's chooser (button UI 4.0, seed 003 lines 333-334).

With a buyer id (``buyer_id``, or the button script's ``useId``) the shopper
sees their coupons usable for this amount, the biggest saving preselected, and
may pick another or none. A ``coupon_id`` given by the merchant is preselected
when usable; otherwise the shopper is told why not (``notice``, a reason key
from ``checkout.sandbox.coupons.CouponRefused``).

The merchant's ``sign`` covers the original amount; the discount is applied by
the gateway when the bill is created (the request carries ``total_fee`` = the
order's amount plus ``coupon_id`` and ``buyer_id``), so the amount shown here
is the gateway's own rule (``checkout.sandbox.coupons`` / ``checkout.money``).

Coupons come from the embedded gateway. A remote gateway may offer the same
by having ``usable_coupons(merchant, buyer_id, bill_fee)`` and
``coupon_discount(merchant, coupon_id, buyer_id, bill_fee)``; without them the
checkout simply shows no coupons (a merchant's ``coupon_id`` is still sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from .gateway import get_gateway
from .models import Merchant
from .sandbox import coupons as sandbox_coupons
from .sandbox.coupons import CouponRefused, UsableCoupon

NO_COUPON = "none"  # the form value of "pay without a coupon"


@dataclass
class CouponOffer:
    bill_fee: int
    choices: list[UsableCoupon] = field(default_factory=list)
    selected: UsableCoupon | None = None
    notice: str | None = None  # why the merchant's coupon_id cannot be used

    @property
    def discount(self) -> int:
        return self.selected.discount if self.selected else 0

    @property
    def to_pay(self) -> int:
        return self.bill_fee - self.discount

    @property
    def coupon_id(self) -> str | None:
        return self.selected.coupon_id if self.selected else None


def _source(gateway):
    """(usable_coupons, discount_check) of the gateway in use."""
    if gateway is None:
        if current_app.config.get("GATEWAY", "embedded") == "embedded":
            return sandbox_coupons.usable_coupons, sandbox_coupons.discount_for_bill
        gateway = get_gateway()
    return getattr(gateway, "usable_coupons", None), getattr(gateway, "coupon_discount", None)


def coupon_offer(merchant: Merchant, buyer_id: str | None, amount: int, *,
                 merchant_coupon_id: str | None = None, chosen: str | None = None,
                 currency: str = "CNY", gateway=None, now_ms: int | None = None) -> CouponOffer:
    """What the chooser shows. ``chosen`` is the shopper's pick from the form:
    None (not picked yet: preselect), ``NO_COUPON``, or a coupon id."""
    offer = CouponOffer(bill_fee=int(amount))
    if currency != "CNY":
        # Coupons are in yuan (seed 003 line 1329); they apply to CNY orders only.
        offer.notice = "currency" if merchant_coupon_id else None
        return offer
    if not buyer_id:
        offer.notice = "no_buyer" if merchant_coupon_id else None
        return offer
    list_usable, check_one = _source(gateway)
    if list_usable is None:
        return offer
    kwargs = {"now_ms": now_ms} if now_ms is not None else {}
    offer.choices = list_usable(merchant, buyer_id, offer.bill_fee, **kwargs)
    by_id = {choice.coupon_id: choice for choice in offer.choices}
    if merchant_coupon_id and merchant_coupon_id not in by_id and check_one is not None:
        try:
            check_one(merchant, merchant_coupon_id, buyer_id, offer.bill_fee, **kwargs)
        except CouponRefused as refused:
            offer.notice = refused.reason
    if chosen == NO_COUPON:
        offer.selected = None
    elif chosen in by_id:
        offer.selected = by_id[chosen]
    elif merchant_coupon_id in by_id:
        offer.selected = by_id[merchant_coupon_id]
    elif offer.choices:
        offer.selected = offer.choices[0]  # the biggest saving (usable_coupons' order)
    return offer


# --- the shopper's choice, kept on the order (in the database: any worker may serve the next step) ---

CHOICE_KEY = "coupon_choice"


def buyer_of(order) -> str | None:
    """The buyer whose coupons apply: ``buyer_id``, else the script's ``useId``
    (seed 003 line 333) if the entry kept it in ``order.extra["use_id"]``."""
    return order.buyer_id or (order.extra or {}).get("use_id") or None


def offer_for_order(order, merchant: Merchant, *, now_ms: int | None = None) -> CouponOffer:
    return coupon_offer(merchant, buyer_of(order), order.amount,
                        merchant_coupon_id=order.coupon_id,
                        chosen=(order.extra or {}).get(CHOICE_KEY),
                        currency=order.currency or "CNY", now_ms=now_ms)


def choose_coupon(order, choice: object) -> bool:
    """Keep the shopper's pick (a coupon id, or ``NO_COUPON``) for this order.
    False for a value that cannot be a pick; whether it is usable is decided
    again each time the offer is made, so a stale pick is simply not applied."""
    if not isinstance(choice, str) or not choice or len(choice) > 36:
        return False
    from .db import db

    order.extra = {**(order.extra or {}), CHOICE_KEY: choice}
    db.session.commit()
    return True


def bill_coupon_fields(order, merchant: Merchant, offer: CouponOffer | None = None) -> dict:
    """The coupon part of the gateway's bill request for this order: the
    selected ``coupon_id`` with its ``buyer_id`` (``total_fee`` stays the
    signed amount; the gateway takes the discount off)."""
    fields = {}
    buyer = buyer_of(order)
    if buyer:
        fields["buyer_id"] = buyer
    selected = (offer or offer_for_order(order, merchant)).coupon_id
    if selected:
        fields["coupon_id"] = selected
    return fields


TO_PAY_KEY = "to_pay"


def price_to_pay(order) -> int:
    """What the shopper pays for this order, in minor units: the amount left
    by the coupon when a channel's bill was opened (kept on the order, since
    once paid the coupon is used up and would no longer be offered), or the
    signed amount before any bill."""
    return int((order.extra or {}).get(TO_PAY_KEY, order.amount))
