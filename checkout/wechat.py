"""WeChat web OAuth (``snsapi_base``): the shopper's ``openid`` for WX_JSAPI
when the merchant's ``BC.click`` did not pass one (seed 003 line 359: "需要开发者
微信网页授权获取").

1. ``authorize_url``: a top-level redirect to WeChat's
   ``/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=snsapi_base&state=…#wechat_redirect``;
2. WeChat sends the shopper back to ``redirect_uri?code=…&state=…`` (no
   ``code`` when the user refused);
3. ``exchange_code``: our server calls ``/sns/oauth2/access_token`` with the
   official account's app secret and reads ``openid`` from the JSON answer,
   or WeChat's error ``{"errcode": …, "errmsg": …}``.

``state`` is bound to one checkout order and signed (``make_state`` /
``check_state``), so a callback cannot be replayed onto another order.

Hosts: ``WECHAT_OPEN_URL`` (authorize page) and ``WECHAT_API_URL`` (token
call). Left empty, both point at the embedded sandbox's simulated WeChat
(``checkout.web.wechat_sim``), which serves a sandbox official account per
merchant and, when its blueprint is registered, tells this module that
account (``SIMULATED_ACCOUNT``): this production module never imports the
sandbox. With real WeChat hosts configured, the merchant's own
``wechat_appid``/``wechat_secret`` are required.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

import httpx
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from . import http_log
from .models import Merchant
from .links import base_url

STATE_MAX_AGE_SECONDS = 10 * 60
# ``app.extensions`` key of the simulated WeChat's account: a function
# merchant -> (appid, secret), set by ``checkout.web.wechat_sim``.
SIMULATED_ACCOUNT = "checkout.simulated_wechat_account"
BAD_CODE_ERRORS = {40029, 40163}  # invalid code, code been used (WeChat's error codes)


class OAuthUnavailable(Exception):
    """The merchant has no WeChat official account for OAuth."""


class OAuthFailed(Exception):
    """The OAuth round trip failed. ``reason``: ``refused`` (no code),
    ``bad_code`` (invalid or used code), ``wechat_error`` (any other WeChat
    error or a nonsense answer), ``unreachable`` (network, timeout)."""

    def __init__(self, reason: str, errcode: int | None = None):
        super().__init__(reason if errcode is None else f"{reason} ({errcode})")
        self.reason = reason
        self.errcode = errcode


# --- hosts and credentials --------------------------------------------------------------

def simulated() -> bool:
    """Both WeChat hosts are the embedded sandbox's simulated WeChat."""
    config = current_app.config
    return not config.get("WECHAT_OPEN_URL") and not config.get("WECHAT_API_URL")


def open_url() -> str:
    return (current_app.config.get("WECHAT_OPEN_URL") or f"{base_url()}/sandbox/wechat") \
        .rstrip("/")


def api_url() -> str:
    return (current_app.config.get("WECHAT_API_URL") or f"{base_url()}/sandbox/wechat") \
        .rstrip("/")


def oauth_credentials(merchant: Merchant) -> tuple[str, str]:
    """(appid, secret) of the official account that runs the OAuth."""
    if simulated():
        account = current_app.extensions.get(SIMULATED_ACCOUNT)
        if account is None:  # no simulated WeChat served here
            raise OAuthUnavailable()
        return account(merchant)
    if merchant.wechat_appid and merchant.wechat_secret:
        return merchant.wechat_appid, merchant.wechat_secret
    raise OAuthUnavailable()


# --- state -----------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="wechat-oauth-state")


def make_state(order_id: str) -> str:
    """A ``state`` for the OAuth of this checkout order (WeChat allows 128 bytes)."""
    return _serializer().dumps(order_id)


def check_state(state: object, order_id: str, *, max_age: int = STATE_MAX_AGE_SECONDS) -> bool:
    """The callback's ``state`` was made for this order, unchanged, recently."""
    if not isinstance(state, str) or not state or len(state) > 256:
        return False
    try:
        bound = _serializer().loads(state, max_age=max_age)
    except BadData:
        return False
    return isinstance(bound, str) and hmac.compare_digest(bound.encode(), order_id.encode())


# --- the round trip ------------------------------------------------------------------------------

def authorize_url(appid: str, redirect_uri: str, state: str) -> str:
    """WeChat's authorize URL; the parameters in WeChat's documented order."""
    query = urlencode([("appid", appid), ("redirect_uri", redirect_uri),
                       ("response_type", "code"), ("scope", "snsapi_base"), ("state", state)])
    return f"{open_url()}/connect/oauth2/authorize?{query}#wechat_redirect"


def exchange_code(appid: str, secret: str, code: object, *, timeout: float | None = None) -> str:
    """The shopper's openid for an OAuth ``code``."""
    if not isinstance(code, str) or not code or len(code) > 128:
        raise OAuthFailed("refused" if not code else "bad_code")
    http_log.install()
    seconds = timeout or float(current_app.config.get("GATEWAY_READ_TIMEOUT") or 10.0)
    try:
        response = httpx.get(
            f"{api_url()}/sns/oauth2/access_token",
            params={"appid": appid, "secret": secret, "code": code,
                    "grant_type": "authorization_code"},
            timeout=httpx.Timeout(seconds, connect=min(seconds, 3.0)), follow_redirects=False)
    except httpx.HTTPError:
        # httpx's message may carry the URL (and the secret): keep only the kind.
        raise OAuthFailed("unreachable") from None
    try:
        answer = response.json()
    except ValueError:
        raise OAuthFailed("wechat_error") from None
    if not isinstance(answer, dict):
        raise OAuthFailed("wechat_error")
    errcode = answer.get("errcode")
    if errcode not in (None, 0):
        reason = "bad_code" if errcode in BAD_CODE_ERRORS else "wechat_error"
        raise OAuthFailed(reason, errcode if isinstance(errcode, int) else None)
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 128:
        raise OAuthFailed("wechat_error")
    return openid
