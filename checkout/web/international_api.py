"""The BeeCloud international API (seed 002): ``POST /1/rest/international/bill``.

Machine to machine, authenticated by ``app_sign = md5(app_id + timestamp +
app_secret)`` (seed 002 line 33) exactly like the v2 bill API, so the request
rules are ``checkout.web.rest_api``'s; the work is
``checkout.sandbox.international``.

The official Python SDK (``beecloud`` 3.6.0, ``BCPay.international_pay``)
posts to ``/2/rest/international/bill`` (its REST root is ``/2/``), so that
path answers too.

Failed PAYPAL_CREDITCARD cards are limited (``checkout.card_attempts``): the
IP counted is the body's ``analysis.ip`` (the shopper's) or else the
caller's, ``request.remote_addr`` as ``PROXY_HOPS`` (ProxyFix) makes it.
"""

from __future__ import annotations

from flask import Blueprint, request

from .. import card_attempts
from ..sandbox import international, live_channels
from .rest_api import read_body, serve

bp = Blueprint("international_api", __name__)
CSRF_EXEMPT = True  # authenticated by app_sign, called by servers


@bp.post("/1/rest/international/bill")
@bp.post("/2/rest/international/bill")
def create_international_bill():
    # Seed 002 has no sandbox path: the merchant's mode decides (issue 14).
    return serve(read_body, lambda merchant, fields: international.create_international_bill(
        merchant, fields, test_mode=live_channels.merchant_in_test_mode(merchant),
        attempts=card_attempts.current(), client_ip=request.remote_addr))
