"""The hosted checkout's entry: a 秒支付 order as a merchant's ``BC.click``
(or a link, or a form) hands it to us, checked field by field, its ``sign``
verified, and kept as one ``CheckoutOrder`` per ``(appId, out_trade_no)``.

The field rules are seed 003's button table (lines 333-359):

- ``title``: at most 16 Chinese characters or 32 characters, no ``'`` or
  ``"``. We count a wide (CJK) character as two and anything else as one,
  and allow 32 — "16 汉字 or 32 字符" in one rule.
- ``out_trade_no``: letters, digits and underscore (we also cap it at 64
  characters, the length BeeCloud's console shows).
- ``amount``: an integer number of fen, > 0 (``1`` and ``"1"`` alike; at most
  10^10, the gateway's limit).
- ``sign``: ``md5(appId + title + amount + out_trade_no + appSecret)``
  (``checkout.signing.verify_button_sign``: canonical amount, constant time,
  case-insensitive).
- ``return_url``: http(s), no parameters (no ``?`` or ``#``), and — our rule
  against open redirects — on one of the merchant's return hosts.
- ``optional``: a flat object of scalars (JSON text from a form).

Reconciling ``out_trade_no`` with the gateway's ``bill_no`` (seed 001 line
46: 8-32 letters/digits), so that every valid button order gets a bill:
an ``out_trade_no`` that is already 8-32 letters/digits IS the ``bill_no``
(webhooks then carry the merchant's own number as ``transaction_id``). Any
other (with ``_``, shorter than 8 or longer than 32) becomes ``"BC"`` + the
first 30 hex digits of its SHA-256 — deterministic, so a repeated click maps
to the same bill — and the original number travels in the bill's
``optional`` as ``out_trade_no`` (unless the merchant's ``optional`` already
uses that key), so the merchant's webhook can still find its order.

Bill titles: the gateway allows 32 UTF-8 bytes (issue 2), fewer than 16
Chinese characters take. ``bill_title`` cuts a longer title between two
grapheme clusters (what a reader sees as one character) to fit and ends it
with "…"; the checkout's own pages show the whole title.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import regex
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from . import i18n, money, signing
from .clock import now_ms
from .db import (as_loaded, commit_keeping_loaded, db, driver_params, driver_sql, read_row,
                 session_in_transaction, write_queue)
from .inputs import BadInput, json_size, parse_json
from .merchants import get_merchant, get_merchant_for_reading
from .models import CheckoutOrder, Merchant

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_]{1,64}")
BILL_NO = re.compile(r"[0-9A-Za-z]{8,32}")
SIGN = re.compile(r"[0-9A-Fa-f]{32}")
TITLE_WIDTH = 32           # seed 003 line 337: 16 Chinese characters or 32 characters
BILL_TITLE_BYTES = 32      # the gateway's title rule (UTF-8 bytes)
MAX_AMOUNT = 10 ** 10      # the gateway's total_fee limit
MAX_OPTIONAL_BYTES = 4096  # of optional / analysis as compact JSON (inputs.json_size)
SHORT = 64                 # buyer_id (seed 003 line 359), coupon_id, useId
OPENID_MAX = 128

# Seed 003 line 354: the instant_channel values.
INSTANT_CHANNELS = frozenset({"ali", "wxmp", "bcwxmp", "wx", "bcwx", "un", "unwap", "bckj",
                              "wxwap", "bcwxwap", "bcaliqr", "bcali"})

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}


class OrderRefused(ValueError):
    """A field of the order is missing or wrong. ``reason`` is a stable key
    the page turns into a sentence in the shopper's language; ``detail`` is
    the English sentence for API callers (``{"ERROR": detail}``)."""

    def __init__(self, field: str, reason: str, detail: str):
        super().__init__(detail)
        self.field = field
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ButtonOrder:
    """The checked fields of one ``BC.click``."""

    merchant: Merchant
    title: str
    amount: int
    out_trade_no: str
    return_url: str | None
    optional: dict | None
    analysis: dict | None
    instant_channel: str | None
    openid: str | None
    need_ali_guide: bool
    use_app: bool
    coupon_id: str | None
    buyer_id: str | None
    use_id: str | None
    debug: bool
    currency: str
    parent_origin: str | None
    # Our extension: the language the merchant gave (the button's
    # ``data.lang``, sent as ``lang``: ``zh`` or ``en``), or None.
    locale: str | None = None


# --- single fields ----------------------------------------------------------------------

def _text(fields: Mapping, name: str, *, required: bool = False, max_len: int = SHORT,
          alias: str | None = None) -> str | None:
    value = fields.get(name)
    if value in (None, "") and alias:
        value = fields.get(alias)
    if value in (None, ""):
        if required:
            raise OrderRefused(name, "missing", f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise OrderRefused(name, "invalid", f"{name} must be a string")
    value = str(value)
    if len(value) > max_len:
        raise OrderRefused(name, "too_long", f"{name} must be at most {max_len} characters")
    if "\x00" in value or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise OrderRefused(name, "invalid", f"{name} must not contain control characters")
    return value


def _flag(fields: Mapping, name: str, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False if word else default
    raise OrderRefused(name, "invalid", f"{name} must be true or false")


def title_width(title: str) -> int:
    """Seed 003's measure: a wide (Chinese) character counts two, others one."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in title)


