"""Every signature the product makes or checks, in one place.

All digests are MD5 over UTF-8, 32 hex characters. Comparisons are made in
constant time (``hmac.compare_digest``) and, where the documents say the
signature is case-insensitive, after lower-casing both sides.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def same_signature(expected: str, given: object) -> bool:
    """Constant-time, case-insensitive comparison of two hex signatures."""
    if not isinstance(given, str) or not given.isascii():
        return False  # no hex signature holds other characters (nor can they all be encoded)
    return hmac.compare_digest(expected.lower().encode(), given.strip().lower().encode())


# --- The 秒支付 button (seed 003, lines 333-383) ---------------------------

def button_sign(app_id: str, title: str, amount: int, out_trade_no: str, app_secret: str) -> str:
    """``md5(appId + title + amount + out_trade_no + appSecret)``; ``amount`` is
    signed as its canonical decimal integer, so ``1`` and ``"1"`` sign alike."""
    return md5_hex(f"{app_id}{title}{int(amount)}{out_trade_no}{app_secret}")


def verify_button_sign(app_id: str, title: str, amount: int, out_trade_no: str,
                       app_secret: str, sign: object) -> bool:
    return same_signature(button_sign(app_id, title, amount, out_trade_no, app_secret), sign)


# --- REST app_sign (seed 001, section 2: md5(app_id + timestamp + secret)) ----

def app_sign(app_id: str, timestamp: int | str, secret: str) -> str:
    return md5_hex(f"{app_id}{timestamp}{secret}")


def verify_app_sign(app_id: str, timestamp: int | str, secret: str, sign: object) -> bool:
    return same_signature(app_sign(app_id, timestamp, secret), sign)


# --- Webhooks (seed 003, lines 392-444) ------------------------------------

def webhook_signature(app_id: str, transaction_id: str, transaction_type: str,
                      channel_type: str, transaction_fee: int, master_secret: str) -> str:
    """``md5(app_id + transaction_id + transaction_type + channel_type +
    transaction_fee + master_secret)``, lower-case hex."""
    return md5_hex(f"{app_id}{transaction_id}{transaction_type}{channel_type}"
                   f"{transaction_fee}{master_secret}")


# --- WeChat Pay's MD5 rule (used for WX_JSAPI pay_sign) -----------------------

def wechat_pay_sign(params: Mapping[str, object], key: str) -> str:
    """WeChat Pay's signature: non-empty parameters sorted by name (ASCII),
    joined as ``k=v&…``, then ``&key=KEY``; MD5, upper-case hex."""
    pairs = [f"{name}={value}" for name, value in sorted(params.items())
             if value not in (None, "") and name != "sign"]
    pairs.append(f"key={key}")
    return md5_hex("&".join(pairs)).upper()
