"""Handing the shopper to the chosen channel: create (or find again) the
order's bill for that channel through the Gateway, and say how the page
should hand off, by the channel's answer kind (``checkout.channels``):

- ``html``: the gateway's auto-submitting form (Alipay, UnionPay, JD, Kuaiqian);
- ``url``: a top-level redirect (Yeepay, Baidu, WX_WAP, PayPal);
- ``qr``: a QR code of WX_NATIVE's ``code_url`` / ALI_OFFLINE_QRCODE's
  ``qr_code`` with live status;
- ``alipay_qr``: ALI_QRCODE's ``url`` embedded in an iframe of the size its
  ``qr_pay_mode`` requires (seed 001, ALI_QRCODE notes);
- ``jsapi``: WX_JSAPI's parameters for ``WeixinJSBridge``.

Every bill goes back to our own result page (``result_url``), never straight
to the merchant: the result page asks the gateway for the real status. One
bill per (order, channel): the gateway answers the same bill again for a
repeated request (issue 2, "one order, one payment") — until that bill
expired or failed: then the channel gets a new bill for the same order (a new
QR code; issue 15), while a paid order stays paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import channels as catalogue
from . import clock, coupon_offers, orders
from .gateway import (BILL_STATES, EXPIRED, OPEN, PAID, GatewayError, GatewayUnavailable,
                      get_gateway)
from .models import CheckoutOrder, Merchant
from .links import base_url

# The QR lifetime, in this one place: QR bills (WX_NATIVE, ALI_OFFLINE_QRCODE,
# ALI_QRCODE) are created with it as their ``bill_timeout``, so the gateway
# closes them then (``checkout.sandbox.expiry``), and the QR page counts down
# to the same moment; a QR code left on a screen cannot be paid hours later.
QR_BILL_TIMEOUT_SECONDS = 15 * 60
QR_LIFETIME_MINUTES = QR_BILL_TIMEOUT_SECONDS // 60
QR_CHANNELS = {"WX_NATIVE", "ALI_OFFLINE_QRCODE", "ALI_QRCODE"}
# ALI_QRCODE's qr_pay_mode and the iframe size it requires (seed 001): mode 0,
# "订单码-简约前置模式", at least 600 x 300, suits a PC page.
ALI_QR_PAY_MODE = "0"
ALI_QR_FRAME = {"0": (600, 300), "1": (300, 600), "3": (75, 75)}


class ChannelUnavailable(Exception):
    """The gateway could not be reached or answered nonsense: "try again or
    choose another way to pay"."""