def check_title(value: object) -> str:
    if value in (None, ""):
        raise OrderRefused("title", "missing", "title is required")
    if not isinstance(value, str):
        raise OrderRefused("title", "invalid", "title must be a string")
    if "'" in value or '"' in value:
        raise OrderRefused("title", "title_quotes", "title must not contain ' or \"")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise OrderRefused("title", "invalid", "title must not contain control characters")
    if title_width(value) > TITLE_WIDTH:
        raise OrderRefused("title", "title_long",
                           "title must be at most 16 Chinese characters or 32 characters")
    return value


def check_amount(value: object) -> int:
    """``1`` or ``"1"``: a positive whole number of fen, as signed."""
    if value in (None, ""):
        raise OrderRefused("amount", "missing", "amount is required")
    if isinstance(value, bool):
        raise OrderRefused("amount", "amount_invalid", "amount must be a whole number of fen")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise OrderRefused("amount", "amount_invalid", "amount must be a whole number of fen")
    if number <= 0:
        raise OrderRefused("amount", "amount_invalid", "amount must be greater than 0")
    if number > MAX_AMOUNT:
        raise OrderRefused("amount", "amount_invalid", f"amount must be at most {MAX_AMOUNT}")
    return number


def check_out_trade_no(value: object) -> str:
    if value in (None, ""):
        raise OrderRefused("out_trade_no", "missing", "out_trade_no is required")
    if not isinstance(value, (str, int)) or isinstance(value, bool) \
            or not OUT_TRADE_NO.fullmatch(str(value)):
        raise OrderRefused("out_trade_no", "out_trade_no_invalid",
                           "out_trade_no must be 1 to 64 letters, digits or underscores")
    return str(value)


def host_allowed(netloc: str, allowed: list[str]) -> bool:
    """``netloc`` (host[:port]) is one of the merchant's return hosts; an
    entry without a port allows that host on any port."""
    netloc = netloc.lower()
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    for entry in allowed or []:
        entry = entry.lower()
        if netloc == entry or (":" not in entry and host == entry):
            return True
    return False


def check_return_url(value: object, merchant: Merchant) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise OrderRefused("return_url", "return_url_invalid",
                           "return_url must be an http:// or https:// address")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc \
            or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        raise OrderRefused("return_url", "return_url_invalid",
                           "return_url must be an http:// or https:// address")
    if "?" in value or "#" in value:
        # Seed 003 line 349: "不允许带任何参数".
        raise OrderRefused("return_url", "return_url_query",
                           "return_url must not carry parameters ('?' or '#')")
    if not host_allowed(parts.netloc, merchant.return_hosts):
        raise OrderRefused("return_url", "return_url_host",
                           f"return_url's host {parts.netloc} is not one of this merchant's "
                           "return hosts")
    return value


