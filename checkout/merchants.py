"""Merchant apps: their credentials, enabled channels, and the sites they own.

Secrets are generated with ``secrets`` and never logged; ``public_view``
is what may be shown anywhere, ``credentials_view`` only to the merchant's
operator at the command line.
"""

from __future__ import annotations

import secrets
import uuid
import weakref
from urllib.parse import urlsplit

from . import channels as channel_catalogue
from .clock import now_ms
from .db import db, read_row
from .inputs import is_clean
from .models import Merchant


class MerchantError(ValueError):
    """A merchant setting that cannot be accepted; the message says why."""


def new_secret() -> str:
    # BeeCloud secrets look like UUIDs; keep the shape, draw from ``secrets``.
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def check_channels(codes: list[str]) -> list[str]:
    unknown = [code for code in codes if code not in channel_catalogue.CHANNELS]
    if unknown:
        raise MerchantError(f"unknown channel(s): {', '.join(unknown)}")
    if len(set(codes)) != len(codes):
        raise MerchantError("a channel is listed twice")
    return list(codes)


def normalise_host(value: str) -> str:
    """``shop.example.com`` or ``shop.example.com:8080``, lower-case, no scheme or path."""
    value = value.strip().lower()
    if "//" in value:
        value = urlsplit(value).netloc
    if not value or "/" in value or "@" in value or " " in value:
        raise MerchantError(f"not a host name: {value!r}")
    return value


def normalise_origin(value: str) -> str:
    """``https://shop.example.com[:port]``: scheme and host only."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment or "@" in parts.netloc:
        raise MerchantError(f"not an origin (scheme://host[:port]): {value!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


# The hosted checkout's modes (issue 14, Deliver 5): "test" sends its bills to
# the simulated cashier, "live" to the channels with the app's credentials.
CHECKOUT_MODES = ("test", "live")


def check_checkout_mode(value: str) -> str:
    if value not in CHECKOUT_MODES:
        raise MerchantError("the checkout mode must be live or test")
    return value


def check_webhook_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MerchantError("the webhook URL must start with http:// or https://")
    return value


def create_merchant(name: str, *, channels: list[str] | None = None,
                    webhook_url: str | None = None, return_hosts: list[str] | None = None,
                    frame_origins: list[str] | None = None, wechat_appid: str | None = None,
                    wechat_secret: str | None = None, default_currency: str = "CNY",
                    app_id: str | None = None, checkout_mode: str = "test") -> Merchant:
    if not name or not name.strip():
        raise MerchantError("a merchant needs a name")
    merchant = Merchant(
        app_id=app_id or str(uuid.uuid4()),
        name=name.strip(),
        app_secret=new_secret(),
        master_secret=new_secret(),
        test_secret=new_secret(),
        webhook_url=check_webhook_url(webhook_url),
        channels=check_channels(channels or []),
        return_hosts=[normalise_host(h) for h in (return_hosts or [])],
        frame_origins=[normalise_origin(o) for o in (frame_origins or [])],
        wechat_appid=wechat_appid,
        wechat_secret=wechat_secret,
        default_currency=default_currency.upper(),
        checkout_mode=check_checkout_mode(checkout_mode),
        created_at=now_ms(),
    )
    db.session.add(merchant)
    db.session.commit()
    return merchant


def get_merchant(app_id: object) -> Merchant | None:
    if not isinstance(app_id, str) or not app_id or len(app_id) > 36 or not is_clean(app_id):
        return None  # names no app (and a NUL would not even reach PostgreSQL)
    return db.session.execute(
        db.select(Merchant).where(Merchant.app_id == app_id)
    ).scalar_one_or_none()


# --- the per-worker lookup for signed API calls (issue 16) ------------------------------
#
# Every signed REST call needs its merchant row; loading it through the ORM was
# a fifth of a bill's CPU (bench/README.md). A worker keeps a detached copy per
# (database, app_id) with the row's ``version`` (models.row_version: every
# UPDATE adds one, so a rotated secret, a changed channel list or name is a new
# version). A copy is believed only where its version is checked against the
# database's at that moment:
# - ``get_merchant_for_reading`` reads the row's version first (one indexed
#   integer) and answers a copy of the current row;
# - with ``checked=False`` it answers the copy as this worker last saw it, for
#   a caller whose one write is itself conditional on ``copy.version`` (a new
#   bill: ``bills._create_if_bill_no_unused``) and who asks ``is_current``
#   before anything else it does with it. So a change made by any worker or the
#   CLI is seen by the next call either way, without a query of its own on the
#   hot path.
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> {app_id: copy}
_COPIES_MAX = 4096  # a bound on memory per database; dropped copies are loaded again
_COLUMNS = tuple(column.key for column in Merchant.__table__.columns)
_COPY_MARK = "_checkout_reading_copy"


_ROW = db.select(*[Merchant.__table__.c[name] for name in _COLUMNS]).where(
    Merchant.app_id == db.bindparam("app_id"))


def _reading_copy(app_id: str) -> Merchant | None:
    """A transient Merchant with the row's current values, in no session:
    safe to share between threads for reading (it is never added or
    flushed). Read on the driver's cursor (``db.read_row``), so loading it
    leaves no transaction in the session."""
    row = read_row("merchant", _ROW, {"app_id": app_id})
    if row is None:
        return None
    copy = Merchant(**dict(zip(_COLUMNS, row)))
    setattr(copy, _COPY_MARK, True)
    return copy


def copy_version(merchant: Merchant) -> int | None:
    """The version a reading copy was made at, or None for a merchant loaded
    in the session (current within its transaction)."""
    return merchant.version if getattr(merchant, _COPY_MARK, False) else None


_VERSION = db.select(Merchant.version).where(Merchant.app_id == db.bindparam("app_id"))


def _current_version(app_id: str) -> int | None:
    """The row's version (``db.read_row``: on the session's connection when
    it has a transaction, to see its own writes, else on a pooled one's)."""
    row = read_row("merchant version", _VERSION, {"app_id": app_id})
    return None if row is None else row[0]


