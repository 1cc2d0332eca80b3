"""The coupon REST API the BeeCloud SDKs call (seeds README; seed 003 lines 1280-1412):

    GET  /2/rest/coupon/template/{id}?para=…   one template
    GET  /2/rest/coupon/template?para=…        templates (name, created_*, skip, limit)
    GET  /2/rest/coupon/{id}?para=…            one coupon
    GET  /2/rest/coupon?para=…                 coupons (user_id, template_id, status, limit_fee …)
    POST /2/rest/coupon                        issue {template_id, user_id}

Every call carries ``app_id``, ``timestamp`` and ``app_sign = md5(app_id +
timestamp + app_secret)`` (seed 003 line 1286). Answers are HTTP 200 with a
BeeCloud result code, like the bill API, whose request rules (``read_para``,
``read_body``, ``serve`` with ``bills.authenticate``) are reused here. Views
stay thin: parse, call ``checkout.sandbox.coupons``, answer.
"""

from __future__ import annotations

from flask import Blueprint

from ..sandbox import coupons
from ..sandbox.bills import PARAM_INVALID, Refused, answer
from .rest_api import read_body, read_para, serve

bp = Blueprint("coupon_api", __name__)
CSRF_EXEMPT = True  # machine-to-machine, authenticated by app_sign


def _coupon_rules(work):
    """``work`` with the coupon module's refusals as BeeCloud result codes."""
    def run(merchant, fields):
        try:
            return work(merchant, fields)
        except coupons.CouponRefused as refused:
            raise Refused(refused.result_code, refused.err_detail) from None
    return run


@bp.get("/2/rest/coupon/template/<template_id>")
def template_by_id(template_id):
    def work(merchant, _fields):
        template = coupons.get_template(merchant, template_id)
        if template is None:
            raise Refused(PARAM_INVALID, "no such coupon template for this app")
        return answer(coupon_template=coupons.template_to_wire(template))
    return serve(read_para, work)


@bp.get("/2/rest/coupon/template")
def templates():
    def work(merchant, fields):
        found = coupons.query_templates(merchant, fields)
        return answer(coupon_templates=[coupons.template_to_wire(t) for t in found])
    return serve(read_para, _coupon_rules(work))


@bp.get("/2/rest/coupon/<coupon_id>")
def coupon_by_id(coupon_id):
    def work(merchant, _fields):
        coupon = coupons.get_coupon(merchant, coupon_id)
        if coupon is None:
            raise Refused(PARAM_INVALID, "no such coupon for this app")
        return answer(coupon=coupons.coupon_to_wire(coupon))
    return serve(read_para, work)


@bp.get("/2/rest/coupon")
def coupon_list():
    def work(merchant, fields):
        found = coupons.query_coupons(merchant, fields)
        return answer(coupons=[coupons.coupon_to_wire(c) for c in found])
    return serve(read_para, _coupon_rules(work))


@bp.post("/2/rest/coupon")
def issue():
    def work(merchant, fields):
        coupon = coupons.issue_coupon(merchant, fields.get("template_id"), fields.get("user_id"))
        return answer(coupon=coupons.coupon_to_wire(coupon))
    return serve(read_body, _coupon_rules(work))