def _json_object(fields: Mapping, name: str) -> dict | None:
    value = fields.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, str):
        # A form or query value: JSON text, read under the boundary's rules
        # (its length is already capped there).
        try:
            value = parse_json(value, name)
        except BadInput as bad:
            raise OrderRefused(bad.field, "json_invalid", bad.message) from None
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise OrderRefused(name, "json_invalid", f"{name} must be a JSON object")
    if json_size(value) > MAX_OPTIONAL_BYTES:
        raise OrderRefused(name, "too_long", f"{name} is too large")
    return value


def check_optional(fields: Mapping) -> dict | None:
    value = _json_object(fields, "optional")
    for key, item in (value or {}).items():
        if isinstance(item, (dict, list)):
            # Seed 003 line 351: only {key: value} of JavaScript basic types.
            raise OrderRefused("optional", "optional_nested",
                               f"optional must be a flat object; {key!r} holds a nested value")
    return value


def check_currency(value: object, merchant: Merchant) -> str:
    if value in (None, ""):
        return (merchant.default_currency or "CNY").upper()
    if not isinstance(value, str) or (value.upper() != "CNY"
                                      and value.upper() not in money.INTERNATIONAL_CURRENCIES):
        raise OrderRefused("currency", "currency_invalid", "currency is not supported")
    return value.upper()


def check_parent_origin(fields: Mapping, merchant: Merchant) -> str | None:
    """The merchant page that frames the checkout (sent by the button script
    with ``embed=1``); only one of the merchant's frame origins is accepted,
    since it is where our pages post messages."""
    if not _flag(fields, "embed", False):
        return None
    origin = _text(fields, "parent_origin", max_len=256)
    if origin is None:
        raise OrderRefused("parent_origin", "missing", "parent_origin is required with embed")
    if origin.lower().rstrip("/") not in [o.lower() for o in merchant.frame_origins or []]:
        raise OrderRefused("parent_origin", "frame_origin",
                           "this page may not embed the checkout (not a frame origin of the "
                           "merchant)")
    return origin.lower().rstrip("/")


def read_order(fields: Mapping[str, Any]) -> ButtonOrder:
    """Check every field of a ``BC.click`` (form, query string or JSON) and
    its sign; ``OrderRefused`` names the first problem."""
    app_id = _text(fields, "appId", required=True, max_len=36, alias="app_id")
    merchant = get_merchant(app_id)
    if merchant is None:
        raise OrderRefused("appId", "unknown_app", "appId is not a known app")
    title = check_title(fields.get("title"))
    amount = check_amount(fields.get("amount"))
    out_trade_no = check_out_trade_no(fields.get("out_trade_no"))
    sign = fields.get("sign")
    if sign in (None, ""):
        raise OrderRefused("sign", "missing", "sign is required")
    if not isinstance(sign, str) or not SIGN.fullmatch(sign.strip()):
        raise OrderRefused("sign", "sign_invalid", "sign must be 32 hexadecimal characters")
    order = ButtonOrder(
        merchant=merchant, title=title, amount=amount, out_trade_no=out_trade_no,
        return_url=check_return_url(fields.get("return_url"), merchant),
        optional=check_optional(fields),
        analysis=_json_object(fields, "analysis"),
        instant_channel=_instant(fields),
        openid=_text(fields, "openid", max_len=OPENID_MAX),
        need_ali_guide=_flag(fields, "need_ali_guide", True),
        use_app=_flag(fields, "use_app", True),
        coupon_id=_text(fields, "coupon_id"),
        buyer_id=_text(fields, "buyer_id"),
        use_id=_text(fields, "useId"),
        debug=_flag(fields, "debug", False),
        currency=check_currency(fields.get("currency"), merchant),
        parent_origin=check_parent_origin(fields, merchant),
        locale=i18n.locale_named(fields.get("lang")),
    )
    if not signing.verify_button_sign(merchant.app_id, title, amount, out_trade_no,
                                      merchant.app_secret, sign):
        # Never say what the sign should have been.
        raise OrderRefused("sign", "sign_wrong",
                           "sign does not match md5(appId + title + amount + out_trade_no + "
                           "appSecret)")
    return order