def is_current(merchant: Merchant) -> bool:
    """Whether a reading copy still has its row's version (always true for a
    merchant loaded in the session)."""
    version = copy_version(merchant)
    return version is None or _current_version(merchant.app_id) == version


def get_merchant_for_reading(app_id: object, *, checked: bool = True,
                             version: int | None = None) -> Merchant | None:
    """``get_merchant`` for callers that only read the merchant (bill
    creation, the checkout's pages): a detached copy of the current row, or
    None. ``checked=False``: the copy this worker last saw, without a query
    (see above: the caller's write must be conditional on its version).
    ``version``: the row's version as the caller has just read it (with its
    order, ``orders.find_checkout``), so it is not asked again. Never modify
    or ``session.add`` what this returns."""
    if not isinstance(app_id, str) or not app_id or len(app_id) > 36 or not is_clean(app_id):
        return None
    engine = db.engine
    copies = _COPIES.get(engine)
    if copies is None:
        copies = _COPIES.setdefault(engine, {})
    kept = copies.get(app_id)
    if kept is not None and not checked:
        return kept
    if version is None:
        version = _current_version(app_id)
    if version is None:
        return None
    if kept is not None and kept.version == version:
        return kept
    copy = _reading_copy(app_id)
    if copy is None:
        return None
    if len(copies) >= _COPIES_MAX:
        copies.clear()
    copies[app_id] = copy
    return copy


def list_merchants() -> list[Merchant]:
    return list(db.session.execute(db.select(Merchant).order_by(Merchant.id)).scalars())


def update_merchant(merchant: Merchant, *, channels: list[str] | None = None,
                    webhook_url: str | None = None, return_hosts: list[str] | None = None,
                    frame_origins: list[str] | None = None, name: str | None = None,
                    wechat_appid: str | None = None, wechat_secret: str | None = None,
                    default_currency: str | None = None,
                    checkout_mode: str | None = None) -> Merchant:
    if name is not None:
        merchant.name = name.strip() or merchant.name
    if channels is not None:
        merchant.channels = check_channels(channels)
    if webhook_url is not None:
        merchant.webhook_url = check_webhook_url(webhook_url)
    if return_hosts is not None:
        merchant.return_hosts = [normalise_host(h) for h in return_hosts]
    if frame_origins is not None:
        merchant.frame_origins = [normalise_origin(o) for o in frame_origins]
    if wechat_appid is not None:
        merchant.wechat_appid = wechat_appid or None
    if wechat_secret is not None:
        merchant.wechat_secret = wechat_secret or None
    if default_currency is not None:
        merchant.default_currency = default_currency.upper()
    if checkout_mode is not None:
        merchant.checkout_mode = check_checkout_mode(checkout_mode)
    db.session.commit()
    return merchant


SECRET_KINDS = ("app", "master", "test")


def rotate_secrets(merchant: Merchant, kinds: tuple[str, ...] = SECRET_KINDS) -> Merchant:
    for kind in kinds:
        if kind not in SECRET_KINDS:
            raise MerchantError(f"unknown secret kind {kind!r}")
        setattr(merchant, f"{kind}_secret", new_secret())
    db.session.commit()
    return merchant


def public_view(merchant: Merchant) -> dict:
    """Everything about a merchant that is not a secret."""
    return {
        "app_id": merchant.app_id,
        "name": merchant.name,
        "webhook_url": merchant.webhook_url,
        "channels": list(merchant.channels),
        "return_hosts": list(merchant.return_hosts),
        "frame_origins": list(merchant.frame_origins),
        "wechat_appid": merchant.wechat_appid,
        "default_currency": merchant.default_currency,
        "checkout_mode": merchant.checkout_mode,
    }


def credentials_view(merchant: Merchant) -> dict:
    """The public view plus the secrets: for the operator's terminal only."""
    view = public_view(merchant)
    view.update(app_secret=merchant.app_secret, master_secret=merchant.master_secret,
                test_secret=merchant.test_secret)
    return view


def allowed_origins(merchant: Merchant) -> set[str]:
    """The web origins that are the merchant's own sites: its frame origins,
    and its return hosts over http and https (lower-case)."""
    origins = {origin.lower() for origin in merchant.frame_origins or []}
    for host in merchant.return_hosts or []:
        origins.update({f"https://{host.lower()}", f"http://{host.lower()}"})
    return origins
