"""The simulated channel cashiers: where every sandbox bill's hand-off leads
(``checkout.sandbox.links.cashier_url``; html forms, urls and QR contents).

    GET  /sandbox/cashier/<token>          the channel's cashier (SANDBOX), Pay / Fail / Cancel
    POST /sandbox/cashier/<token>/pay      pay (first paid wins), then the bill's return_url
    POST /sandbox/cashier/<token>/fail     the payment fails at the channel
    POST /sandbox/cashier/<token>/cancel   the shopper gives up here; back to return_url?cancelled=1
    GET  /sandbox/cashier/<token>/status   {"status": "open|paid|failed|closed|expired"}
    POST /sandbox/wechat/pay               the WeChat app paying a WX_JSAPI bill (JSON)

The forms carry Flask-WTF's CSRF token. ``/sandbox/wechat/pay`` is a JSON
call from a page standing in for the WeChat client (``WeixinJSBridge``); it
is CSRF-exempt because the unguessable prepay id it carries is its
credential, exactly as the cashier URL is the cashier's.
"""

from __future__ import annotations

from flask import (Blueprint, abort, jsonify, make_response, redirect, render_template,
                   url_for)

from .. import channels as catalogue
from .. import i18n, money
from ..inputs import BadInput
from ..merchants import get_merchant
from ..models import Bill
from ..sandbox import settlement
from . import DEFAULT_CSP, csrf
from .boundary import json_body

bp = Blueprint("sandbox_cashier", __name__)

# Channels whose cashier a PC shopper reaches by scanning: the page shows
# its own URL as a QR code so a phone opens the same cashier.
SCANNED = {"WX_NATIVE", "ALI_QRCODE", "ALI_OFFLINE_QRCODE"}
# Channels whose cashier is shown inside the merchant's page (an iframe); like
# Alipay's, it sends the framing page on when paid (form target _parent). Its
# page is Alipay's compact one for the frame's size (seed 001, qr_pay_mode 0:
# 600x300): the QR code, "scan with Alipay", the amount and the sandbox's
# buttons, with no header or order card of its own (the framing page shows
# those; issue 15: they pushed the QR code out of the frame).
FRAMED = {"ALI_QRCODE"}

# Each family's brand: (name in Chinese, name in English). Colours and
# logos live in static/css/sandbox.css and templates/sandbox/_logos.html.
BRANDS = {
    "ALI": ("支付宝", "Alipay"), "WX": ("微信支付", "WeChat Pay"),
    "UN": ("银联", "UnionPay"), "JD": ("京东支付", "JD Pay"), "YEE": ("易宝支付", "Yeepay"),
    "KUAIQIAN": ("快钱", "Kuaiqian"), "BD": ("百度钱包", "Baidu Wallet"),
}


def _bill(token: str) -> Bill:
    bill = settlement.bill_by_cashier_token(token)
    if bill is None:
        abort(404)
    return bill


