"""Connectors: the one interface between the gateway core and a payment provider.

Like django-payments' ``BasicProvider``: one small interface, one sub-package
per provider (``alipay`` …). The gateway core (``checkout.sandbox`` today:
bills, settlement, coupons, refunds, webhooks) decides *what* happens to a
bill; a connector only translates to and from one provider's protocol
(architecture.md, "Channels: connectors and simulators"). A connector never
reads or writes the gateway's tables and never decides that a bill is paid:
it reports what the provider said, after checking the provider's signature.

Money crosses this interface in integer fen; a connector converts to the
provider's unit with ``checkout.money`` and nowhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping


class ConnectorError(Exception):
    """The provider refused a call (a business error). ``detail`` is safe to
    show a merchant: it never holds a credential."""

    def __init__(self, detail: str, *, code: str = ""):
        super().__init__(detail)
        self.detail = detail
        self.code = code


class ProviderUnreachable(ConnectorError):
    """The provider could not be reached in time, or its answer could not be
    believed (unsigned, badly signed, malformed). Nothing may be concluded."""


class NotificationRejected(Exception):
    """A notification that is not believed: bad signature, other app, … The
    message says why (for the log); it never holds a credential."""


# What a provider says about a trade.
OPEN, PAID, CLOSED, WAITING = "open", "paid", "closed", "waiting"


@dataclass(frozen=True)
class Payment:
    """What a connector needs to start paying one bill."""

    bill_no: str            # the provider's out_trade_no
    channel: str            # BeeCloud sub-channel, e.g. ALI_WEB
    title: str
    total_fee: int          # fen, after any coupon
    notify_url: str         # our endpoint for the provider's asynchronous notification
    return_url: str | None  # where the provider's cashier sends the shopper back
    timeout_seconds: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # qr_pay_mode, use_app, auth_code …


@dataclass(frozen=True)
class Started:
    """A started payment: the hand-off fields the BeeCloud REST API answers
    (seed 001 §2: ``html``/``url``/``code_url`` …), and for channels that pay
    at once (barcode) the trade's status."""

    fields: dict
    status: str = OPEN              # OPEN, PAID, WAITING (buyer entering a password)
    trade_no: str | None = None
    message_detail: dict | None = None


@dataclass(frozen=True)
class Trade:
    """A trade as the provider reports it (query or notification)."""

    bill_no: str
    status: str                     # OPEN, PAID, CLOSED
    total_fee: int | None = None    # fen, as the provider stated it
    trade_no: str | None = None
    message_detail: dict = field(default_factory=dict)
    provider_app_id: str | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_no: str
    done: bool                      # the money went back
    refund_fee: int | None = None
    message_detail: dict = field(default_factory=dict)


class Connector(ABC):
    """One provider, one merchant's credentials."""

    provider: str = ""              # e.g. "alipay"

    @abstractmethod
    def start(self, payment: Payment) -> Started:
        """Begin paying a bill: the hand-off fields (or the barcode's result)."""

    @abstractmethod
    def query(self, bill_no: str) -> Trade:
        """Ask the provider where the trade stands."""

    @abstractmethod
    def close(self, bill_no: str) -> None:
        """Close an unpaid trade (expired, or the order was paid elsewhere)."""

    @abstractmethod
    def cancel(self, bill_no: str) -> None:
        """Cancel (revert) a trade: closes it, or refunds it if already paid."""

    @abstractmethod
    def refund(self, bill_no: str, refund_no: str, refund_fee: int, reason: str = "") -> RefundResult:
        """Refund part or all of a paid trade; ``refund_no`` makes it idempotent."""

    @abstractmethod
    def refund_query(self, bill_no: str, refund_no: str) -> RefundResult:
        """Where a refund stands."""

    @abstractmethod
    def parse_notification(self, fields: Mapping[str, str]) -> Trade:
        """Verify a provider's notification (signature, our app) and read it.
        Raises ``NotificationRejected``. The gateway core then checks the bill
        number and the amount against its own bill."""