def _instant(fields: Mapping) -> str | None:
    value = _text(fields, "instant_channel", max_len=16)
    if value is None:
        return None
    if value.lower() not in INSTANT_CHANNELS:
        raise OrderRefused("instant_channel", "instant_invalid",
                           "instant_channel must be one of " + ", ".join(sorted(INSTANT_CHANNELS)))
    return value.lower()


# --- bill numbers and titles ---------------------------------------------------------------

def bill_no_for(out_trade_no: str) -> str:
    """The gateway's ``bill_no`` for a button order (see the module docstring)."""
    if BILL_NO.fullmatch(out_trade_no):
        return out_trade_no
    return "BC" + hashlib.sha256(out_trade_no.encode("utf-8")).hexdigest()[:30]


# What a reader sees as one character: an extended grapheme cluster (Unicode
# UAX #29), e.g. a ZWJ family emoji, a flag, a letter with its accents.
_GRAPHEME = regex.compile(r"\X")


def bill_title(title: str) -> str:
    """The title as the gateway takes it: at most 32 UTF-8 bytes, cut between
    two characters as a reader sees them, so no emoji loses its skin tone or
    family member and no letter loses its accent."""
    if len(title.encode("utf-8")) <= BILL_TITLE_BYTES:
        return title
    room = BILL_TITLE_BYTES - len("…".encode("utf-8"))
    cut = ""
    for grapheme in _GRAPHEME.findall(title):
        if len((cut + grapheme).encode("utf-8")) > room:
            break
        cut += grapheme
    return cut + "…"


def bill_optional(order: CheckoutOrder) -> dict | None:
    """The bill's ``optional``: the merchant's, plus ``out_trade_no`` when the
    bill_no is not the merchant's own number."""
    optional = dict(order.optional or {})
    if order.bill_no != order.out_trade_no and "out_trade_no" not in optional:
        optional["out_trade_no"] = order.out_trade_no
    return optional or None


# --- the order row -------------------------------------------------------------------------------

def _new_row(found: ButtonOrder) -> CheckoutOrder:
    now = now_ms()
    extra: dict[str, Any] = {}
    if found.use_id:
        extra["use_id"] = found.use_id
    if found.parent_origin:
        extra["parent_origin"] = found.parent_origin
    if found.locale:
        extra["locale"] = found.locale
    return CheckoutOrder(
        id=secrets.token_urlsafe(24), app_id=found.merchant.app_id,
        out_trade_no=found.out_trade_no, bill_no=bill_no_for(found.out_trade_no),
        title=found.title, amount=found.amount, currency=found.currency,
        return_url=found.return_url, optional=found.optional, analysis=found.analysis,
        buyer_id=found.buyer_id, coupon_id=found.coupon_id,
        instant_channel=found.instant_channel, openid=found.openid,
        need_ali_guide=found.need_ali_guide, use_app=found.use_app, debug=found.debug,
        bills={}, status="OPEN", extra=extra, created_at=now, updated_at=now)


def _find(app_id: str, out_trade_no: str) -> CheckoutOrder | None:
    return db.session.execute(
        db.select(CheckoutOrder).where(CheckoutOrder.app_id == app_id,
                                       CheckoutOrder.out_trade_no == out_trade_no)
    ).scalar_one_or_none()


def _same_order(row: CheckoutOrder, found: ButtonOrder) -> CheckoutOrder:
    """A second opening of an order (refresh, back button, second tab, a new
    click): the same checkout, as long as it is the same order."""
    if row.amount != found.amount or row.title != found.title or row.currency != found.currency:
        raise OrderRefused("out_trade_no", "order_conflict",
                           "out_trade_no was already used for an order with another amount, "
                           "title or currency")
    # How the shopper reached us this time (framed or not, with an openid
    # now) may change; the order's terms never do.
    extra = dict(row.extra or {})
    changed = False
    if extra.get("parent_origin") != found.parent_origin:
        extra["parent_origin"] = found.parent_origin
        changed = True
    if found.openid and not row.openid:
        row.openid = found.openid
        changed = True
    if found.locale and extra.get("locale") != found.locale and not extra.get("locale_chosen"):
        # The merchant's language, unless the shopper chose one on the
        # order's pages (``keep_locale``): their choice outlasts a new click.
        extra["locale"] = found.locale
        changed = True
    if changed:
        row.extra = extra
        row.updated_at = now_ms()
        db.session.commit()
    return row


