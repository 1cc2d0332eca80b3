"""Database tables shared by the checkout and the embedded gateway.

Rules about these rows live in the concept modules (``merchants``,
``sandbox.bills``, ``sandbox.webhooks``, ``orders`` …); this file only says
what is stored. Times are integer milliseconds (``checkout.clock``); money is
integer minor units (fen for CNY, see ``checkout.money``).
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint,
                        false, literal_column)
from sqlalchemy.orm import Mapped, mapped_column

from .db import db


def row_version() -> Mapped[int]:
    """A counter the database adds one to in every UPDATE of the row (ORM
    flushes and Core ``update()`` alike), so "has this row changed since?"
    is one integer comparison. The checkout's page cache keys on it
    (``checkout.page_cache``)."""
    return mapped_column(Integer, nullable=False, default=1, server_default="1",
                         onupdate=literal_column("version") + 1)


class Merchant(db.Model):
    """A merchant app, as BeeCloud's console knew it."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    app_secret: Mapped[str] = mapped_column(String(64), nullable=False)
    master_secret: Mapped[str] = mapped_column(String(64), nullable=False)
    test_secret: Mapped[str] = mapped_column(String(64), nullable=False)
    webhook_url: Mapped[Optional[str]] = mapped_column(Text)
    # Enabled button channels in the merchant's display order, e.g. ["ALI_WEB", "WX_NATIVE"].
    channels: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # Hosts (``shop.example.com`` or ``shop.example.com:8080``) a return_url may point at.
    return_hosts: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # Origins (``https://shop.example.com``) allowed to frame the checkout.
    frame_origins: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # WeChat official account used for JSAPI OAuth (secret never shown).
    wechat_appid: Mapped[Optional[str]] = mapped_column(String(64))
    wechat_secret: Mapped[Optional[str]] = mapped_column(String(128))
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    # "test": the hosted checkout's bills go to the simulated cashier (what every
    # merchant had before issue 14, hence the server default); "live": to the
    # channels, with the app's channel credentials (checkout.credentials).
    checkout_mode: Mapped[str] = mapped_column(String(4), nullable=False, default="test",
                                               server_default="test")
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    version: Mapped[int] = row_version()

    def __repr__(self) -> str:  # never the secrets
        return f"<Merchant {self.app_id} {self.name!r}>"


# The statuses of a bill that is not over (``Bill``'s partial unique index).
LIVE_BILL = "status IN ('OPEN', 'FAILED', 'PAID')"


def _only_set(name: str, *columns: str, unique: bool = False) -> Index:
    """An index of the rows whose last column is set: it is only ever searched
    for a value of that column (``= …``, ``<= …``), and most new bills have it
    NULL, so they add nothing to it (issue 16; migration 0015)."""
    where = literal_column(f"{columns[-1]} IS NOT NULL")
    return Index(name, *columns, unique=unique, sqlite_where=where, postgresql_where=where)


