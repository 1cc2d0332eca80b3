"""Which kind of device a shopper is on: a PC, a phone browser, or the
WeChat browser. The chooser offers channels fitted to it (``checkout.chooser``).

User-agent parsing is the ``user-agents`` library's job; the one rule of our
own is WeChat: its in-app browser says ``MicroMessenger`` (WeChat's own
documentation of the JSAPI environment), and there only WeChat Pay's JSAPI
works. Tablets count as phones: they get the mobile (WAP) channels, which is
what Alipay and UnionPay serve them too.
"""

from __future__ import annotations

from functools import lru_cache

from user_agents import parse

from .channels import MOBILE, PC, WECHAT

DEVICES = (PC, MOBILE, WECHAT)


@lru_cache(maxsize=512)
def device_of(user_agent: str | None) -> str:
    """``pc``, ``mobile`` or ``wechat`` for a User-Agent header (PC when unknown)."""
    text = (user_agent or "")[:1024]
    if "micromessenger" in text.lower():
        return WECHAT
    parsed = parse(text)
    if parsed.is_mobile or parsed.is_tablet:
        return MOBILE
    return PC
