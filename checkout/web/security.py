"""Security of the checkout's pages that a merchant may frame.

CSRF without cookies. Inside a cross-site iframe the browser may refuse
third-party cookies, so the checkout's forms cannot depend on Flask's session
cookie. Flask-WTF keeps the raw CSRF value in the session and signs it into
the form's token; here the raw value is *derived from the order* instead
(HMAC of the unguessable order token with the app's SECRET_KEY), and nothing
goes into the session, so checkout pages set no cookie. The token is what
Flask-WTF's ``generate_csrf`` makes of that value (itsdangerous'
``URLSafeTimedSerializer``, salt ``wtf-csrf-token``, ``WTF_CSRF_SECRET_KEY``
or the app's key) and is checked as ``validate_csrf`` checks it (the
signature, ``WTF_CSRF_TIME_LIMIT``, then ``hmac.compare_digest`` with the
value), made here directly: one serializer per key instead of one per token,
no session to fill and empty again on every page.
So a form's token is valid for exactly one checkout, whether or not a cookie
came back, and a page of another origin cannot forge one (it knows neither
the order token nor the key).

Framing. Checkout pages send ``Content-Security-Policy: frame-ancestors``
with the merchant's frame origins (``'none'`` when it has none), so no other
site can frame them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import lru_cache

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from ..models import Merchant

CSRF_FIELD = "csrf_token"
CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's, so its tokens and ours have one format


def _raw_value(order_id: str) -> str:
    """The order-bound value a token signs (Flask-WTF's per-session random value)."""
    return hmac.new(current_app.config["SECRET_KEY"].encode("utf-8"),
                    f"checkout-csrf:{order_id}".encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _serializer(secret_key) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=CSRF_SALT)


def _signer() -> URLSafeTimedSerializer:
    # As Flask-WTF: WTF_CSRF_SECRET_KEY if configured, else the app's key.
    return _serializer(current_app.config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key))


def order_csrf_token(order_id: str) -> str:
    """The CSRF token for forms of this checkout."""
    return _signer().dumps(_raw_value(order_id))


def order_csrf_ok(order_id: str, token: object) -> bool:
    if not isinstance(token, str) or not token:
        return False
    try:
        signed = _signer().loads(token, max_age=current_app.config.get("WTF_CSRF_TIME_LIMIT",
                                                                        3600))
    except BadData:  # a bad signature, or expired
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed.encode("utf-8"),
                                                           _raw_value(order_id).encode("utf-8"))


def page_csp(merchant: Merchant | None, *, script_hashes: str = "", frame_src: str = "",
             ) -> str:
    """The checkout pages' Content-Security-Policy."""
    origins = tuple(merchant.frame_origins) if merchant and merchant.frame_origins else ()
    return _csp(origins, script_hashes, frame_src)


@lru_cache(maxsize=1024)
def _csp(frame_origins: tuple[str, ...], script_hashes: str, frame_src: str) -> str:
    # A pure function of its arguments: a merchant's pages ask for the same few.
    ancestors = " ".join(frame_origins) if frame_origins else "'none'"
    scripts = f"'self' {script_hashes}".strip()
    frames = f"frame-src {frame_src}; " if frame_src else ""
    return (f"default-src 'self'; img-src 'self' data:; style-src 'self'; "
            f"script-src {scripts}; connect-src 'self'; {frames}"
            f"form-action 'self' https: http:; base-uri 'none'; object-src 'none'; "
            f"frame-ancestors {ancestors}")


def inline_script_hashes(html: str) -> str:
    """CSP hashes of the inline scripts of a channel's ``html`` hand-off, so
    exactly that auto-submit runs under ``script-src 'self'`` and nothing else."""
    hashes = []
    for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return " ".join(hashes)