def open_order(fields: Mapping[str, Any]) -> CheckoutOrder:
    """The checkout for these ``BC.click`` fields: found again for the same
    ``(appId, out_trade_no)``, created otherwise (race-safe: the unique key
    decides and the loser reads the winner's row)."""
    found = read_order(fields)
    row = _find(found.merchant.app_id, found.out_trade_no)
    if row is not None:
        return _same_order(row, found)
    db.session.add(_new_row(found))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        row = _find(found.merchant.app_id, found.out_trade_no)
        if row is None:  # pragma: no cover - the unique key said it exists
            raise
        return _same_order(row, found)
    return _find(found.merchant.app_id, found.out_trade_no)


def _is_token(token: object) -> bool:
    return isinstance(token, str) and 0 < len(token) <= 64


_ORDERS, _MERCHANTS = CheckoutOrder.__table__, Merchant.__table__
_ORDER_KEYS = tuple(prop.key for prop in CheckoutOrder.__mapper__.column_attrs)
# The order's row and its merchant's row version, in one query.
_CHECKOUT = (db.select(*[getattr(CheckoutOrder, key).expression for key in _ORDER_KEYS],
                       _MERCHANTS.c.version)
             .join_from(_ORDERS, _MERCHANTS, _MERCHANTS.c.app_id == _ORDERS.c.app_id)
             .where(_ORDERS.c.id == db.bindparam("token")))


def find_checkout(token: object) -> tuple[CheckoutOrder, Merchant] | None:
    """The order with this token and its merchant (None when either is
    missing): every page of a checkout starts here.

    One row read on the driver's cursor (``db.read_row``), the order made
    from it as the ORM's load would (persistent in the session, so the page
    may update it), and the merchant this worker's reading copy of the row
    at the version read with the order (``merchants.get_merchant_for_reading``,
    never modified by a page). The ORM's query and its loading of both rows
    were the larger part of a chooser's first view (issue 16)."""
    if not _is_token(token):
        return None
    session = db.session()
    held = session.identity_map.get(CheckoutOrder.__mapper__.identity_key_from_primary_key(
        (token,)))
    row = read_row("checkout", _CHECKOUT, {"token": token})
    if row is None:
        return None
    values = dict(zip(_ORDER_KEYS, row))
    merchant = get_merchant_for_reading(values["app_id"], version=row[-1])
    if merchant is None:
        return None
    return (held if held is not None else as_loaded(CheckoutOrder, values)), merchant


# --- what a page of the checkout was made from (``checkout.page_cache``) ---------------------

_STAMP = (db.select(_ORDERS.c.version, _MERCHANTS.c.version)
          .join_from(_ORDERS, _MERCHANTS, _MERCHANTS.c.app_id == _ORDERS.c.app_id)
          .where(_ORDERS.c.id == db.bindparam("token")))


def stamp_of(order: CheckoutOrder, merchant: Merchant) -> tuple[int, int]:
    """The row versions of an order and its merchant, as loaded."""
    return order.version, merchant.version


def page_stamp(token: object) -> tuple[int, int] | None:
    """``stamp_of`` the order with this token and its merchant as they are
    now in the database, in one query (None: no such order).

    This runs on every repeat view of a kept page, so the statement runs on
    the driver's cursor (``db.read_row``): the engine's own per-statement
    work cost a sixth of such a request (bench/README.md)."""
    if not _is_token(token):
        return None
    return read_row("page stamp", _STAMP, {"token": token})


# The bill recorded if the order's row is still as the page read it.
_RECORD_BILL = (db.update(_ORDERS)
                .where(_ORDERS.c.id == db.bindparam("token"),
                       _ORDERS.c.version == db.bindparam("read_version"))
                .values(bills=db.bindparam("new_bills"), extra=db.bindparam("new_extra"),
                        updated_at=db.bindparam("new_updated_at"),
                        version=_ORDERS.c.version + db.literal_column("1")))


