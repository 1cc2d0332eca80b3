"""The embedded gateway: the sandbox's service layer, called in process."""

from __future__ import annotations

from ..models import Merchant
from ..sandbox import bills, international
from . import Gateway, checked


class EmbeddedGateway(Gateway):
    """Bills live in our own database; answers are exactly what the sandbox's
    REST API would send, without the HTTP round trip."""

    def __init__(self, test_mode: bool = False):
        self.test_mode = test_mode

    def create_bill(self, merchant: Merchant, request: dict) -> dict:
        return checked(bills.create_bill(merchant, request, test_mode=self.test_mode))

    def get_bill(self, merchant: Merchant, bill_id: str) -> dict:
        return checked(bills.get_bill(merchant, bill_id, test_mode=self.test_mode))["pay"]

    def query_bills(self, merchant: Merchant, filters: dict) -> list[dict]:
        return checked(bills.query_bills(merchant, filters, test_mode=self.test_mode))["bills"]

    def create_international_bill(self, merchant: Merchant, request: dict) -> dict:
        return checked(international.create_international_bill(merchant, request,
                                                               test_mode=self.test_mode))
