"""Security of the checkout's pages that a merchant may frame.

CSRF without cookies. Inside a cross-site iframe the browser may refuse
third-party cookies, so the checkout's forms cannot depend on Flask's session
cookie. Flask-WTF keeps the raw CSRF value in the session and signs it into
the form's token; here the raw value is *derived from the order* instead
(HMAC of the unguessable order token with the app's SECRET_KEY) and put in
the session under a key of its own just while the token is made or checked
(and taken out again, so checkout pages set no cookie).
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

from flask import current_app, session
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf

from ..models import Merchant

CSRF_KEY = "checkout_csrf"  # the session key of the order-bound raw value
CSRF_FIELD = "csrf_token"


def _bind(order_id: str) -> bool:
    """Put the order's raw value in the session; True if that modified it."""
    was_modified = session.modified
    raw = hmac.new(current_app.config["SECRET_KEY"].encode("utf-8"),
                   f"checkout-csrf:{order_id}".encode("utf-8"), hashlib.sha256).hexdigest()
    session[CSRF_KEY] = raw
    return was_modified


def _unbind(was_modified: bool) -> None:
    # The value is derived again on every request, so it never needs to
    # travel in the session cookie: checkout pages set no cookie.
    session.pop(CSRF_KEY, None)
    session.modified = was_modified


def order_csrf_token(order_id: str) -> str:
    """The CSRF token for forms of this checkout."""
    was_modified = _bind(order_id)
    try:
        return generate_csrf(token_key=CSRF_KEY)
    finally:
        _unbind(was_modified)


def order_csrf_ok(order_id: str, token: object) -> bool:
    was_modified = _bind(order_id)
    try:
        validate_csrf(token if isinstance(token, str) else None, token_key=CSRF_KEY)
    except ValidationError:
        return False
    finally:
        _unbind(was_modified)
    return True


def page_csp(merchant: Merchant | None, *, script_hashes: str = "", frame_src: str = "",
             ) -> str:
    """The checkout pages' Content-Security-Policy."""
    ancestors = " ".join(merchant.frame_origins) if merchant and merchant.frame_origins \
        else "'none'"
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
