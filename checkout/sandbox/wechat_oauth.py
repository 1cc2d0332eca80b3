"""The simulated WeChat's web OAuth, for the embedded sandbox (issue 4):
the authorize page's rules and the token call, with WeChat's JSON shapes
(``{"access_token", "expires_in", "refresh_token", "openid", "scope"}`` or
``{"errcode", "errmsg"}``) so ``checkout.wechat`` talks to it exactly as to
WeChat. Codes are single use and live five minutes, as WeChat's do.

The sandbox serves one official account per appid (``wx`` + 16 letters or
digits); its secret is ``sandbox_secret(appid)``, and a merchant's account is
``sandbox_account(merchant)``, the appid its WX_JSAPI answers carry. The
shopper is a simulated WeChat user; their openid is stable per (appid, user).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import update

from ..clock import now_ms as clock_now_ms
from ..db import db
from ..models import Merchant, WeChatOAuthCode
from .channel_answers import sandbox_wechat_appid

APPID = re.compile(r"wx[0-9A-Za-z]{16}")
SCOPES = ("snsapi_base", "snsapi_userinfo")
CODE_LIFETIME_MS = 5 * 60 * 1000
DEFAULT_USER = "sandbox-shopper"


def sandbox_secret(appid: str) -> str:
    """The simulated official account's app secret for ``appid``: derived
    from this service's SECRET_KEY, so every worker and host agrees."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, f"wechat-sandbox-secret:{appid}".encode("utf-8"),
                    hashlib.sha256).hexdigest()[:32]


def sandbox_account(merchant: Merchant) -> tuple[str, str]:
    """(appid, secret) of the merchant's simulated official account: the
    appid of its WX_JSAPI answers, since WeChat pays an openid only with the
    appid it was issued for."""
    appid = sandbox_wechat_appid(merchant)
    return appid, sandbox_secret(appid)


class AuthorizeRefused(ValueError):
    """The authorize request is malformed; WeChat shows an error page."""


class TokenError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    def answer(self) -> dict:
        return {"errcode": self.errcode, "errmsg": self.errmsg}


def check_authorize(appid: object, redirect_uri: object, response_type: object,
                    scope: object, allowed_hosts: set[str]) -> None:
    """WeChat's checks of ``/connect/oauth2/authorize``. The sandbox only sends
    codes back to this service's own hosts (WeChat: the account's authorised
    domain), so it is never an open redirect."""
    if not isinstance(appid, str) or not APPID.fullmatch(appid):
        raise AuthorizeRefused("appid invalid")
    if response_type != "code":
        raise AuthorizeRefused("response_type must be code")
    if scope not in SCOPES:
        raise AuthorizeRefused("scope 参数错误或没有 scope 权限")
    parts = urlsplit(redirect_uri) if isinstance(redirect_uri, str) else None
    if parts is None or parts.scheme not in ("http", "https") or \
            parts.netloc.lower() not in allowed_hosts or "#" in redirect_uri:
        raise AuthorizeRefused("redirect_uri 参数错误")


def openid_for(appid: str, user: str) -> str:
    """A stable openid per (official account, user): 'o' + 27 characters."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    digest = hmac.new(key, f"openid:{appid}:{user}".encode("utf-8"), hashlib.sha256).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def back_to(redirect_uri: str, state: str, code: str | None) -> str:
    query = urlencode(([("code", code)] if code else []) + [("state", state)])
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"


def issue_code(appid: str, scope: str, user: str = DEFAULT_USER, *,
               now_ms: int | None = None) -> str:
    code = secrets.token_hex(16)
    db.session.add(WeChatOAuthCode(code=code, appid=appid, openid=openid_for(appid, user),
                                   scope=scope, created_at=now_ms or clock_now_ms()))
    db.session.commit()
    return code


def exchange(appid: object, secret: object, code: object, grant_type: object, *,
             now_ms: int | None = None) -> dict:
    """``GET /sns/oauth2/access_token``: WeChat's answer map."""
    now = now_ms or clock_now_ms()
    if not appid:
        raise TokenError(41002, "appid missing")
    if not isinstance(appid, str) or not APPID.fullmatch(appid):
        raise TokenError(40013, "invalid appid")
    if not secret:
        raise TokenError(41004, "appsecret missing")
    if not isinstance(secret, str) or not hmac.compare_digest(
            secret.encode(), sandbox_secret(appid).encode()):
        raise TokenError(40125, "invalid appsecret")
    if grant_type != "authorization_code":
        raise TokenError(40002, "invalid grant_type")
    if not code:
        raise TokenError(41008, "missing code")
    row = db.session.get(WeChatOAuthCode, code) if isinstance(code, str) and len(code) <= 64 \
        else None
    if row is None or row.appid != appid or row.created_at + CODE_LIFETIME_MS <= now:
        raise TokenError(40029, "invalid code")
    # Single use, also between workers racing for one code.
    used = db.session.execute(
        update(WeChatOAuthCode).where(WeChatOAuthCode.code == row.code,
                                      WeChatOAuthCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    if used.rowcount != 1:
        raise TokenError(40163, "code been used")
    return {"access_token": secrets.token_urlsafe(48), "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(48), "openid": row.openid,
            "scope": row.scope}
