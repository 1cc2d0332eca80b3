"""The channel catalogue: every BeeCloud channel the product knows, what the
gateway answers for it (seed 001 section 2, seed 003 lines 627-822) and which
shoppers' devices it suits. Both the embedded gateway and the checkout read it.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a bill-creation answer carries for a channel, i.e. how the shopper is handed off.
HTML = "html"          # an auto-submitting form (``html``; Alipay also gives ``url``)
URL = "url"            # a page to redirect to
CODE_URL = "code_url"  # WX_NATIVE: a QR code's content
QR_CODE = "qr_code"    # ALI_OFFLINE_QRCODE: a QR code's content
JSAPI = "jsapi"        # WX_JSAPI: parameters for WeixinJSBridge
APP = "app"            # native app SDK parameters (no web hand-off)
BARCODE = "barcode"    # offline: merchant scans the shopper's code (auth_code)
PAYPAL = "paypal"      # international API (seed 002)

# Devices a shopper can be on.
PC = "pc"
MOBILE = "mobile"
WECHAT = "wechat"


@dataclass(frozen=True)
class Channel:
    code: str             # sub channel, e.g. ALI_WEB
    family: str           # channel_type in webhooks and queries, e.g. ALI
    answer: str           # one of the hand-off kinds above
    devices: frozenset    # where the checkout may offer it; empty: never offered
    name_zh: str
    name_en: str
    needs_return_url: bool = False  # seed 001: ALI_WEB, ALI_QRCODE, UN_WEB, JD_WAP, JD_WEB
    allows_bill_timeout: bool = True  # seed 001: JD does not support bill_timeout
    offline: bool = False   # only through /2/rest/offline/bill

    @property
    def cashier_family(self) -> str:
        """Which simulated cashier look this channel gets."""
        return self.family


def _c(code, family, answer, devices, zh, en, **kw) -> Channel:
    return Channel(code, family, answer, frozenset(devices), zh, en, **kw)


_ALL = [
    # WeChat Pay
    _c("WX_NATIVE", "WX", CODE_URL, {PC}, "微信扫码支付", "WeChat Pay (scan QR)"),
    _c("WX_JSAPI", "WX", JSAPI, {WECHAT}, "微信支付", "WeChat Pay"),
    _c("WX_WAP", "WX", URL, {MOBILE}, "微信支付", "WeChat Pay"),
    _c("WX_APP", "WX", APP, set(), "微信APP支付", "WeChat Pay (app)"),
    _c("WX_SCAN", "WX", BARCODE, set(), "微信刷卡支付", "WeChat Pay (barcode)", offline=True),
    # Alipay
    _c("ALI_WEB", "ALI", HTML, {PC}, "支付宝", "Alipay", needs_return_url=True),
    _c("ALI_QRCODE", "ALI", HTML, {PC}, "支付宝扫码", "Alipay (QR)", needs_return_url=True),
    _c("ALI_WAP", "ALI", HTML, {MOBILE, WECHAT}, "支付宝", "Alipay"),
    _c("ALI_OFFLINE_QRCODE", "ALI", QR_CODE, {PC}, "支付宝扫码支付", "Alipay (scan QR)"),
    _c("ALI_APP", "ALI", APP, set(), "支付宝APP支付", "Alipay (app)"),
    _c("ALI_SCAN", "ALI", BARCODE, set(), "支付宝条码支付", "Alipay (barcode)", offline=True),
    # UnionPay
    _c("UN_WEB", "UN", HTML, {PC}, "银联在线支付", "UnionPay", needs_return_url=True),
    _c("UN_WAP", "UN", HTML, {MOBILE, WECHAT}, "银联手机支付", "UnionPay"),
    _c("UN_APP", "UN", APP, set(), "银联APP支付", "UnionPay (app)"),
    # JD
    _c("JD_WEB", "JD", HTML, {PC}, "京东支付", "JD Pay", needs_return_url=True,
       allows_bill_timeout=False),
    _c("JD_WAP", "JD", HTML, {MOBILE}, "京东支付", "JD Pay", needs_return_url=True,
       allows_bill_timeout=False),
    # Yeepay
    _c("YEE_WEB", "YEE", URL, {PC}, "易宝支付", "Yeepay"),
    _c("YEE_WAP", "YEE", URL, {MOBILE}, "易宝支付", "Yeepay"),
    _c("YEE_NOBANKCARD", "YEE", URL, set(), "易宝点卡支付", "Yeepay (prepaid card)"),
    # Kuaiqian
    _c("KUAIQIAN_WEB", "KUAIQIAN", HTML, {PC}, "快钱支付", "Kuaiqian"),
    _c("KUAIQIAN_WAP", "KUAIQIAN", HTML, {MOBILE}, "快钱支付", "Kuaiqian"),
    # Baidu
    _c("BD_WEB", "BD", URL, {PC}, "百度钱包", "Baidu Wallet"),
    _c("BD_WAP", "BD", URL, {MOBILE}, "百度钱包", "Baidu Wallet"),
    _c("BD_APP", "BD", APP, set(), "百度钱包APP支付", "Baidu Wallet (app)"),
    # PayPal (international API, seed 002)
    _c("PAYPAL_PAYPAL", "PAYPAL", PAYPAL, {PC, MOBILE}, "PayPal", "PayPal"),
    _c("PAYPAL_CREDITCARD", "PAYPAL", PAYPAL, {PC, MOBILE}, "信用卡 (PayPal)", "Card (PayPal)"),
    _c("PAYPAL_SAVED_CREDITCARD", "PAYPAL", PAYPAL, set(), "已保存的卡", "Saved card"),
]

CHANNELS: dict[str, Channel] = {channel.code: channel for channel in _ALL}
FAMILIES: frozenset = frozenset(channel.family for channel in _ALL)


def get(code: str) -> Channel | None:
    return CHANNELS.get(code) if isinstance(code, str) else None