class ChannelRefused(Exception):
    """The gateway refused the bill. ``reason``: ``already_paid``,
    ``expired`` (this channel's bill ran out of time), ``closed`` (it was
    closed otherwise), or ``refused``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class NeedsOpenid(Exception):
    """WX_JSAPI without the shopper's openid: run WeChat's OAuth first."""


@dataclass
class Handoff:
    kind: str                      # html / url / qr / alipay_qr / jsapi
    channel: catalogue.Channel
    bill_id: str
    html: str | None = None
    url: str | None = None
    qr_content: str | None = None
    jsapi: dict[str, str] = field(default_factory=dict)
    expires_at: int | None = None  # ms; QR bills
    frame_size: tuple[int, int] | None = None


def result_url(order: CheckoutOrder) -> str:
    """Our result page for the order (no ``?`` or ``#``, as channels require)."""
    return f"{base_url()}/pay/{order.id}/return"


def bill_request(order: CheckoutOrder, merchant: Merchant, channel: catalogue.Channel, *,
                 client_ip: str | None = None,
                 offer: coupon_offers.CouponOffer | None = None) -> dict[str, Any]:
    """The ``POST /2/rest/bill`` body for this order and channel (the gateway
    adds app_id, timestamp and app_sign)."""
    request: dict[str, Any] = {
        "channel": channel.code, "total_fee": order.amount, "bill_no": order.bill_no,
        "title": orders.bill_title(order.title), "return_url": result_url(order),
    }
    optional = orders.bill_optional(order)
    if optional:
        request["optional"] = optional
    analysis = dict(order.analysis or {})
    if channel.code == "WX_WAP" and client_ip:
        # Seed 003 lines 340-342: WX_WAP needs the shopper's IP in analysis.
        analysis["ip"] = client_ip
    if analysis:
        request["analysis"] = analysis
    request.update(coupon_offers.bill_coupon_fields(order, merchant, offer))
    if channel.code in QR_CHANNELS and channel.allows_bill_timeout:
        request["bill_timeout"] = QR_BILL_TIMEOUT_SECONDS
    if channel.code == "WX_JSAPI":
        request["openid"] = order.openid
    if channel.code == "ALI_QRCODE":
        request["qr_pay_mode"] = ALI_QR_PAY_MODE
    if channel.code == "ALI_WAP":
        request["use_app"] = bool(order.use_app)
    return request


def _create(order: CheckoutOrder, merchant: Merchant, channel: catalogue.Channel,
            client_ip: str | None, offer: coupon_offers.CouponOffer) -> dict:
    try:
        # A shopper coming back to a channel whose bill expired or failed
        # gets its next bill (Gateway.reopen_bill).
        answer = get_gateway().reopen_bill(
            merchant, bill_request(order, merchant, channel, client_ip=client_ip, offer=offer))
    except GatewayUnavailable:
        raise ChannelUnavailable() from None
    except GatewayError as error:
        if error.result_code == 7 and "ORDERPAID" in error.err_detail:
            raise ChannelRefused("already_paid") from None
        if error.result_code == 7 and "ORDERCLOSED" in error.err_detail:
            raise ChannelRefused("closed") from None
        raise ChannelRefused("refused", error.err_detail) from None
    if not isinstance(answer.get("id"), str) or not answer["id"]:
        raise ChannelUnavailable()
    return answer


def _text(answer: dict, name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        raise ChannelUnavailable()
    return value


def _web_url(answer: dict, name: str) -> str:
    value = _text(answer, name)
    if not value.startswith(("https://", "http://")):
        raise ChannelUnavailable()
    return value


def start_channel(order: CheckoutOrder, merchant: Merchant, code: str, *,
                  client_ip: str | None = None) -> Handoff:
    """Open the order's bill for channel ``code`` and say how to hand off."""
    channel = catalogue.get(code)
    if channel is None:
        raise ChannelRefused("refused", "unknown channel")
    if channel.code == "WX_JSAPI" and not order.openid:
        raise NeedsOpenid()
    known = (order.bills or {}).get(channel.code)
    offer = coupon_offers.offer_for_order(order, merchant)
    # Taken before the gateway creates the bill, so the page's countdown
    # never ends after the gateway's bill_timeout does.
    asked_at = clock.now_ms()
    try:
        # A BeeCloud-REST gateway cannot re-open a channel: its ORDERCLOSED
        # for an expired bill is shown as "expired" below.
        answer = _create(order, merchant, channel, client_ip, offer)
    except ChannelRefused as refused:
        if refused.reason == "closed" and _bill_state(order, merchant, channel.code) == EXPIRED:
            raise ChannelRefused("expired") from None
        raise
    first_time = answer["id"] != known  # a new bill (a re-opened channel too)
    orders.remember_bill(order, channel.code, answer["id"],
                         **{coupon_offers.TO_PAY_KEY: offer.to_pay})
    handoff = Handoff(kind=channel.answer, channel=channel, bill_id=answer["id"])
    if channel.code in QR_CHANNELS:
        handoff.expires_at = _qr_expiry(order, channel.code, first_time, asked_at)
    if channel.answer == catalogue.HTML and channel.code == "ALI_QRCODE":
        handoff.kind = "alipay_qr"
        handoff.url = _web_url(answer, "url")
        handoff.frame_size = ALI_QR_FRAME[ALI_QR_PAY_MODE]
    elif channel.answer == catalogue.HTML:
        handoff.html = _text(answer, "html")
    elif channel.answer == catalogue.URL:
        handoff.url = _web_url(answer, "url")
    elif channel.answer in (catalogue.CODE_URL, catalogue.QR_CODE):
        handoff.kind = "qr"
        handoff.qr_content = _text(answer, channel.answer)
    elif channel.answer == catalogue.JSAPI:
        handoff.jsapi = jsapi_parameters(answer)
    else:
        raise ChannelRefused("refused", f"{channel.code} cannot be paid on a web page")
    return handoff


def jsapi_parameters(answer: dict) -> dict[str, str]:
    """The gateway's WX_JSAPI answer (seed 001) as ``getBrandWCPayRequest``
    wants it (WeChat's names)."""
    return {"appId": _text(answer, "app_id"), "timeStamp": str(_text(answer, "timestamp")),
            "nonceStr": _text(answer, "nonce_str"), "package": _text(answer, "package"),
            "signType": answer.get("sign_type") or "MD5", "paySign": _text(answer, "pay_sign")}


def _bill_state(order: CheckoutOrder, merchant: Merchant, code: str) -> str | None:
    """What the gateway says of the order's bill for ``code``, if it has one."""
    bill_id = (order.bills or {}).get(code)
    if not bill_id:
        return None
    try:
        return get_gateway().bill_state(merchant, bill_id)
    except (GatewayUnavailable, GatewayError):
        return None


def _qr_expiry(order: CheckoutOrder, code: str, first_time: bool, asked_at: int) -> int:
    """When this order's QR bill expires (kept from the bill's creation)."""
    expiries = dict((order.extra or {}).get("expires") or {})
    if code not in expiries or first_time:
        expiries[code] = asked_at + QR_BILL_TIMEOUT_SECONDS * 1000
        orders.remember(order, expires=expiries)
    return int(expiries[code])


# --- status ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderState:
    """What the result page says: ``paid``, ``refunded`` (paid, then some or
    all of it given back: ``refunded_fee`` of ``paid_fee``, in the order's
    minor units), ``pending`` (nothing final yet), ``failed`` / ``closed`` /
    ``expired`` (of the channel tried last), or ``unknown`` (the gateway could
    not be asked)."""

    status: str
    channel: str | None = None
    refunded_fee: int = 0
    paid_fee: int = 0

    @property
    def fully_refunded(self) -> bool:
        return self.status == "refunded" and self.refunded_fee >= self.paid_fee


def _paid_state(gateway, merchant: Merchant, code: str, bill_id: str) -> OrderState:
    """A paid bill's state: ``refunded`` once any refund of it succeeded (the
    bill's ``refund_result``, seed 001 §5), with how much, so a shopper who
    comes back to an old link sees the money went back."""
    pay = gateway.get_bill(merchant, bill_id)
    refunded = gateway.refunded_fee(merchant, pay) if isinstance(pay, dict) else 0
    if refunded > 0:
        return OrderState("refunded", code, refunded_fee=refunded,
                          paid_fee=int(pay.get("total_fee") or 0))
    return OrderState("paid", code)


def order_state(order: CheckoutOrder, merchant: Merchant) -> OrderState:
    """The order's real state, from the gateway (never from query parameters)."""
    bills = order.bills or {}
    if not bills:
        return OrderState("pending")
    gateway = get_gateway()
    states: dict[str, str] = {}
    try:
        for code, bill_id in bills.items():
            state = gateway.bill_state(merchant, bill_id)
            states[code] = state if state in BILL_STATES else OPEN
    except (GatewayUnavailable, GatewayError):
        return OrderState("unknown")
    paid = next((code for code, state in states.items() if state == PAID), None)
    if paid:
        orders.mark_paid(order)
        try:
            return _paid_state(gateway, merchant, paid, bills[paid])
        except (GatewayUnavailable, GatewayError):
            return OrderState("unknown")
    last = (order.extra or {}).get("last")
    state = states.get(last, OPEN) if last else OPEN
    return OrderState("pending" if state == OPEN else state, last)
