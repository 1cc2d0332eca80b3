"""The embedded gateway: the sandbox's service layer, called in process."""

from __future__ import annotations

from .. import merchants
from ..models import Merchant
from ..db import db
from ..models import Bill
from ..sandbox import bills, expiry, international, live_channels, refund_queries, settlement
from . import Gateway, GatewayError, checked


class EmbeddedGateway(Gateway):
    """Bills live in our own database; answers are exactly what the sandbox's
    REST API would send, without the HTTP round trip."""

    def __init__(self, test_mode: bool | None = None):
        # None: each merchant's own ``checkout_mode`` decides (issue 14): a
        # test-mode merchant's bills go to the simulated cashiers, a live one's
        # to the providers it has credentials for.
        self.test_mode = test_mode

    def _test_mode(self, merchant: Merchant) -> bool:
        if self.test_mode is not None:
            return self.test_mode
        return live_channels.merchant_in_test_mode(merchant)

    def payable_channels(self, merchant: Merchant, codes: list[str]) -> list[str]:
        if self._test_mode(merchant):
            return list(codes)  # the simulated cashiers take every channel
        return live_channels.live_channels(merchant, codes)

    def create_bill(self, merchant: Merchant, request: dict) -> dict:
        try:
            answer = bills.create_bill(merchant, request, test_mode=self._test_mode(merchant))
        except bills.MerchantChanged:
            # A worker's copy of the merchant older than its row (nothing was
            # written): the checkout's order was signed when it opened, so
            # the row as it is now simply takes over.
            merchant = merchants.get_merchant(merchant.app_id)
            answer = bills.create_bill(merchant, request, test_mode=self._test_mode(merchant))
        return checked(answer)

    def reopen_bill(self, merchant: Merchant, request: dict) -> dict:
        with expiry.reopening():  # open_bill replaces an expired or failed bill
            return self.create_bill(merchant, request)

    def get_bill(self, merchant: Merchant, bill_id: str) -> dict:
        return checked(bills.get_bill(merchant, bill_id, test_mode=self._test_mode(merchant)))["pay"]

    def bill_state(self, merchant: Merchant, bill_id: str) -> str:
        # The sandbox knows a bill's whole story: also failed and expired
        # (the same words its cashier uses, ``settlement.cashier_state``).
        bill = db.session.get(Bill, bill_id) if isinstance(bill_id, str) and bill_id else None
        if bill is None or bill.app_id != merchant.app_id or bill.test_mode != self._test_mode(merchant):
            raise GatewayError(bills.NO_SUCH_BILL, "NO_SUCH_BILL", "no such bill for this app")
        db.session.refresh(bill)  # another worker may have paid it a moment ago
        live_channels.refresh(bill)  # a live bill still open: ask its provider
        return settlement.cashier_state(bill)

    def query_bills(self, merchant: Merchant, filters: dict) -> list[dict]:
        return checked(bills.query_bills(merchant, filters, test_mode=self._test_mode(merchant)))["bills"]

    def create_international_bill(self, merchant: Merchant, request: dict) -> dict:
        return checked(international.create_international_bill(merchant, request,
                                                               test_mode=self._test_mode(merchant)))

    # --- refunds ---------------------------------------------------------------------

    def refund(self, merchant: Merchant, request: dict) -> dict:
        from ..sandbox import refunds  # the refund service (issue 13)

        return checked(refunds.create_refund(merchant, request, test_mode=self._test_mode(merchant)))

    def review_refunds(self, merchant: Merchant, request: dict) -> dict:
        from ..sandbox import refunds

        return checked(refunds.review_refunds(merchant, request, test_mode=self._test_mode(merchant)))

    def query_refunds(self, merchant: Merchant, filters: dict) -> list[dict]:
        return checked(refund_queries.query_refunds(merchant, filters,
                                                    test_mode=self._test_mode(merchant)))["refunds"]

    def get_refund(self, merchant: Merchant, refund_id: str) -> dict:
        return checked(refund_queries.get_refund(merchant, refund_id,
                                                 test_mode=self._test_mode(merchant)))["refund"]

    def refunded_fee(self, merchant: Merchant, bill: dict) -> int:
        # The sandbox keeps the sum on the bill (Bill.refunded_fee).
        row = db.session.get(Bill, bill.get("id")) if isinstance(bill.get("id"), str) else None
        if row is None or row.app_id != merchant.app_id or row.test_mode != self._test_mode(merchant):
            return 0
        db.session.refresh(row)
        return int(row.refunded_fee or 0)