class Bill(db.Model):
    """A bill in the embedded gateway: one live row per (app, mode, bill_no, channel)."""

    __tablename__ = "bills"
    __table_args__ = (
        # One LIVE bill (open, failed or paid) per (app, mode, bill_no,
        # channel): the hosted checkout re-opens a channel whose bill expired
        # or failed with a new bill for the same order (issue 15), so ended
        # bills (CLOSED, REVERTED) of a channel may be several. A partial
        # unique index, in SQLite and PostgreSQL alike (migration 0013).
        Index("uq_bills_live_channel", "app_id", "test_mode", "bill_no", "channel",
              unique=True, sqlite_where=literal_column(LIVE_BILL),
              postgresql_where=literal_column(LIVE_BILL)),
        Index("ix_bills_app_created", "app_id", "test_mode", "create_time"),
        Index("ix_bills_app_bill_no", "app_id", "test_mode", "bill_no"),
        # The workers' expiry job looks for unfinished bills past expires_at
        # (checkout.sandbox.expiry.close_expired) every second.
        _only_set("ix_bills_status_expires", "status", "expires_at"),
        # A provider's notification names its trade (live_channels._bill_by_ref);
        # the worker's provider checks look for due live bills.
        _only_set("ix_bills_provider_ref", "app_id", "provider", "provider_ref", unique=True),
        _only_set("ix_bills_next_check", "next_check_at"),
    )

    OPEN = "OPEN"
    PAID = "PAID"
    FAILED = "FAILED"
    CLOSED = "CLOSED"
    REVERTED = "REVERTED"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    test_mode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    bill_no: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)  # sub channel, e.g. ALI_WEB
    title: Mapped[str] = mapped_column(String(64), nullable=False)
    total_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)  # what the payer pays
    bill_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)  # before any coupon
    discount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    coupon_id: Mapped[Optional[str]] = mapped_column(String(64))
    buyer_id: Mapped[Optional[str]] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    optional: Mapped[Optional[dict]] = mapped_column(JSON)
    analysis: Mapped[Optional[dict]] = mapped_column(JSON)
    return_url: Mapped[Optional[str]] = mapped_column(Text)
    notify_url: Mapped[Optional[str]] = mapped_column(Text)
    bill_timeout: Mapped[Optional[int]] = mapped_column(Integer)
    expires_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    # Channel-specific request fields (openid, qr_pay_mode, show_url, auth_code …).
    channel_params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=OPEN)
    # Unguessable token in the simulated cashier's URLs.
    cashier_token: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    trade_no: Mapped[Optional[str]] = mapped_column(String(64))
    message_detail: Mapped[Optional[dict]] = mapped_column(JSON)
    create_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pay_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    refund_result: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revert_result: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Refunds (checkout.sandbox.refunds): what succeeded, and what one refund
    # in flight (awaiting approval or the channel) holds back, so a conditional
    # UPDATE can keep refunded_fee + refunding_fee <= total_fee under any
    # concurrency (seed 001 §3: 11 ALREADY_REFUNDING, 12 REFUND_AMOUNT_TOO_LARGE).
    refunded_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default="0")
    refunding_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                               server_default="0")
    # Live bills paid at a provider through its connector
    # (checkout.sandbox.live_channels): which provider, the bill's number
    # there (Alipay's out_trade_no), whether a bill that ended here was also
    # closed there, and when the worker next asks the provider about it.
    provider: Mapped[Optional[str]] = mapped_column(String(16))
    provider_ref: Mapped[Optional[str]] = mapped_column(String(64))
    provider_closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                  server_default=false())
    next_check_at: Mapped[Optional[int]] = mapped_column(BigInteger)

    @property
    def spay_result(self) -> bool:
        return self.status == self.PAID


