"""The BeeCloud REST API for bills (seed 001; seed 000 for the offline API).

    POST /2/rest/bill                 create a bill (app_sign with the app secret)
    POST /2/rest/sandbox/bill         the same in test mode (test secret)
    GET  /2/rest/bills?para=…         query bills         (+ /2/rest/sandbox/bills)
    GET  /2/rest/bills/count?para=…   count bills         (+ /2/rest/sandbox/bills/count)
    GET  /2/rest/bill/{id}?para=…     one bill            (+ /2/rest/sandbox/bill/{id})
    POST /2/rest/offline/bill         offline bill: QR or barcode
    POST /2/rest/offline/bill/status  is it paid?
    POST /2/rest/offline/bill/{no}    {"method": "REVERT"}

Business errors are HTTP 200 with a result code, like BeeCloud's. Views are
thin: read the body or ``para=``, authenticate, call ``checkout.sandbox``.
Other JSON APIs (coupons, international) reuse ``read_body``, ``read_para``
and ``serve`` from here so the request rules live in one place.
"""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, jsonify, request

from ..inputs import BadInput, parse_json
from ..models import Merchant
from ..sandbox import bills, offline
from ..sandbox.bills import MISS_PARAM, PARAM_INVALID, Refused

bp = Blueprint("rest_api", __name__)
CSRF_EXEMPT = True  # machine-to-machine, authenticated by app_sign


def _parse_json(raw: bytes | str, what: str) -> dict:
    """A JSON object under the input boundary's rules (``checkout.inputs``),
    or ``Refused(5)`` naming what is wrong: invalid UTF-8 or JSON, a lone
    surrogate or control character, absurd nesting, an integer no column
    holds, a duplicate key, a list or a scalar."""
    try:
        data = parse_json(raw, what)
    except BadInput as bad:
        raise Refused(PARAM_INVALID, bad.message) from None
    if not isinstance(data, dict):
        raise Refused(PARAM_INVALID, f"{what} must be a JSON object")
    return data


def read_body() -> dict:
    """The JSON object of a POST body (size capped by MAX_CONTENT_LENGTH: a
    bigger body answers 5 through the app's 413 handler)."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise Refused(MISS_PARAM, "the request body is empty; send a JSON object")
    return _parse_json(raw, "the request body")


def read_para() -> dict:
    """The URL-encoded JSON of ``?para=`` (seed 001 line 339)."""
    raw = request.args.get("para")
    if raw is None or not raw.strip():
        raise Refused(MISS_PARAM, "para is required: para=<URL-encoded JSON object>")
    return _parse_json(raw, "para")


def serve(read: Callable[[], dict], work: Callable[[Merchant, dict], dict], *,
          secret: str = "app", read_only: bool = False):
    """Read the fields, authenticate them with ``secret``'s kind, run ``work``
    and answer its map; any ``Refused`` becomes its result code. ``read_only``:
    ``work`` never modifies the merchant and raises ``bills.MerchantChanged``
    before doing anything with a copy older than its row
    (``bills.authenticate``)."""
    try:
        fields = read()
        merchant = bills.authenticate(fields, secret=secret, read_only=read_only)
        for fresh in (True, False):
            try:
                return jsonify(work(merchant, fields))
            except bills.MerchantChanged:
                # The worker's copy was older than the merchant's row (a rotated
                # secret, …): nothing was written. Once more with a fresh copy,
                # then (changed again meanwhile) with the session's row.
                merchant = bills.authenticate(fields, secret=secret, read_only=fresh,
                                              fresh=fresh)
        return jsonify(work(merchant, fields))
    except Refused as refused:
        return jsonify(refused.answer())


def _mode_secret(test_mode: bool) -> str:
    return "test" if test_mode else "app"


# --- online bills -------------------------------------------------------------------

def _create(test_mode: bool):
    return serve(read_body, lambda merchant, fields:
                 bills.create_bill(merchant, fields, test_mode=test_mode),
                 secret=_mode_secret(test_mode), read_only=True)


def _query(test_mode: bool):
    return serve(read_para, lambda merchant, fields:
                 bills.query_bills(merchant, fields, test_mode=test_mode),
                 secret=_mode_secret(test_mode))


def _count(test_mode: bool):
    return serve(read_para, lambda merchant, fields:
                 bills.count_bills(merchant, fields, test_mode=test_mode),
                 secret=_mode_secret(test_mode))


def _one(bill_id: str, test_mode: bool):
    return serve(read_para, lambda merchant, _fields:
                 bills.get_bill(merchant, bill_id, test_mode=test_mode),
                 secret=_mode_secret(test_mode))


@bp.post("/2/rest/bill")
def create_bill():
    return _create(False)


@bp.post("/2/rest/sandbox/bill")
def create_test_bill():
    return _create(True)


@bp.get("/2/rest/bills")
def query_bills():
    return _query(False)


@bp.get("/2/rest/sandbox/bills")
def query_test_bills():
    return _query(True)


@bp.get("/2/rest/bills/count")
def count_bills():
    return _count(False)


@bp.get("/2/rest/sandbox/bills/count")
def count_test_bills():
    return _count(True)


@bp.get("/2/rest/bill/<bill_id>")
def bill_by_id(bill_id):
    return _one(bill_id, False)


@bp.get("/2/rest/sandbox/bill/<bill_id>")
def test_bill_by_id(bill_id):
    return _one(bill_id, True)


# --- offline bills (seed 000) ----------------------------------------------------------

@bp.post("/2/rest/offline/bill")
def create_offline_bill():
    return serve(read_body, offline.create_offline_bill)


@bp.post("/2/rest/offline/bill/status")
def offline_bill_status():
    return serve(read_body, offline.bill_status)


@bp.post("/2/rest/offline/bill/<bill_no>")
def revert_offline_bill(bill_no):
    return serve(read_body, lambda merchant, fields: offline.revert_bill(merchant, bill_no, fields))
