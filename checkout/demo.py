"""The demo shop: a tiny merchant storefront that uses the product the way a
real merchant would (seed 003 lines 325-444), so the whole journey can be
clicked through on one machine.

- It signs each order server-side, ``sign = md5(appId + title + amount +
  out_trade_no + appSecret)`` (``signing.button_sign``), for the hosted
  checkout ``/pay``.
- It can also skip the checkout and create an ALI_WEB bill through the
  gateway's REST interface (``gateway.get_gateway().create_bill``).
- Its webhook receiver checks the signature in constant time, checks the
  fee against its own price (seed 003 line 412), keeps each event once, in
  the database (several gunicorn workers), and answers ``success``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from . import merchants, signing
from .clock import now_ms
from .db import db
from .inputs import BadInput, parse_json
from .models import DemoShop, DemoWebhook, Merchant

NAME = "秒支付 Demo Tea Shop"
# The web channels the hosted checkout can offer (PC, phone, WeChat).
CHANNELS = ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB", "ALI_WAP", "WX_WAP",
            "UN_WAP", "JD_WAP", "WX_JSAPI", "YEE_WEB", "YEE_WAP", "KUAIQIAN_WEB",
            "KUAIQIAN_WAP", "BD_WEB", "BD_WAP"]


@dataclass(frozen=True)
class Product:
    key: str
    # The name in the app's gettext (lazy): ``title`` is it in the shopper's
    # language, so the shop's page and the order it signs speak that language
    # (issue 15 "Language leaks"). Either language: at most 32 UTF-8 bytes
    # (seed 001), no quotes (seed 003 line 338).
    name: object
    amount: int  # fen

    @property
    def title(self) -> str:
        return str(self.name)


PRODUCTS = [Product("water", _l("Spring water"), 1), Product("tea", _l("Oolong tea"), 1999),
            Product("cup", _l("Celadon tea cup"), 12800)]


class DemoError(ValueError):
    """Something the demo cannot do; the message is safe to show."""


def product(key: object) -> Product:
    found = next((item for item in PRODUCTS if item.key == key), None)
    if found is None:
        raise DemoError("no such product")
    return found


def demo_merchant() -> Merchant | None:
    shop = db.session.execute(db.select(DemoShop).limit(1)).scalar_one_or_none()
    return merchants.get_merchant(shop.app_id) if shop else None


def host_of(base_url: str) -> str:
    return merchants.normalise_host(base_url)


def sibling_hosts(base_url: str) -> tuple[str, ...]:
    """127.0.0.1 and localhost name the same machine: allow both."""
    host = host_of(base_url)
    name, _, port = host.partition(":")
    twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    if name not in twins:
        return ()
    return (twins[name] + (":" + port if port else ""),)


@dataclass(frozen=True)
class Setup:
    merchant: Merchant
    created: bool
    # What an existing demo merchant was changed in, one phrase each, for the
    # operator's terminal (empty when nothing changed).
    changes: tuple[str, ...] = ()


def configure(base_url: str, extra_hosts: tuple[str, ...] = ()) -> Setup:
    """The demo merchant for this app at ``base_url``: created once (all web
    channels, return host = this app's host, webhook URL = the demo
    receiver); later its webhook URL is pointed at ``base_url`` again and the
    new hosts are added, since the app may now run on another port or host
    and a webhook sent to the old address would fail for good."""
    base_url = base_url.rstrip("/")
    hosts = list(dict.fromkeys([host_of(base_url), *sibling_hosts(base_url)]
                               + [merchants.normalise_host(h) for h in extra_hosts]))
    webhook_url = f"{base_url}/demo/webhook"
    merchant = demo_merchant()
    if merchant is None:
        merchant = merchants.create_merchant(NAME, channels=CHANNELS, return_hosts=hosts,
                                             webhook_url=webhook_url)
        db.session.add(DemoShop(app_id=merchant.app_id, created_at=now_ms()))
        db.session.commit()
        go_live_on_simulators(merchant)
        return Setup(merchant, created=True)
    changes = []
    if go_live_on_simulators(merchant):
        changes.append("live mode with Alipay credentials on the built-in simulator")
    if merchant.webhook_url != webhook_url:
        changes.append(f"webhook URL {merchant.webhook_url or '(none)'} → {webhook_url}")
    added = [host for host in hosts if host not in merchant.return_hosts]
    if added:
        changes.append("return hosts + " + ", ".join(added))
    if changes:
        merchants.update_merchant(merchant, webhook_url=webhook_url,
                                  return_hosts=list(merchant.return_hosts) + added)
    return Setup(merchant, created=False, changes=tuple(changes))


def go_live_on_simulators(merchant: Merchant) -> bool:
    """Where the app serves the provider simulators (``SIMULATORS``, which
    ``bin/run`` turns on), the demo merchant runs in LIVE mode with Alipay
    credentials on the built-in Alipay simulator, so the demo pays through
    the real Alipay connector (issue 14); channels without a live connector
    yet are then not offered. True when this call changed the merchant."""
    from flask import current_app

    from . import credentials

    if not current_app.config.get("SIMULATORS") or \
            "alipay" in credentials.configured_providers(merchant.app_id):
        return False
    credentials.save(merchant, "alipay", credentials.simulator_values(merchant.app_id))
    merchants.update_merchant(merchant, checkout_mode="live")
    return True


def setup(base_url: str, extra_hosts: tuple[str, ...] = ()) -> tuple[Merchant, bool]:
    """``configure``, answering ``(merchant, created)``."""
    done = configure(base_url, extra_hosts)
    return done.merchant, done.created


def available(enabled: bool) -> bool:
    """Whether the demo shop is served: the ``DEMO`` setting is on (the shop
    then sets itself up on first visit) or ``demo setup`` made its merchant."""
    return enabled or demo_merchant() is not None


def allow_host(merchant: Merchant, host: str) -> None:
    """Let the shop's return page be reached on ``host`` too (the demo is
    opened as localhost, 127.0.0.1 or a LAN address alike)."""
    host = merchants.normalise_host(host)
    if host not in merchant.return_hosts:
        merchants.update_merchant(merchant, return_hosts=list(merchant.return_hosts) + [host])


def new_out_trade_no() -> str:
    # Letters and digits only, 8-32 characters: valid both as the button's
    # out_trade_no (seed 003 line 339) and as a REST bill_no (seed 001).
    return f"demo{now_ms()}{secrets.randbelow(10 ** 6):06d}"


def signed_order(merchant: Merchant, item: Product, base_url: str) -> dict:
    """The BC.click fields for one order of ``item`` (seed 003 lines 333-359),
    signed here on the server; the app secret never leaves it."""
    out_trade_no = new_out_trade_no()
    return {
        "appId": merchant.app_id,
        "title": item.title,
        "amount": str(item.amount),
        "out_trade_no": out_trade_no,
        "sign": signing.button_sign(merchant.app_id, item.title, item.amount, out_trade_no,
                                    merchant.app_secret),
        # Seed 003 line 349: a return_url may carry no parameters.
        "return_url": f"{base_url.rstrip('/')}/demo/return/{out_trade_no}",
        "optional": json.dumps({"product": item.key}),
    }


def alipay_bill(merchant: Merchant, item: Product, base_url: str) -> dict:
    """Create an ALI_WEB bill through the gateway (REST ``POST /2/rest/bill``):
    the answer's ``html`` hands the shopper to Alipay's (simulated) cashier."""
    from .gateway import get_gateway

    bill_no = new_out_trade_no()
    return get_gateway().create_bill(merchant, {
        "channel": "ALI_WEB", "total_fee": item.amount, "bill_no": bill_no,
        "title": item.title, "optional": {"product": item.key},
        "return_url": f"{base_url.rstrip('/')}/demo/return/{bill_no}",
    })


# --- the webhook receiver (seed 003 lines 392-444) ------------------------------------

def receive_webhook(merchant: Merchant, raw: bytes) -> str | None:
    """Check and keep one webhook. None when accepted (answer ``success``),
    else why it was refused (answer anything but ``success``)."""
    try:
        event = parse_json(raw, "the webhook")
    except BadInput as bad:
        return bad.message
    if not isinstance(event, dict):
        return "not a JSON object"
    try:
        transaction_id = str(event["transaction_id"])
        transaction_type = str(event["transaction_type"])
        channel_type = str(event["channel_type"])
        fee = int(event["transaction_fee"])
        expected = signing.webhook_signature(merchant.app_id, transaction_id, transaction_type,
                                             channel_type, fee, merchant.master_secret)
    except (KeyError, TypeError, ValueError):
        return "fields missing"
    if not signing.same_signature(expected, event.get("signature")):
        return "bad signature"
    optional = event.get("optional") if isinstance(event.get("optional"), dict) else {}
    try:
        fee_matches = product(optional.get("product")).amount == int(event.get("bill_fee", fee))
    except (DemoError, TypeError, ValueError):
        fee_matches = False
    db.session.add(DemoWebhook(
        app_id=merchant.app_id, transaction_type=transaction_type[:16],
        transaction_id=transaction_id[:64],
        sub_channel_type=str(event.get("sub_channel_type", ""))[:32], transaction_fee=fee,
        fee_matches=fee_matches, body=raw.decode("utf-8"), received_at=now_ms()))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # seen before: seed 003 line 410 says ignore repeats
    return None


def received_webhooks(merchant: Merchant, limit: int = 20) -> list[DemoWebhook]:
    return list(db.session.execute(
        db.select(DemoWebhook).where(DemoWebhook.app_id == merchant.app_id)
        .order_by(DemoWebhook.id.desc()).limit(limit)).scalars())


def webhook_for(merchant: Merchant, out_trade_no: str) -> DemoWebhook | None:
    return db.session.execute(
        db.select(DemoWebhook).where(DemoWebhook.app_id == merchant.app_id,
                                     DemoWebhook.transaction_type == "PAY",
                                     DemoWebhook.transaction_id == out_trade_no[:64])
    ).scalar_one_or_none()
