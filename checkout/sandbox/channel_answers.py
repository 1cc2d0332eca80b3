"""What the sandbox answers, per channel, when a bill is created: the hand-off
fields of seed 001 section 2 ("以下字段在result_code为0时有返回") and seed 003
lines 780-822 (WX_WAP's ``url``).

Every hand-off leads to our simulated cashier for the bill
(``checkout.sandbox.links.cashier_url``): the ``html`` forms submit to it, the
``url`` and QR contents (``code_url``, ``qr_code``) are it. The JSAPI and app
answers carry the cashier token inside the channel's own identifiers
(``prepay_id=wx<token>``), which is how the simulated WeChat app finds the bill.

Answers are computed from the stored bill, so asking again for the same bill
(idempotent re-create) hands off to the same cashier.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from html import escape
from urllib.parse import urlencode

from .. import channels as catalogue
from .. import money
from ..clock import now_ms
from ..models import Bill, Merchant
from ..signing import md5_hex, wechat_pay_sign
from .links import cashier_url

# WeChat Pay's documented example merchant number: the sandbox's ``partner_id``.
SANDBOX_WECHAT_PARTNER_ID = "1900000109"


def sandbox_wechat_appid(merchant: Merchant) -> str:
    """The merchant's WeChat appid, or a stable sandbox one shaped like WeChat's
    (``wx`` + 16 hex) so pages and SDKs see a plausible value."""
    return merchant.wechat_appid or "wx" + md5_hex("sandbox-appid:" + merchant.app_id)[:16]


def prepay_id(bill: Bill) -> str:
    return "wx" + bill.cashier_token


def jsapi_pay_sign(app_id: str, timestamp: str, nonce_str: str, package: str,
                   key: str) -> str:
    """WeChat's JSAPI ``paySign``: the MD5 rule over exactly the fields
    ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` receives (appId,
    timeStamp, nonceStr, package, signType), keyed with the merchant's master
    secret (common brief, WX_JSAPI contract)."""
    return wechat_pay_sign({"appId": app_id, "timeStamp": timestamp, "nonceStr": nonce_str,
                            "package": package, "signType": "MD5"}, key)


def auto_submit_form(action: str, form_id: str, fields: dict[str, str]) -> str:
    """An auto-submitting form, shaped like the ones Alipay/UnionPay hand out.
    GET, because the cashier is addressed by its path and needs no body.
    The submit button is ``hidden`` (an attribute), not ``style="display:none"``:
    checkout pages allow no inline styles (``style-src 'self'``, web/security.py),
    so an inline style made every hand-off page log a CSP error (issue 15)."""
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(str(v))}"/>'
                     for k, v in fields.items())
    return (f'<form id="{form_id}" name="{form_id}" action="{escape(action)}" method="get">'
            f'{inputs}<input type="submit" value="OK" hidden/></form>'
            f"<script>document.forms['{form_id}'].submit();</script>")


def _digits(bill: Bill, length: int) -> str:
    """A stable all-digit identifier derived from the bill (UnionPay's ``tn``)."""
    number = int(hashlib.sha256(bill.cashier_token.encode()).hexdigest(), 16)
    return str(number % 10 ** length).zfill(length)


def _wechat_jsapi(bill: Bill, merchant: Merchant) -> dict:
    app_id = sandbox_wechat_appid(merchant)
    timestamp = str(now_ms())  # seed 001: "当前时间戳，单位是毫秒，13位", a String
    nonce_str = secrets.token_hex(16)
    package = "prepay_id=" + prepay_id(bill)
    return {"app_id": app_id, "package": package, "nonce_str": nonce_str,
            "timestamp": timestamp, "sign_type": "MD5",
            "pay_sign": jsapi_pay_sign(app_id, timestamp, nonce_str, package,
                                       merchant.master_secret)}


def _wechat_app(bill: Bill, merchant: Merchant) -> dict:
    # WeChat's app payment request (PayReq) signs lower-case names, package "Sign=WXPay".
    app_id = sandbox_wechat_appid(merchant)
    timestamp = str(now_ms())
    nonce_str = secrets.token_hex(16)
    signed = {"appid": app_id, "partnerid": SANDBOX_WECHAT_PARTNER_ID,
              "prepayid": prepay_id(bill), "package": "Sign=WXPay",
              "noncestr": nonce_str, "timestamp": timestamp}
    return {"app_id": app_id, "partner_id": SANDBOX_WECHAT_PARTNER_ID,
            "package": "Sign=WXPay", "nonce_str": nonce_str, "timestamp": timestamp,
            "pay_sign": wechat_pay_sign(signed, merchant.master_secret),
            "prepay_id": prepay_id(bill)}


def _alipay_app(bill: Bill, merchant: Merchant) -> dict:
    biz = json.dumps({"out_trade_no": bill.bill_no, "subject": bill.title,
                      "total_amount": money.fen_to_yuan(bill.total_fee),
                      "product_code": "QUICK_MSECURITY_PAY"},
                     ensure_ascii=False, separators=(",", ":"))
    params = {"app_id": "sandbox", "biz_content": biz, "charset": "utf-8",
              "method": "alipay.trade.app.pay",
              "sign_type": "MD5", "timestamp": str(bill.create_time), "version": "1.0"}
    unsigned = urlencode(sorted(params.items()))
    return {"order_string": unsigned + "&sign=" + md5_hex(unsigned + merchant.master_secret)}


def _baidu_app(bill: Bill, _merchant: Merchant) -> dict:
    return {"orderInfo": urlencode({"service_code": "1", "sp_no": "sandbox",
                                    "order_no": bill.bill_no, "total_amount": bill.total_fee,
                                    "goods_name": bill.title, "currency": "1",
                                    "return_url": cashier_url(bill.cashier_token)})}


def _form_fields(bill: Bill) -> dict[str, str]:
    return {"out_trade_no": bill.bill_no, "total_fee": money.fen_to_yuan(bill.total_fee),
            "subject": bill.title}


def answer_fields(bill: Bill, merchant: Merchant) -> dict:
    """The channel's hand-off fields for ``bill`` (without the common
    ``result_code``/``result_msg``/``err_detail``/``id``)."""
    url = cashier_url(bill.cashier_token)
    code = bill.channel
    kind = catalogue.CHANNELS[code].answer
    if code == "WX_JSAPI":
        return _wechat_jsapi(bill, merchant)
    if code == "WX_APP":
        return _wechat_app(bill, merchant)
    if code == "ALI_APP":
        return _alipay_app(bill, merchant)
    if code == "BD_APP":
        return _baidu_app(bill, merchant)
    if code == "UN_APP":
        return {"tn": _digits(bill, 21)}
    if kind == catalogue.CODE_URL:
        return {"code_url": url}
    if kind == catalogue.QR_CODE:
        return {"qr_code": url}
    if kind == catalogue.HTML:
        form_id = "alipaysubmit" if bill.channel.startswith("ALI_") else "paysubmit"
        html = auto_submit_form(url, form_id, _form_fields(bill))
        if bill.channel.startswith("ALI_"):
            # ALI_WEB / ALI_WAP / ALI_QRCODE also answer ``url`` (seed 001).
            return {"html": html, "url": url}
        return {"html": html}
    if kind == catalogue.URL:
        return {"url": url}
    return {}