def _page(bill: Bill, *, status: int = 200, cancelled: bool = False):
    channel = catalogue.CHANNELS.get(bill.channel)
    family = channel.family if channel and channel.family in BRANDS else "GENERIC"
    chinese = i18n.chinese()
    brand = BRANDS.get(family, ("沙箱收银台", "Sandbox cashier"))[0 if chinese else 1]
    channel_name = (channel.name_zh if chinese else channel.name_en) if channel else bill.channel
    merchant = get_merchant(bill.app_id)
    state = settlement.cashier_state(bill)
    cashier = url_for("sandbox_cashier.cashier", token=bill.cashier_token, _external=True)
    qr = None
    if state == settlement.OPEN and bill.channel in SCANNED:
        import segno

        qr = segno.make(cashier, error="m").svg_data_uri(scale=4, border=2)
    framed = bill.channel in FRAMED
    response = make_response(render_template(
        "sandbox/cashier.html", bill=bill, token=bill.cashier_token, state=state,
        family=family, brand=brand, channel_name=channel_name, cancelled=cancelled,
        merchant_name=merchant.name if merchant else "", qr=qr,
        form_target="_parent" if framed else None, framed=framed,
        amount=money.format_amount(bill.total_fee, bill.currency),
        original=money.format_amount(bill.bill_fee, bill.currency) if bill.discount else None),
        status)
    if framed:
        # ALI_QRCODE's page lives in an iframe of the merchant's (seed 001,
        # qr_pay_mode): the checkout's own page, which a merchant may frame too.
        ancestors = " ".join(["'self'", *(merchant.frame_origins if merchant else [])])
        response.headers["Content-Security-Policy"] = DEFAULT_CSP.replace(
            "frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    return response


@bp.get("/sandbox/cashier/<token>")
def cashier(token):
    # The html hand-off forms submit here with GET and the order's fields;
    # the bill is found by its token alone, the query string is ignored.
    return _page(_bill(token))


@bp.get("/sandbox/cashier/<token>/status")
def status(token):
    response = jsonify(status=settlement.cashier_state(_bill(token)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/sandbox/cashier/<token>/pay")
def pay(token):
    bill = _bill(token)
    if settlement.mark_paid(bill) and bill.return_url:
        return redirect(bill.return_url, 303)
    # Not paid by this click (already paid, closed, expired …), or nowhere to
    # go back to: the cashier says what happened.
    return _page(bill, status=200 if bill.status == Bill.PAID else 409)


@bp.post("/sandbox/cashier/<token>/fail")
def fail(token):
    bill = _bill(token)
    settlement.mark_failed(bill)
    return _page(bill)


@bp.post("/sandbox/cashier/<token>/cancel")
def cancel(token):
    # Giving up at the channel leaves the bill OPEN: the shopper may come
    # back, or choose another channel at the checkout.
    # ``?cancelled=1`` only lets the shop's page say "cancelled" instead of
    # "checking": it proves nothing, and the checkout still asks for the
    # bill's real state.
    bill = _bill(token)
    if bill.return_url:
        return redirect(bill.return_url + "?cancelled=1", 303)
    return _page(bill, cancelled=True)


# --- the WeChat app stand-in -------------------------------------------------------------

PREPAY_PREFIX = "prepay_id=wx"


def _wechat_answer(outcome: str, detail: str = "", status: int = 200):
    # The shape WeixinJSBridge's getBrandWCPayRequest callback receives.
    body = {"err_msg": f"get_brand_wcpay_request:{outcome}"}
    if detail:
        body["err_desc"] = detail
    return jsonify(body), status


@bp.post("/sandbox/wechat/pay")
def wechat_pay():
    try:
        data = json_body()
    except BadInput as bad:
        return _wechat_answer("fail", bad.message, 400)
    if not isinstance(data, dict):
        return _wechat_answer("fail", "the request must be a JSON object", 400)
    package, result = data.get("package"), data.get("result")
    if result not in ("ok", "cancel", "fail"):
        return _wechat_answer("fail", "result must be ok, cancel or fail", 400)
    if not isinstance(package, str) or not package.startswith(PREPAY_PREFIX):
        return _wechat_answer("fail", "package must be prepay_id=wx…", 400)
    bill = settlement.bill_by_cashier_token(package[len(PREPAY_PREFIX):])
    if bill is None or bill.channel != "WX_JSAPI":
        return _wechat_answer("fail", "no WX_JSAPI bill has this prepay_id", 404)
    if result == "cancel":
        return _wechat_answer("cancel")
    if result == "fail":
        settlement.mark_failed(bill)
        return _wechat_answer("fail", "the payment failed")
    if settlement.mark_paid(bill):
        return _wechat_answer("ok")
    return _wechat_answer("fail", f"this bill is {settlement.cashier_state(bill)}", 409)


csrf.exempt(wechat_pay)
