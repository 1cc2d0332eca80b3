"""The Gateway interface: where the checkout creates and queries bills (and
where operators refund them).

Like django-payments' ``BasicProvider``, one small interface with one
implementation per backend:

- ``EmbeddedGateway`` (``embedded.py``): our BeeCloud-compatible sandbox,
  called in process (no HTTP request to ourselves).
- ``RemoteGateway`` (``remote.py``): an HTTP client for any BeeCloud-REST
  endpoint.

Both speak BeeCloud's wire shapes: a request is the JSON body of the REST call
without ``app_id``/``timestamp``/``app_sign`` (the gateway adds those for the
merchant), and an answer is the JSON map the REST API returns. A non-zero
``result_code`` becomes ``GatewayError``; a gateway that cannot be reached or
answers garbage becomes ``GatewayUnavailable``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..models import Merchant


# A bill's state as ``Gateway.bill_state`` reports it.
OPEN, PAID, FAILED, CLOSED, EXPIRED = "open", "paid", "failed", "closed", "expired"
BILL_STATES = (OPEN, PAID, FAILED, CLOSED, EXPIRED)
REFUND_PAGE = 50  # the largest refund list one query answers (seed 001 §7)


class GatewayError(Exception):
    """The gateway answered with a BeeCloud result code other than 0."""

    def __init__(self, result_code: int, result_msg: str, err_detail: str = ""):
        super().__init__(f"{result_code} {result_msg}: {err_detail}")
        self.result_code = result_code
        self.result_msg = result_msg
        self.err_detail = err_detail


class GatewayUnavailable(Exception):
    """The gateway could not be reached in time, or its answer made no sense."""


def checked(answer: Any) -> dict:
    """Return a successful answer, or raise for a result code or a malformed answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("result_code"), int):
        raise GatewayUnavailable("the gateway's answer is not a BeeCloud result")
    if answer["result_code"] != 0:
        raise GatewayError(answer["result_code"], str(answer.get("result_msg", "")),
                           str(answer.get("err_detail", "")))
    return answer


class Gateway(ABC):
    """Create and query bills for a merchant."""

    @abstractmethod
    def create_bill(self, merchant: Merchant, request: dict) -> dict:
        """``POST /2/rest/bill``: the answer with the channel's hand-off fields."""

    def reopen_bill(self, merchant: Merchant, request: dict) -> dict:
        """``create_bill`` for a shopper coming back to a channel whose bill
        expired or failed: a gateway that can gives the order a new bill in
        that channel (issue 15). BeeCloud's REST API cannot (one bill per
        bill_no and channel): it answers 7 ORDERCLOSED, as here."""
        return self.create_bill(merchant, request)

    @abstractmethod
    def get_bill(self, merchant: Merchant, bill_id: str) -> dict:
        """``GET /2/rest/bill/{id}``: the ``pay`` map."""

    @abstractmethod
    def query_bills(self, merchant: Merchant, filters: dict) -> list[dict]:
        """``GET /2/rest/bills?para=…``: the ``bills`` list."""

    def payable_channels(self, merchant: Merchant, codes: list[str]) -> list[str]:
        """Of the merchant's channels ``codes``, those a bill can be paid in
        now. A BeeCloud endpoint knows its own 支付要素; ours (the embedded
        gateway) keeps a live merchant to the providers it has credentials
        for (issue 14)."""
        return list(codes)

    def bill_state(self, merchant: Merchant, bill_id: str) -> str:
        """What the checkout's result page shows: one of ``BILL_STATES``.
        BeeCloud's bill query (seed 001, ``GET /2/rest/bill/{id}``) tells only
        ``spay_result`` and ``revert_result``, so a plain BeeCloud gateway's
        bill is paid, closed (reverted) or open; a gateway that knows more
        (the embedded one) also says failed or expired."""
        bill = self.get_bill(merchant, bill_id)
        if not isinstance(bill, dict):
            raise GatewayUnavailable("the gateway's bill is not a map")
        if bill.get("spay_result") is True:
            return PAID
        if bill.get("revert_result") is True:
            return CLOSED
        return OPEN

    # --- refunds (seed 001 §3, §4, §7, §10). Not abstract: a gateway without
    # refunds says so. The request/answer shapes are the REST API's.

    def refund(self, merchant: Merchant, request: dict) -> dict:
        """``POST /2/rest/refund`` (signed with the MASTER secret, seed 001 §3):
        ``bill_no``, ``refund_no``, ``refund_fee``, optional ``optional`` and
        ``need_approval``; the answer carries the refund's ``id``."""
        raise GatewayUnavailable("this payment gateway does not offer refunds")

    def review_refunds(self, merchant: Merchant, request: dict) -> dict:
        """``PUT /2/rest/refund`` (master secret, seed 001 §4): ``ids``,
        ``agree`` and, to deny, ``deny_reason``; the answer carries
        ``result_map`` (id → "OK" or the error) when agreeing."""
        raise GatewayUnavailable("this payment gateway does not offer refunds")

    def query_refunds(self, merchant: Merchant, filters: dict) -> list[dict]:
        """``GET /2/rest/refunds?para=…`` (seed 001 §7): the ``refunds`` list."""
        raise GatewayUnavailable("this payment gateway does not offer refunds")

    def get_refund(self, merchant: Merchant, refund_id: str) -> dict:
        """``GET /2/rest/refund/{id}`` (seed 001 §10): the ``refund`` map."""
        raise GatewayUnavailable("this payment gateway does not offer refunds")

    def refunded_fee(self, merchant: Merchant, bill: dict) -> int:
        """How much of a paid bill (its ``pay`` map) has been refunded, in
        minor units: the sum of its successful refunds. BeeCloud's bill map
        says only ``refund_result``, so ask the refund list (seed 001 §7) for
        the ``bill_no``, page by page: only a paid bill can be refunded, and
        one ``bill_no`` is paid in one channel only."""
        if bill.get("refund_result") is not True:
            return 0
        total, skip = 0, 0
        while True:
            page = self.query_refunds(merchant, {"bill_no": bill.get("bill_no"),
                                                 "skip": skip, "limit": REFUND_PAGE})
            total += sum(int(refund.get("refund_fee") or 0) for refund in page
                         if isinstance(refund, dict) and refund.get("result") is True)
            if len(page) < REFUND_PAGE:
                return total
            skip += REFUND_PAGE

    def create_international_bill(self, merchant: Merchant, request: dict) -> dict:
        """``POST /1/rest/international/bill`` (seed 002): PayPal and cards.
        ``total_fee`` is a decimal in the currency's unit (``money.minor_to_wire``).
        Not abstract: a gateway without international payments says so."""
        raise GatewayUnavailable("this payment gateway does not offer PayPal")


def get_gateway(app=None) -> Gateway:
    """The gateway the settings choose (``GATEWAY=embedded`` or ``remote``)."""
    from flask import current_app

    app = app or current_app
    kind = app.config.get("GATEWAY", "embedded")
    gateway = app.extensions.get("checkout.gateway")
    if gateway is None:
        if kind == "remote":
            from .remote import RemoteGateway

            gateway = RemoteGateway.from_config(app.config)
        else:
            from .embedded import EmbeddedGateway

            gateway = EmbeddedGateway()
        app.extensions["checkout.gateway"] = gateway
    return gateway
