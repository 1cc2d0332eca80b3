"""The coupon REST API the BeeCloud SDKs call (seeds README; seed 003 lines 1280-1412):

    GET  /2/rest/coupon/template/{id}?para=…   one template
    GET  /2/rest/coupon/template?para=…        templates (name, created_*, skip, limit)
    GET  /2/rest/coupon/{id}?para=…            one coupon
    GET  /2/rest/coupon?para=…                 coupons (user_id, template_id, status, limit_fee …)
    POST /2/rest/coupon                        issue {template_id, user_id}

Every call carries ``app_id``, ``timestamp`` and ``app_sign = md5(app_id +
timestamp + app_secret)`` (seed 003 line 1286). Answers are HTTP 200 with a
BeeCloud result code, like the bill API. Views stay thin: parse, call
``checkout.sandbox.coupons``, answer.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request

from .. import merchants, signing
from ..clock import now_ms
from ..sandbox import coupons

bp = Blueprint("coupon_api", __name__)
CSRF_EXEMPT = True  # machine-to-machine, authenticated by app_sign

RESULT_MSG = {0: "OK", 1: "APP_INVALID", 4: "MISS_PARAM", 5: "PARAM_INVALID",
              14: "RUNTIME_ERROR"}


class ApiRefused(Exception):
    def __init__(self, code: int, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


def _answer(code: int = 0, detail: str = "", **fields):
    return jsonify(result_code=code, result_msg=RESULT_MSG[code], err_detail=detail, **fields)


def _fields() -> dict:
    """The request's parameters: the JSON body of a POST, the URL-encoded JSON
    ``para=`` of a GET (seed 003 line 1309)."""
    if request.method == "POST":
        data = request.get_json(silent=True, force=True)
        if not isinstance(data, dict):
            raise ApiRefused(5, "the request body must be a JSON object")
        return data
    raw = request.args.get("para")
    if raw is None:
        raise ApiRefused(4, "para is required: para=<URL-encoded JSON object>")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiRefused(5, "para must be URL-encoded JSON") from None
    if not isinstance(data, dict):
        raise ApiRefused(5, "para must be a JSON object")
    return data


def _merchant(fields: dict):
    """The app whose ``app_sign`` is right and whose timestamp is recent.

    TODO(coupons): switch to helper "bills"' request-auth in
    ``checkout/web/rest_api.py`` once it lands, so the rule lives in one place."""
    for name in ("app_id", "timestamp", "app_sign"):
        if fields.get(name) in (None, ""):
            raise ApiRefused(4, f"{name} is required")
    timestamp = fields["timestamp"]
    if isinstance(timestamp, bool) or not (isinstance(timestamp, int) or
                                           (isinstance(timestamp, str) and timestamp.isdigit())):
        raise ApiRefused(5, "timestamp must be milliseconds since the epoch")
    merchant = merchants.get_merchant(fields["app_id"])
    if merchant is None or not signing.verify_app_sign(merchant.app_id, timestamp,
                                                       merchant.app_secret, fields["app_sign"]):
        raise ApiRefused(1, "app_id unknown or app_sign wrong")
    window = current_app.config.get("APP_SIGN_WINDOW_SECONDS", 900) * 1000
    if abs(now_ms() - int(timestamp)) > window:
        raise ApiRefused(1, "timestamp is too far from the server's clock")
    return merchant


def _serve(work):
    try:
        fields = _fields()
        return work(_merchant(fields), fields)
    except ApiRefused as refused:
        return _answer(refused.code, refused.detail)
    except coupons.CouponRefused as refused:
        return _answer(refused.result_code, refused.err_detail)


@bp.get("/2/rest/coupon/template/<template_id>")
def template_by_id(template_id):
    def work(merchant, _fields):
        template = coupons.get_template(merchant, template_id)
        if template is None:
            return _answer(5, "no such coupon template for this app")
        return _answer(coupon_template=coupons.template_to_wire(template))
    return _serve(work)


@bp.get("/2/rest/coupon/template")
def templates():
    def work(merchant, fields):
        found = coupons.query_templates(merchant, fields)
        return _answer(coupon_templates=[coupons.template_to_wire(t) for t in found])
    return _serve(work)


@bp.get("/2/rest/coupon/<coupon_id>")
def coupon_by_id(coupon_id):
    def work(merchant, _fields):
        coupon = coupons.get_coupon(merchant, coupon_id)
        if coupon is None:
            return _answer(5, "no such coupon for this app")
        return _answer(coupon=coupons.coupon_to_wire(coupon))
    return _serve(work)


@bp.get("/2/rest/coupon")
def coupon_list():
    def work(merchant, fields):
        found = coupons.query_coupons(merchant, fields)
        return _answer(coupons=[coupons.coupon_to_wire(c) for c in found])
    return _serve(work)


@bp.post("/2/rest/coupon")
def issue():
    def work(merchant, fields):
        coupon = coupons.issue_coupon(merchant, fields.get("template_id"), fields.get("user_id"))
        return _answer(coupon=coupons.coupon_to_wire(coupon))
    return _serve(work)