class WebhookDelivery(db.Model):
    """The webhook outbox: one row per notification, worked by ``flask webhooks work``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "status", "next_attempt_at"),)

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    GAVE_UP = "GAVE_UP"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    bill_id: Mapped[Optional[str]] = mapped_column(String(36))
    transaction_type: Mapped[str] = mapped_column(String(16), nullable=False, default="PAY")
    url: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the exact JSON sent
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    claimed_until: Mapped[Optional[int]] = mapped_column(BigInteger)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    delivered_at: Mapped[Optional[int]] = mapped_column(BigInteger)


class CheckoutOrder(db.Model):
    """One 秒支付 order as the shopper's checkout knows it: one row per
    (app_id, out_trade_no), so refreshes, back buttons and second tabs all land
    on the same checkout."""

    __tablename__ = "checkout_orders"
    __table_args__ = (UniqueConstraint("app_id", "out_trade_no"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # unguessable token
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    out_trade_no: Mapped[str] = mapped_column(String(64), nullable=False)
    bill_no: Mapped[str] = mapped_column(String(32), nullable=False)  # sent to the gateway
    title: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)  # minor units, as signed
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    return_url: Mapped[Optional[str]] = mapped_column(Text)
    optional: Mapped[Optional[dict]] = mapped_column(JSON)
    analysis: Mapped[Optional[dict]] = mapped_column(JSON)
    buyer_id: Mapped[Optional[str]] = mapped_column(String(64))
    coupon_id: Mapped[Optional[str]] = mapped_column(String(64))
    instant_channel: Mapped[Optional[str]] = mapped_column(String(16))
    openid: Mapped[Optional[str]] = mapped_column(String(128))
    need_ali_guide: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    use_app: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    debug: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Channel -> gateway bill id of the bills opened for this order.
    bills: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="OPEN")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    version: Mapped[int] = row_version()


# --- Coupons (seed 003, lines 1280-1424; rules in ``checkout.sandbox.coupons``) ---

from sqlalchemy import ForeignKey  # noqa: E402  (kept beside the only tables that use it)


class CouponTemplate(db.Model):
    """A kind of coupon a merchant app hands out ("卡券模板")."""

    __tablename__ = "coupon_templates"
    __table_args__ = (Index("ix_coupon_templates_app_created", "app_id", "created_at"),)

    AMOUNT_OFF = 0  # "满减": ``amount_off`` fen off once ``limit_fee`` is met
    PERCENTAGE = 1  # "折扣": the shopper pays ``ratio_bp`` / 10000 of the price

    WINDOW = 1  # expiry_type 1: valid between the template's start_time and end_time
    DAYS_AFTER_DELIVERY = 2  # expiry_type 2: valid delivery_valid_days after issue

    NOT_STARTED = 0
    ACTIVE = 1
    STOPPED = -1

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[int] = mapped_column(Integer, nullable=False)
    code: Mapped[Optional[str]] = mapped_column(String(32))
    limit_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # fen, 0 = none
    # The wire's float ``discount`` is stored exactly: fen for type 0, and for
    # type 1 the ratio paid in ten-thousandths (0.9 -> 9000).
    amount_off: Mapped[Optional[int]] = mapped_column(BigInteger)
    ratio_bp: Mapped[Optional[int]] = mapped_column(Integer)
    total_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 0 = unlimited
    max_count_per_user: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deliver_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    use_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expiry_type: Mapped[int] = mapped_column(Integer, nullable=False, default=WINDOW)
    start_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    end_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    delivery_valid_days: Mapped[Optional[int]] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=ACTIVE)
    mch_account: Mapped[Optional[str]] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Coupon(db.Model):
    """One coupon issued to one buyer (``user_id`` matches a bill's ``buyer_id``)."""

    __tablename__ = "coupons"
    __table_args__ = (
        Index("ix_coupons_app_user", "app_id", "user_id", "status"),
        Index("ix_coupons_template_user", "template_id", "user_id"),
        Index("ix_coupons_app_created", "app_id", "created_at"),
    )

    UNUSED = 0
    USED = 1

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    template_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("coupon_templates.id"), nullable=False)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=UNUSED)
    start_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    end_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    use_time: Mapped[Optional[int]] = mapped_column(BigInteger)
    # The paid bill that consumed it (``bills.id``); set together with status.
    used_by_bill: Mapped[Optional[str]] = mapped_column(String(36))
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


# --- PayPal cards (seed 002; rules in ``checkout.cards``, ``checkout.sandbox.international``) ---

