"""The simulated Alipay open platform's console (开放平台控制台), for the
operator, the CLI and tests; no HTTP.

On the real platform a merchant creates an application, uploads its app
public key ("接口加签方式: 公钥") and copies Alipay's public key back. Here
``open_app`` does both in one step.
"""

from __future__ import annotations

import secrets

from ... import clock
from ...db import db
from . import signing
from .models import SimApp, SimTrade
from .signing import BadKey

__all__ = ["BadKey", "open_app", "app_public_key", "cashier_url", "gateway_url",
           "rotate_app_public_key"]

GATEWAY_PATH = "/simulators/alipay/gateway.do"


def gateway_url() -> str:
    """The simulator's gateway.do under this service's base URL (``PUBLIC_URL``,
    else the current request's host): what a connector's ``gateway`` is set to."""
    from ...links import base_url

    return base_url() + GATEWAY_PATH


def _new_id(prefix: str, table_column, length: int = 16) -> str:
    while True:
        candidate = prefix + "".join(secrets.choice("0123456789")
                                     for _ in range(length - len(prefix)))
        if db.session.query(table_column).filter(table_column == candidate).first() is None:
            return candidate


def open_app(app_public_key_pem: str) -> dict:
    """Open an application whose requests are signed with the private key of
    ``app_public_key_pem`` (PEM, or the bare base64 Alipay's key tool prints;
    RSA-2048). Returns ``{"app_id": "2021…" (16 digits), "alipay_public_key":
    PEM}``: the merchant verifies answers and notifications with that key.
    A key that does not parse raises ``BadKey`` with a clear message."""
    public_pem = signing.normalized_public_key(app_public_key_pem)
    alipay_private, alipay_public = signing.new_key_pair()
    row = SimApp(app_id=_new_id("2021", SimApp.app_id), app_public_key=public_pem,
                 alipay_private_key=alipay_private, alipay_public_key=alipay_public,
                 seller_id=_new_id("2088", SimApp.seller_id), created_at=clock.now_ms())
    db.session.add(row)
    db.session.commit()
    return {"app_id": row.app_id, "alipay_public_key": alipay_public}


def rotate_app_public_key(app_id: str, app_public_key_pem: str) -> None:
    """Upload a new app public key (the merchant rotated its key pair)."""
    row = db.session.get(SimApp, app_id)
    if row is None:
        raise LookupError(f"no simulated Alipay app {app_id}")
    row.app_public_key = signing.normalized_public_key(app_public_key_pem)
    db.session.commit()


def app_public_key(app_id: str) -> str | None:
    """The Alipay public key of an app (what the console shows), or None."""
    row = db.session.get(SimApp, app_id)
    return row.alipay_public_key if row else None


def cashier_url(app_id: str, out_trade_no: str) -> str | None:
    """The buyer's page of a trade (its Pay / Fail / Cancel cashier), e.g. to
    enter the password of an ``alipay.trade.pay`` answered 10003."""
    from .views import cashier_link

    trade = db.session.query(SimTrade).filter_by(app_id=app_id,
                                                 out_trade_no=out_trade_no).first()
    return cashier_link(trade.token) if trade else None