def remember_bill(order: CheckoutOrder, channel: str, bill_id: str, **extra: Any) -> None:
    """Record the gateway bill opened for ``channel`` on the order, so the
    result page can ask the gateway about it (``extra``: more facts for
    ``order.extra``), never losing a bill recorded by another request at the
    same moment.

    The order as the page loaded it is written back with the bill in one
    UPDATE that holds only if the row still has the version it was read at;
    without a transaction of the page's own that UPDATE is committed with
    other threads' hot writes (``db.WriteQueue``). Otherwise (the row has
    changed, or nothing is to be written) the row is re-read under a lock."""
    written = _with_bill(order.bills, order.extra, channel, bill_id, extra)
    if written is not None:
        read_version = order.version
        if _write_if_unchanged(order.id, read_version, written):
            for name, value in written.items():
                set_committed_value(order, name, value)
            set_committed_value(order, "version", read_version + 1)
            return
    _remember_bill_locked(order, channel, bill_id, extra)


def _with_bill(bills: dict | None, order_extra: dict | None, channel: str, bill_id: str,
               extra: dict) -> dict | None:
    """The order's columns to write to record the bill on an order holding
    ``bills`` and ``order_extra``, or None when it already holds all of it."""
    wanted = {**(order_extra or {}), **extra, "last": channel}
    if (bills or {}).get(channel) == bill_id and order_extra == wanted:
        return None
    return {"bills": {**(bills or {}), channel: bill_id}, "extra": wanted,
            "updated_at": now_ms()}


def _write_if_unchanged(token: str, read_version: int, written: dict) -> bool:
    params = {"token": token, "read_version": read_version,
              **{f"new_{name}": value for name, value in written.items()}}
    if session_in_transaction():
        updated = db.session.execute(_RECORD_BILL, params).rowcount == 1
        commit_keeping_loaded()
        return updated
    engine = db.engine
    found = driver_sql("record bill", _RECORD_BILL, engine.dialect)
    return write_queue(engine).write(found[0], driver_params(found, params)) == 1


def _remember_bill_locked(order: CheckoutOrder, channel: str, bill_id: str,
                          extra: dict) -> None:
    # Core statements on the two columns, not the ORM's refresh and flush of
    # the whole row (most of a hand-off's database time, issue 16); the order
    # in the session is then given what was written, without a query.
    orders = CheckoutOrder.__table__
    current = db.session.execute(
        db.select(orders.c.bills, orders.c.extra).where(orders.c.id == order.id)
        .with_for_update()).one()
    written = _with_bill(current.bills, current.extra, channel, bill_id, extra)
    if written is not None:
        db.session.execute(db.update(orders).where(orders.c.id == order.id).values(**written))
    commit_keeping_loaded()
    for name, value in (written or {"bills": current.bills, "extra": current.extra}).items():
        set_committed_value(order, name, value)
    if written is not None:
        db.session.expire(order, ["version"])  # the UPDATE added one to it


def remember(order: CheckoutOrder, **values: Any) -> None:
    """Keep small facts about this checkout in ``order.extra``."""
    db.session.refresh(order, with_for_update=True)
    order.extra = {**(order.extra or {}), **values}
    order.updated_at = now_ms()
    commit_keeping_loaded()


def locale_of(order: CheckoutOrder) -> str | None:
    """The language kept on the order (``checkout.i18n.use_order_locale``)."""
    return (order.extra or {}).get("locale")


def keep_locale(order: CheckoutOrder, lang: object) -> None:
    """The shopper chose a language (``?lang=``) on one of the order's pages:
    keep it on the order, so the order's next pages speak it where the lang
    cookie cannot be kept (a merchant's iframe, a browser without cookies)."""
    locale = i18n.locale_named(lang)
    if locale and (locale != locale_of(order) or not (order.extra or {}).get("locale_chosen")):
        remember(order, locale=locale, locale_chosen=True)


def set_openid(order: CheckoutOrder, openid: str) -> None:
    """The shopper's WeChat openid for this checkout (from WeChat's OAuth)."""
    order.openid = openid[:OPENID_MAX]
    order.updated_at = now_ms()
    db.session.commit()


def mark_paid(order: CheckoutOrder) -> None:
    if order.status != "PAID":
        order.status = "PAID"
        order.updated_at = now_ms()
        db.session.commit()