class SavedCard(db.Model):
    """A card the sandbox's PayPal vault keeps after a PAYPAL_CREDITCARD
    payment: its ``credit_card_id`` pays again with PAYPAL_SAVED_CREDITCARD,
    for the same app only. NEVER the card number or CVV: brand, last four and
    expiry are all a shopper needs to recognise it."""

    __tablename__ = "saved_cards"
    __table_args__ = (Index("ix_saved_cards_app_buyer", "app_id", "buyer_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # credit_card_id, CARD_…
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    buyer_id: Mapped[Optional[str]] = mapped_column(String(64))
    brand: Mapped[str] = mapped_column(String(16), nullable=False)  # visa/mastercard/discover/amex
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    exp_month: Mapped[int] = mapped_column(Integer, nullable=False)
    exp_year: Mapped[int] = mapped_column(Integer, nullable=False)
    holder_name: Mapped[str] = mapped_column(String(130), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class BuyerCard(db.Model):
    """The checkout's memory of a card a buyer paid with, so the next order
    for that ``buyer_id`` offers "Visa •••• 4242" in one tap. Kept by the
    checkout (not read from the gateway's vault) because a remote BeeCloud
    gateway has no API to list cards. NEVER the card number or CVV."""

    __tablename__ = "buyer_cards"
    __table_args__ = (UniqueConstraint("app_id", "credit_card_id"),
                      Index("ix_buyer_cards_app_buyer", "app_id", "buyer_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    buyer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    credit_card_id: Mapped[str] = mapped_column(String(64), nullable=False)
    brand: Mapped[str] = mapped_column(String(16), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    exp_month: Mapped[int] = mapped_column(Integer, nullable=False)
    exp_year: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


# --- The demo storefront (``checkout.demo``; shown by ``/demo/…``) ---

class DemoShop(db.Model):
    """Which merchant app is the demo shop (``flask demo setup`` makes one, once)."""

    __tablename__ = "demo_shops"

    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class DemoWebhook(db.Model):
    """A webhook the demo shop's receiver accepted (signature checked), one
    per (transaction_type, transaction_id): repeats are answered, not stored
    again, as seed 003 line 410 asks of merchants."""

    __tablename__ = "demo_webhooks"
    __table_args__ = (UniqueConstraint("app_id", "transaction_type", "transaction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    transaction_type: Mapped[str] = mapped_column(String(16), nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(64), nullable=False)
    sub_channel_type: Mapped[str] = mapped_column(String(32), nullable=False)
    transaction_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Seed 003 line 412: the merchant checks the fee against its own price.
    fee_matches: Mapped[bool] = mapped_column(Boolean, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


# --- The simulated WeChat's OAuth codes (``checkout.web.wechat_sim``) ---

class WeChatOAuthCode(db.Model):
    """A code the simulated WeChat handed out at its authorize page: single
    use, valid five minutes (as WeChat's), exchanged for ``openid`` by the
    token call. In the database so any worker can answer the token call."""

    __tablename__ = "wechat_oauth_codes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    appid: Mapped[str] = mapped_column(String(64), nullable=False)
    openid: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    used_at: Mapped[Optional[int]] = mapped_column(BigInteger)


# --- Rate limits in the database (``checkout.rate_limit_storage``) ---

class RateLimitEntry(db.Model):
    """One hit of a rate limit (for the card-testing defence: one failed card
    attempt) under a ``limits`` key such as
    ``LIMITER/card-failures/ip/203.0.113.7/10/1/hour``. The moving window
    counts a key's entries younger than the window; older ones are swept as
    new ones arrive. Keys name an order, an IP or an app: never card data.
    Used when no ``REDIS_URL`` is set."""

    __tablename__ = "rate_limit_entries"
    __table_args__ = (Index("ix_rate_limit_entries_key_at", "key", "at"),
                      Index("ix_rate_limit_entries_expires_at", "expires_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # ms
    # ``at`` + the limit's window: past it the entry counts in no window.
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


# --- Refunds in the embedded gateway (``checkout.sandbox.refunds``) ---

class Refund(db.Model):
    """A refund of a paid bill (seed 001 §3, §4, §7-§10): one row per
    (app, mode, refund_no). A pre-refund (``need_approval``) waits in
    ``PENDING_APPROVAL`` until approved (then as a direct refund) or denied;
    a denied refund_no may be submitted again (seed 001 §3)."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("app_id", "test_mode", "refund_no"),
        Index("ix_refunds_app_created", "app_id", "test_mode", "create_time"),
        Index("ix_refunds_bill", "bill_id"),
    )

    PENDING_APPROVAL = "PENDING_APPROVAL"  # a pre-refund, not yet sent to the channel
    PROCESSING = "PROCESSING"              # sent; the channel has not finished it
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    DENIED = "DENIED"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    test_mode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    bill_id: Mapped[str] = mapped_column(String(36), nullable=False)
    bill_no: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)  # the bill's sub channel
    refund_no: Mapped[str] = mapped_column(String(32), nullable=False)
    refund_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    optional: Mapped[Optional[dict]] = mapped_column(JSON)
    need_approval: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    deny_reason: Mapped[Optional[str]] = mapped_column(Text)
    message_detail: Mapped[Optional[dict]] = mapped_column(JSON)
    create_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # When a refund sent to an asynchronous channel completes in the sandbox.
    settle_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    finish_time: Mapped[Optional[int]] = mapped_column(BigInteger)

    @property
    def finished(self) -> bool:
        return self.status in (self.SUCCESS, self.FAILED, self.DENIED)


# --- Channel credentials, BeeCloud's 支付要素 (``checkout.credentials``) ---

class ChannelCredential(db.Model):
    """One merchant app's credentials for one provider (e.g. "alipay"),
    encrypted with CREDENTIALS_KEY (Fernet): the private key never lies here
    in clear. ``summary`` is what may be shown (the provider's app id, the
    SHA-256 fingerprints of the public keys, the gateway); never a key.
    ``app_id`` names ``merchants.app_id`` without a database foreign key,
    as ``bills`` and ``refunds`` do: ``credentials.save`` checks the app."""

    __tablename__ = "channel_credentials"
    __table_args__ = (UniqueConstraint("app_id", "provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(36), nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    summary: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # ms
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # ms

    def __repr__(self) -> str:  # never the ciphertext
        return f"<ChannelCredential {self.app_id} {self.provider}>"
