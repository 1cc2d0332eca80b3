"""The Alipay simulator's own tables (``alipay_sim_*``; migration
``0012_alipay_simulator``). Nothing here refers to the gateway core's tables:
the simulator is another company's system that happens to share a database.

Times are integer milliseconds (``checkout.clock``); amounts integer fen
(Alipay's yuan strings are converted where they enter, ``trades.parse_amount``).
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...db import db


class SimApp(db.Model):
    """One application opened on the simulated open platform (开放平台应用)."""

    __tablename__ = "alipay_sim_apps"

    app_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The merchant's app public key (PEM), uploaded to verify its requests.
    app_public_key: Mapped[str] = mapped_column(Text, nullable=False)
    # Alipay's key pair for this app; the private key never leaves the simulator.
    alipay_private_key: Mapped[str] = mapped_column(Text, nullable=False)
    alipay_public_key: Mapped[str] = mapped_column(Text, nullable=False)
    # The merchant's Alipay account (PID, "2088…"): ``seller_id`` in answers.
    seller_id: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)

    def __repr__(self) -> str:  # never the keys
        return f"<SimApp {self.app_id}>"


class SimTrade(db.Model):
    """A trade (交易) as Alipay keeps it: one per (app, out_trade_no)."""

    __tablename__ = "alipay_sim_trades"
    __table_args__ = (UniqueConstraint("app_id", "out_trade_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("alipay_sim_apps.app_id"), nullable=False)
    out_trade_no: Mapped[str] = mapped_column(String(64), nullable=False)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    method: Mapped[str] = mapped_column(String(64), nullable=False)  # the creating method
    product_code: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED (Alipay's trade_status)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    notify_url: Mapped[Optional[str]] = mapped_column(Text)
    return_url: Mapped[Optional[str]] = mapped_column(Text)
    qr_pay_mode: Mapped[Optional[str]] = mapped_column(String(2))
    qrcode_width: Mapped[Optional[int]] = mapped_column(Integer)
    # The unguessable part of the cashier's URL.
    token: Mapped[str] = mapped_column(String(48), unique=True, nullable=False)
    # When a buyer first had the trade in front of them (logged in at the
    # cashier, scanned its QR code, or showed a payment code). Until then real
    # Alipay answers ACQ.TRADE_NOT_EXIST to query and close.
    opened_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    buyer_user_id: Mapped[Optional[str]] = mapped_column(String(16))
    buyer_logon_id: Mapped[Optional[str]] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    closed_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # alipay.trade.cancel's answer, kept so a repeated cancel answers the same.
    cancel_action: Mapped[Optional[str]] = mapped_column(String(8))
    # Fail presses at the cashier (the buyer may try again, as after a decline).
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class SimRefund(db.Model):
    """One refund request (out_request_no) of a trade."""

    __tablename__ = "alipay_sim_refunds"
    __table_args__ = (UniqueConstraint("trade_id", "out_request_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("alipay_sim_trades.id"), nullable=False)
    out_request_no: Mapped[str] = mapped_column(String(64), nullable=False)
    refund_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    refund_reason: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class SimNotify(db.Model):
    """An async notification (异步通知) to a merchant's notify_url, retried on
    Alipay's schedule until the answer is exactly ``success``."""

    __tablename__ = "alipay_sim_notifies"
    __table_args__ = (Index("ix_alipay_sim_notifies_due", "status", "next_attempt_at"),)

    PENDING, DELIVERED, ABANDONED = "pending", "delivered", "abandoned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("alipay_sim_trades.id"), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    # The signed form body, the same bytes at every attempt (one notify_id).
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[Optional[int]] = mapped_column(BigInteger)
    last_answer: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    delivered_at: Mapped[Optional[int]] = mapped_column(BigInteger)
