"""What the channel chooser offers: the merchant's enabled channels, in the
merchant's order, fitted to the shopper's device (``checkout.devices``).

- PC: the channels whose catalogue entry lists ``pc`` (ALI_WEB, ALI_QRCODE,
  WX_NATIVE, UN_WEB, JD_WEB, …); phone browsers: ``mobile`` (ALI_WAP, WX_WAP,
  UN_WAP, JD_WAP, …).
- The WeChat browser: WX_JSAPI first. Alipay is blocked inside WeChat, so
  with ``need_ali_guide`` (default true, seed 003 line 355) Alipay is offered
  behind a guide page ("open in your browser"); with false it is not offered.
  WX_NATIVE, when enabled, stays available in WeChat as the "pay by QR
  code" fallback (a QR code can be long-pressed and recognised there).
- PayPal channels appear for orders in a PayPal currency
  (``checkout.paypal_pay.offered_channels``); the domestic channels only for
  CNY orders.

``instant_channel`` (seed 003 line 354) skips the chooser: ``INSTANT`` maps
each value to candidate channels per device, and the first one the merchant
enabled (and the device suits) is used. BeeCloud's own "BC" channels
(``bcali``, ``bcwx`` …) map to the direct channel of the same kind: the
embedded gateway has no BC_* sub-channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import channels as catalogue
from . import paypal_pay
from .gateway import get_gateway
from .channels import MOBILE, PC, WECHAT, Channel
from .models import CheckoutOrder, Merchant

_ALI = {PC: ("ALI_WEB", "ALI_QRCODE"), MOBILE: ("ALI_WAP",), WECHAT: ("ALI_WAP",)}
_WX_SCAN = {PC: ("WX_NATIVE",), MOBILE: ("WX_WAP",), WECHAT: ("WX_JSAPI",)}
_WX = {PC: ("WX_NATIVE",), MOBILE: ("WX_WAP",), WECHAT: ("WX_JSAPI",)}
_UN = {PC: ("UN_WEB",), MOBILE: ("UN_WAP",), WECHAT: ("UN_WAP",)}
INSTANT: dict[str, dict[str, tuple[str, ...]]] = {
    "ali": _ALI, "bcali": _ALI,
    "wxmp": _WX_SCAN, "bcwxmp": _WX_SCAN,
    "wx": _WX, "bcwx": _WX, "wxwap": _WX, "bcwxwap": _WX,
    "un": _UN, "unwap": _UN, "bckj": _UN,
    "bcaliqr": {PC: ("ALI_QRCODE", "ALI_OFFLINE_QRCODE"), MOBILE: ("ALI_WAP",),
                WECHAT: ("ALI_WAP",)},
}


@dataclass(frozen=True)
class ChannelChoice:
    """One line of the chooser."""

    channel: Channel
    guide: bool = False      # Alipay inside WeChat: a guide page, not the channel
    new_window: bool = False  # framed checkout: the channel opens in a new window

    @property
    def code(self) -> str:
        return self.channel.code

    @property
    def family(self) -> str:
        return self.channel.family

    @property
    def mark(self) -> str:
        """Which brand mark the row shows (templates/_brands.html): the
        family's, except PayPal's card rows, which are cards, not PayPal."""
        return _MARKS.get(self.channel.code, self.channel.family)

    def name(self, chinese: bool) -> str:
        return self.channel.name_zh if chinese else self.channel.name_en


# Rows whose mark is not their family's (issue 15: the card row showed "¥").
_MARKS = {"PAYPAL_CREDITCARD": "CARD", "PAYPAL_SAVED_CREDITCARD": "CARD"}


# Hand-offs that cannot run inside a merchant's iframe (a channel cashier
# refuses to be framed), so a framed checkout opens them in a new window.
LEAVES_FRAME = {catalogue.HTML, catalogue.URL, catalogue.PAYPAL}


def _fits(channel: Channel, device: str) -> bool:
    if device in channel.devices:
        return True
    return device == WECHAT and channel.code == "WX_NATIVE"


def channel_choices(merchant: Merchant, order: CheckoutOrder, device: str, *,
                    framed: bool = False) -> list[ChannelChoice]:
    if order.currency != "CNY":
        codes = paypal_pay.offered_channels(merchant, order)
    else:
        codes = [code for code in merchant.channels
                 if not paypal_pay.is_paypal_channel(code)]
    choices = []
    # A live merchant is offered only what its credentials can be paid with (issue 14).
    for code in get_gateway().payable_channels(merchant, codes):
        channel = catalogue.get(code)
        if channel is None or not _fits(channel, device):
            continue
        guide = device == WECHAT and channel.family == "ALI"
        if guide and not order.need_ali_guide:
            continue
        choices.append(ChannelChoice(
            channel, guide=guide,
            new_window=framed and channel.answer in LEAVES_FRAME and not guide))
    if device == WECHAT:
        # WeChat's own payment first, then the rest in the merchant's order.
        choices.sort(key=lambda choice: 0 if choice.code == "WX_JSAPI" else 1)
    return choices


def find_choice(choices: list[ChannelChoice], code: object) -> ChannelChoice | None:
    return next((choice for choice in choices if choice.code == code), None)


def instant_choice(choices: list[ChannelChoice], instant_channel: str | None,
                   device: str) -> ChannelChoice | None:
    """The channel ``instant_channel`` asks for on this device, if offered."""
    if not instant_channel:
        return None
    for code in INSTANT.get(instant_channel, {}).get(device, ()):
        choice = find_choice(choices, code)
        if choice is not None:
            return choice
    return None
