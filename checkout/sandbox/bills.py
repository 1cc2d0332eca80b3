"""The sandbox's bill service: the heart of the BeeCloud REST API (seed 001).

- ``authenticate``: ``app_sign = md5(app_id + timestamp + secret)`` with the
  app secret (live), test secret (``/2/rest/sandbox/…``) or master secret
  (refund-like calls), and a timestamp inside ``APP_SIGN_WINDOW_SECONDS``.
- ``create_bill``: every rule of seed 001 section 2 (and seed 003 lines
  627-822) with its result code and a precise ``err_detail``; one bill per
  (app, mode, bill_no, channel); the answer carries the channel's hand-off
  fields (``channel_answers``).
- ``get_bill`` / ``query_bills`` / ``count_bills``: seed 001 sections 5, 6, 11
  and seed 003 lines 954-1193, every documented filter and field.

Every function answers the exact BeeCloud map (HTTP is the view's business);
refusals are ``Refused(result_code, err_detail)`` inside and a map outside.
Nothing here touches ``flask.request``.

"One order, one payment" (architecture.md): a repeated request for the same
(app, mode, bill_no, channel) with the same fee and title answers the same
bill; the same bill_no with another fee or title is refused in every channel;
several channels may hold OPEN bills for one bill_no, and settlement
(``checkout.sandbox.settlement.mark_paid``) closes the others when one is paid.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
import uuid
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, exists, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from .. import channels as catalogue
from .. import merchants, signing
from ..clock import now_ms
from ..db import (WriteQueue, as_loaded, commit_keeping_loaded, db, driver_params, driver_sql,
                  session_in_transaction, write_queue)
from ..inputs import json_size
from ..models import Bill, Merchant
from . import channel_answers, expiry, live_channels

# Seed 001 section 2, "公共返回参数取值列表"; 8-13 from section 3 (refunds), used
# here for "no such bill".
RESULT_MSG = {
    0: "OK", 1: "APP_INVALID", 2: "PAY_FACTOR_NOT_SET", 3: "CHANNEL_INVALID",
    4: "MISS_PARAM", 5: "PARAM_INVALID", 6: "CERT_FILE_ERROR", 7: "CHANNEL_ERROR",
    8: "NO_SUCH_BILL", 9: "BILL_UNSUCCESS", 10: "REFUND_EXCEED_TIME",
    11: "ALREADY_REFUNDING", 12: "REFUND_AMOUNT_TOO_LARGE", 13: "NO_SUCH_REFUND",
    14: "RUNTIME_ERROR",
}
OK, APP_INVALID, CHANNEL_INVALID, MISS_PARAM, PARAM_INVALID = 0, 1, 3, 4, 5
CHANNEL_ERROR, NO_SUCH_BILL = 7, 8

BILL_NO = re.compile(r"[0-9A-Za-z]{8,32}")   # seed 001 line 46: 8 to 32 letters/digits
# Milliseconds as digits: str.isdigit() would also pass "²" or "١", which int() refuses.
TIMESTAMP = re.compile(r"[0-9]{1,16}")
IDENTITY_ID = re.compile(r"[0-9A-Za-z]{1,50}")  # seed 001 line 105 (YEE_WAP)
TITLE_MAX_BYTES = 32                           # seed 001 line 47; issue 2: UTF-8 bytes
# Our own guard, not BeeCloud's: keeps amounts far inside BIGINT and every
# channel's limits (10^10 fen = 100 million yuan).
MAX_FEE = 10 ** 10
MAX_BILL_TIMEOUT = 10 * 365 * 24 * 3600        # seconds; keeps expires_at sane
QR_PAY_MODES = {"0", "1", "3"}                 # seed 001 lines 94-99
DEFAULT_LIMIT, MAX_LIMIT = 10, 50              # seed 001 line 355
# Our own guard: seed 001 sets no size for optional/analysis. Above the hosted
# checkout's own 4,096 (orders.MAX_OPTIONAL_BYTES), since it adds its keys
# (out_trade_no, WX_WAP's ip) to a merchant's object that may be that big.
MAX_MAP_BYTES = 8192
SHORT_TEXT = 64                                # buyer_id (seed 003 line 359) and ids


class Refused(Exception):
    """A request the API answers with a non-zero result code."""

    def __init__(self, result_code: int, err_detail: str):
        super().__init__(f"{result_code} {err_detail}")
        self.result_code = result_code
        self.err_detail = err_detail

    def answer(self) -> dict:
        return answer(self.result_code, self.err_detail)


def answer(result_code: int = OK, err_detail: str = "", **fields) -> dict:
    """A BeeCloud answer map: the common fields first, then ``fields``."""
    return {"result_code": result_code, "result_msg": RESULT_MSG[result_code],
            "err_detail": err_detail, **fields}


# --- authentication (shared by every /2/rest/ API) ----------------------------------

SECRET_KINDS = ("app", "test", "master")


def authenticate(fields: dict, *, secret: str = "app", now: int | None = None,
                 read_only: bool = False, fresh: bool = False) -> Merchant:
    """The merchant app whose ``app_sign`` over ``app_id + timestamp`` with the
    ``secret`` kind ("app", "test" for sandbox routes, "master" for refunds) is
    right, and whose timestamp is within ``APP_SIGN_WINDOW_SECONDS`` of our
    clock. Raises ``Refused``: 4 when a field is missing, 1 APP_INVALID
    otherwise (seed 001 line 133). Secrets never appear in an err_detail.
    ``read_only``: the caller never modifies the merchant and checks the
    copy's version before it relies on it (``create_bill``), so the worker's
    copy answers without a query (``merchants.get_merchant_for_reading``);
    with ``fresh`` too, a copy of the row as it is now."""
    assert secret in SECRET_KINDS
    for name in ("app_id", "timestamp", "app_sign"):
        if fields.get(name) in (None, ""):
            raise Refused(MISS_PARAM, f"{name} is required")
    app_id, timestamp, sign = fields["app_id"], fields["timestamp"], fields["app_sign"]
    if not isinstance(app_id, str) or "\x00" in app_id:
        raise Refused(APP_INVALID, "app_id must be a string")
    if isinstance(timestamp, bool) or not (
            isinstance(timestamp, int) or (isinstance(timestamp, str)
                                           and TIMESTAMP.fullmatch(timestamp))):
        raise Refused(APP_INVALID, "timestamp must be milliseconds since the epoch")
    if not isinstance(sign, str):
        raise Refused(APP_INVALID, "app_sign must be a string")
    merchant = (merchants.get_merchant_for_reading(app_id, checked=fresh) if read_only
                else merchants.get_merchant(app_id))
    if merchant is None:
        raise Refused(APP_INVALID, "no app with this app_id")
    right = signing.verify_app_sign(merchant.app_id, timestamp,
                                    getattr(merchant, f"{secret}_secret"), sign)
    if not right and read_only and not fresh and not merchants.is_current(merchant):
        # This worker's copy is older than a rotated secret: ask the row.
        merchant = merchants.get_merchant_for_reading(app_id)
        right = merchant is not None and signing.verify_app_sign(
            merchant.app_id, timestamp, getattr(merchant, f"{secret}_secret"), sign)
    if not right:
        which = {"app": "app_secret", "test": "test_secret", "master": "master_secret"}[secret]
        raise Refused(APP_INVALID, f"app_sign is wrong: expected md5(app_id + timestamp + {which})")
    window_s = int(current_app.config.get("APP_SIGN_WINDOW_SECONDS", 900))
    current = now_ms() if now is None else now
    if abs(current - int(timestamp)) > window_s * 1000:
        raise Refused(APP_INVALID, f"timestamp is more than {window_s} seconds away from the "
                                   "server's clock; sign each request afresh")
    return merchant


# --- field checks ------------------------------------------------------------------

def _present(fields: dict, name: str) -> bool:
    return fields.get(name) not in (None, "")


def _require(fields: dict, name: str, why: str = "") -> None:
    if not _present(fields, name):
        raise Refused(MISS_PARAM, f"{name} is required{why}")


def _string(fields: dict, name: str, *, max_len: int = SHORT_TEXT) -> str | None:
    value = fields.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Refused(PARAM_INVALID, f"{name} must be a string")
    if len(value) > max_len:
        raise Refused(PARAM_INVALID, f"{name} must be at most {max_len} characters")
    if "\x00" in value:  # PostgreSQL cannot store NUL in text
        raise Refused(PARAM_INVALID, f"{name} must not contain NUL characters")
    return value


def _positive_int(fields: dict, name: str, maximum: int) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(PARAM_INVALID, f"{name} must be a positive integer, not {_shown(value)}")
    if value <= 0:
        raise Refused(PARAM_INVALID, f"{name} must be a positive integer, not {value}")
    if value > maximum:
        raise Refused(PARAM_INVALID, f"{name} must be at most {maximum}")
    return value


def _bool(fields: dict, name: str) -> bool | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise Refused(PARAM_INVALID, f"{name} must be true or false")
    return value


def _shown(value: object) -> str:
    """A short, safe rendering of a refused value for err_detail."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _http_url(fields: dict, name: str, *, query_allowed: bool = True) -> str | None:
    value = _string(fields, name, max_len=2048)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(PARAM_INVALID, f"{name} must start with http:// or https://")
    if not query_allowed and ("#" in value or "?" in value):
        # Seed 001 line 50: "中间请勿有#,?等字符".
        raise Refused(PARAM_INVALID, f"{name} must not contain '#' or '?'")
    return value


def _flat_map(fields: dict, name: str) -> dict | None:
    value = _map(fields, name)
    if value is None:
        return None
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            raise Refused(PARAM_INVALID,
                          f"{name} must be a flat JSON object; {key!r} holds a nested value")
    return value


def _map(fields: dict, name: str) -> dict | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Refused(PARAM_INVALID, f"{name} must be a JSON object")
    # Text, control characters and nesting were checked where the body entered
    # (checkout.web.boundary); the size is this field's own rule.
    if json_size(value) > MAX_MAP_BYTES:
        raise Refused(PARAM_INVALID, f"{name} must be at most {MAX_MAP_BYTES} bytes as JSON")
    return value


def check_channel(fields: dict, *, offline: bool = False) -> catalogue.Channel:
    """The request's channel: 4 when missing, 3 CHANNEL_INVALID when unknown
    or not served by this API (offline barcodes, PayPal's international API)."""
    _require(fields, "channel")
    code = fields["channel"]
    channel = catalogue.get(code)
    if channel is None:
        raise Refused(CHANNEL_INVALID, f"channel {_shown(code)} is not a known channel")
    if channel.family == "PAYPAL":
        raise Refused(CHANNEL_INVALID, f"channel {code} is served by /1/rest/international/bill")
    if channel.offline and not offline:
        raise Refused(CHANNEL_INVALID, f"channel {code} is served by /2/rest/offline/bill")
    return channel


def check_common(fields: dict) -> dict:
    """Seed 001 lines 45-51 and seed 003 lines 640-660: the fields every bill
    has, checked and normalised. Missing -> 4, bad value -> 5."""
    for name in ("total_fee", "bill_no", "title"):
        _require(fields, name)
    total_fee = _positive_int(fields, "total_fee", MAX_FEE)
    bill_no = fields["bill_no"]
    if not isinstance(bill_no, str) or not BILL_NO.fullmatch(bill_no):
        raise Refused(PARAM_INVALID, "bill_no must be 8 to 32 letters and/or digits")
    title = fields["title"]
    if not isinstance(title, str) or "\x00" in title:
        raise Refused(PARAM_INVALID, "title must be a string without NUL characters")
    if len(title.encode("utf-8")) > TITLE_MAX_BYTES:
        # Seed 001 line 47 also says "16 汉字", true only in GBK; the issue
        # fixes the rule in UTF-8 bytes.
        raise Refused(PARAM_INVALID, f"title must be at most {TITLE_MAX_BYTES} bytes in UTF-8; "
                                     f"it has {len(title.encode('utf-8'))}")
    return {
        "total_fee": total_fee, "bill_no": bill_no, "title": title,
        "optional": _flat_map(fields, "optional"),
        "analysis": _map(fields, "analysis"),
        "notify_url": _http_url(fields, "notify_url"),
        "buyer_id": _string(fields, "buyer_id"),
        "coupon_id": _string(fields, "coupon_id"),
        "extra": {name: value for name in ("store_id", "seller_id", "operator_id")
                  if (value := _string(fields, name, max_len=32)) is not None},
    }


def check_web_fields(fields: dict, channel: catalogue.Channel) -> dict:
    """The per-channel rules of seed 001 lines 50-114 and seed 003 lines
    690-760. Returns the channel parameters to store on the bill."""
    code = channel.code
    params: dict = {}
    if channel.needs_return_url:
        _require(fields, "return_url", f" for {code}")
    return_url = _http_url(fields, "return_url", query_allowed=False)
    bill_timeout = fields.get("bill_timeout")
    if bill_timeout is not None and not channel.allows_bill_timeout:
        raise Refused(PARAM_INVALID, f"bill_timeout is not supported by {channel.family} channels")
    bill_timeout = _positive_int(fields, "bill_timeout", MAX_BILL_TIMEOUT)
    if code == "WX_JSAPI":
        _require(fields, "openid", " for WX_JSAPI")
        params["openid"] = _string(fields, "openid", max_len=128)
    if code == "ALI_QRCODE":
        _require(fields, "qr_pay_mode", " for ALI_QRCODE")
        mode = fields["qr_pay_mode"]
        if isinstance(mode, bool) or str(mode) not in QR_PAY_MODES:
            raise Refused(PARAM_INVALID, "qr_pay_mode must be 0, 1 or 3")
        params["qr_pay_mode"] = str(mode)
    if code == "ALI_WEB" and _present(fields, "show_url"):
        params["show_url"] = _http_url(fields, "show_url")
    if code == "ALI_WAP" and fields.get("use_app") is not None:
        params["use_app"] = _bool(fields, "use_app")
    if code == "WX_WAP":
        # Seed 003 lines 700-703: WX_WAP needs the shopper's IP in analysis.
        analysis = _map(fields, "analysis") or {}
        if analysis.get("ip") in (None, ""):
            raise Refused(MISS_PARAM, "analysis.ip (the shopper's IP) is required for WX_WAP")
        if not isinstance(analysis["ip"], str):
            raise Refused(PARAM_INVALID, "analysis.ip must be a string")
    if code == "YEE_WAP":
        _require(fields, "identity_id", " for YEE_WAP")
        identity = fields["identity_id"]
        if not isinstance(identity, str) or not IDENTITY_ID.fullmatch(identity):
            raise Refused(PARAM_INVALID, "identity_id must be at most 50 letters and/or digits")
        params["identity_id"] = identity
    if code == "YEE_NOBANKCARD":
        for name in ("cardno", "cardpwd", "frqid"):
            _require(fields, name, " for YEE_NOBANKCARD")
            _string(fields, name)
        # The card password is used once by the channel and never stored.
        params["frqid"] = fields["frqid"]
        params["cardno_tail"] = fields["cardno"][-4:]
    if fields.get("limit_credit") is not None:
        params["limit_credit"] = _bool(fields, "limit_credit")
    return {"return_url": return_url, "bill_timeout": bill_timeout, "params": params}


# --- coupons --------------------------------------------------------------------------

def _apply_coupon(merchant: Merchant, coupon_id: str | None, buyer_id: str | None,
                  bill_fee: int) -> int:
    """The one call site of the coupon rules (helper "coupons",
    ``checkout.sandbox.coupons.discount_for_bill``): the discount in fen for a
    new bill. Refusals keep the coupon module's result code and err_detail."""
    if coupon_id is None:
        return 0
    try:
        from . import coupons
    except ImportError:  # pragma: no cover - the module ships with the product
        raise Refused(PARAM_INVALID, "coupons are not available in this gateway") from None
    try:
        return coupons.discount_for_bill(merchant, coupon_id, buyer_id, bill_fee)
    except coupons.CouponRefused as refused:
        raise Refused(refused.result_code, refused.err_detail) from None


# --- creation -------------------------------------------------------------------------

def _bill_no_key(app_id: str, test_mode: bool, bill_no: str) -> str:
    """The advisory lock's key: the same for the full and the fast path."""
    return f"bill:{app_id}:{int(test_mode)}:{bill_no}"


def _lock_bill_no(app_id: str, test_mode: bool, bill_no: str) -> None:
    """Serialise creations for one (app, mode, bill_no) until commit, so the
    "same bill_no, other fee or title" rule holds across channels too (the
    unique key only covers one channel). PostgreSQL: a transaction-scoped
    advisory lock on the key. SQLite: take the database's write lock first
    (a write that matches nothing), which every creation needs anyway."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().exec_driver_sql(  # the write queue's lock, one statement
            WriteQueue.PG_LOCK_SQL, (_bill_no_key(app_id, test_mode, bill_no),))
    else:
        db.session.execute(text("UPDATE bills SET status = status WHERE 1 = 0"))


def _bills_for(app_id: str, test_mode: bool, bill_no: str) -> list[Bill]:
    return list(db.session.execute(
        db.select(Bill).where(Bill.app_id == app_id, Bill.test_mode == test_mode,
                              Bill.bill_no == bill_no)).scalars())


def _channel_bill(existing: list[Bill], channel: str) -> Bill | None:
    """The bill of ``channel`` that decides: its live one (OPEN or FAILED, at
    most one: the partial unique index ``uq_bills_live_channel``), else its
    newest ended one. Within one millisecond an ended bill with its expiry
    kept goes first: closing a failed bill to re-open forgets its expiry."""
    return max((bill for bill in existing if bill.channel == channel), default=None,
               key=lambda bill: (bill.status in expiry.UNFINISHED, bill.create_time,
                                 bill.expires_at or 0))


def _same_order_check(existing: list[Bill], bill_fee: int, title: str, channel: str,
                      now: int, *, reopen: bool = False) -> Bill | None:
    """Apply "one order, one payment" to the bills already holding this
    bill_no; return the bill to answer again, or None to create one. With
    ``reopen`` (the hosted checkout, ``expiry.reopening``) a channel whose
    bill expired or failed also answers None: ``open_bill`` ends that bill
    and creates the channel's next one (issue 15)."""
    for bill in existing:
        if bill.bill_fee != bill_fee or bill.title != title:
            raise Refused(PARAM_INVALID, f"bill_no {bill.bill_no} is already used with another "
                                         "total_fee or title")
    for bill in existing:
        if bill.status == Bill.PAID:
            raise Refused(CHANNEL_ERROR, f"ORDERPAID: bill_no {bill.bill_no} has already been paid")
    mine = _channel_bill(existing, channel)
    if mine is None:
        return None
    if reopen and expiry.state(mine, now) in (expiry.EXPIRED, expiry.FAILED):
        return None
    if expiry.is_closed(mine, now):  # the one rule of expiry and closing
        ended = "expired" if expiry.is_expired(mine, now) else "is closed"
        raise Refused(CHANNEL_ERROR, f"ORDERCLOSED: the {channel} bill for bill_no "
                                     f"{mine.bill_no} {ended}; use a new bill_no")
    if mine.status == Bill.FAILED:
        # A failed attempt may be retried: the same bill opens again.
        db.session.execute(update(Bill).where(Bill.id == mine.id, Bill.status == Bill.FAILED)
                           .values(status=Bill.OPEN).execution_options(synchronize_session=False))
        db.session.commit()
        db.session.refresh(mine)
    return mine


def _bill_values(merchant: Merchant, common: dict, channel: catalogue.Channel, web: dict, *,
                 test_mode: bool, extra_params: dict | None, now: int,
                 discount: int = 0) -> dict:
    """The columns of a new OPEN bill (the fast path's, and the full path's
    in ``open_bill`` with its coupon's ``discount``)."""
    return dict(
        id=str(uuid.uuid4()), app_id=merchant.app_id, test_mode=test_mode,
        bill_no=common["bill_no"], channel=channel.code, title=common["title"],
        bill_fee=common["total_fee"], discount=discount,
        total_fee=common["total_fee"] - discount,
        coupon_id=common["coupon_id"] if discount else None,
        buyer_id=common["buyer_id"], currency="CNY",
        optional=common["optional"], analysis=common["analysis"],
        return_url=web["return_url"], notify_url=common["notify_url"],
        bill_timeout=web["bill_timeout"],
        expires_at=now + web["bill_timeout"] * 1000 if web["bill_timeout"] else None,
        channel_params={**common["extra"], **web["params"], **(extra_params or {})},
        status=Bill.OPEN, cashier_token=secrets.token_urlsafe(24), create_time=now,
        refund_result=False, revert_result=False)


# --- the new-bill fast path (issue 16) -------------------------------------------------
#
# Most creations are of a bill_no nobody has used yet. For those the rules of
# "one order, one payment" (_same_order_check) have nothing to compare, so one
# statement does it all: INSERT … SELECT … WHERE NOT EXISTS (a bill with this
# (app, mode, bill_no) in any channel), then COMMIT. When it inserts nothing,
# the bill_no is taken and the full path in ``open_bill`` (lock, read, rules)
# decides, exactly as before.
# - SQLite runs a statement's read and write under the write lock it takes at
#   the statement's start, so the check and the insert are one atomic step;
#   the engine's write queue (``db.WriteQueue``) lines this worker's threads up
#   in Python instead of in SQLite's busy handler, which sleeps in growing
#   steps of up to 100 ms (bench/README.md, "Where a bill's time goes"), and
#   commits the REST API's new bills several at a time.
# - PostgreSQL takes the full path's advisory lock first, in its own statement:
#   the INSERT's snapshot must begin after the lock is held, so that it sees a
#   bill committed by the lock's previous holder.
# - A worker's copy of the merchant (``merchants.get_merchant_for_reading``
#   with ``checked=False``) is believed only if the merchant's row still has
#   the copy's version when the bill is inserted: the same statement checks it
#   (``merchant_version``), so a bill is never made with a rotated secret or a
#   changed merchant; when nothing was inserted, ``open_bill`` asks whether the
#   copy is current before anything else.
_NEW_BILL_SQL: dict[tuple, object] = {}


class MerchantChanged(Exception):
    """The merchant's row changed since this worker copied it: authenticate
    again with the current row (``checkout.web.rest_api.serve``)."""


def _new_bill_statement(keys: tuple[str, ...], *, merchant_checked: bool):
    statement = _NEW_BILL_SQL.get((keys, merchant_checked))
    if statement is None:
        table, merchants_table = Bill.__table__, Merchant.__table__
        taken = exists().where(table.c.app_id == bindparam("app_id"),
                               table.c.test_mode == bindparam("test_mode"),
                               table.c.bill_no == bindparam("bill_no"))
        condition = ~taken
        if merchant_checked:
            condition = condition & exists().where(
                merchants_table.c.app_id == bindparam("app_id"),
                merchants_table.c.version == bindparam("merchant_version"))
        statement = _NEW_BILL_SQL[(keys, merchant_checked)] = insert(table).from_select(
            list(keys), select(*[bindparam(key, type_=table.c[key].type) for key in keys])
            .where(condition))
    return statement


@functools.cache
def _python_defaults() -> tuple:
    """(column key, its Python default or None) of every column the database
    does not fill itself (a server default)."""
    return tuple((column.key, column.default) for column in Bill.__table__.columns
                 if column.default is not None or column.server_default is None)


def _all_columns(values: dict) -> dict:
    """``values`` with every other column's Python default (the ORM applies
    them on flush; this statement is Core). Columns with only a server
    default are left to the database."""
    out = dict(values)
    for key, default in _python_defaults():
        if key not in out:
            out[key] = (None if default is None else
                        default.arg(None) if default.is_callable else default.arg)
    return out


def _create_if_bill_no_unused(values: dict, merchant_version: int | None, *,
                              in_session: bool = True) -> Bill | None:
    """Insert the bill if no bill holds its (app, mode, bill_no) yet (and,
    with ``merchant_version``, the merchant's row still has that version),
    and commit: the new bill (loaded; persistent in the session if
    ``in_session``, else detached), or None when nothing was inserted (the
    transaction ended)."""
    row = _all_columns(values)
    keys = tuple(row)
    statement = _new_bill_statement(keys, merchant_checked=merchant_version is not None)
    if merchant_version is not None:
        row["merchant_version"] = merchant_version
    if not session_in_transaction():
        # Nothing of the caller's to commit with it (the REST API): the
        # statement and COMMIT run on a pooled connection's cursor.
        inserted = _insert_on_driver_cursor((keys, merchant_version is not None), statement, row)
        return _loaded(row, keys, in_session=in_session) if inserted else None
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _lock_bill_no(row["app_id"], row["test_mode"], row["bill_no"])
        queue = contextlib.nullcontext()
    else:
        # A caller already inside a write transaction holds SQLite's lock:
        # queueing it behind threads that wait for that lock would deadlock.
        in_write = connection.connection.driver_connection.in_transaction
        queue = contextlib.nullcontext() if in_write else write_queue(connection.engine).writing()
    with queue:
        try:
            inserted = connection.execute(statement, row).rowcount == 1
        except IntegrityError:
            # Only a unique key other than the bill_no's (a cashier token
            # drawn twice): the full path tries again with new values.
            db.session.rollback()
            return None
        commit_keeping_loaded()  # the new bill, or ends the empty transaction and lock
    if not inserted:
        return None
    return _loaded(row, keys)


def _loaded(row: dict, keys: tuple[str, ...], *, in_session: bool = True) -> Bill:
    """The bill just inserted, without a query: persistent in the session,
    or detached for a caller that only reads it."""
    return as_loaded(Bill, {key: row[key] for key in keys}, in_session=in_session)


def _insert_on_driver_cursor(keys: tuple, statement, row: dict) -> bool | None:
    """The fast path's INSERT and COMMIT on a pooled connection's DBAPI cursor
    (``db.driver_sql``), committed with other threads' new bills
    (``db.WriteQueue``): True when inserted, False when the bill_no is taken,
    None when another unique key refused the row (nothing written)."""
    engine = db.engine
    found = driver_sql(keys, statement, engine.dialect)
    # PostgreSQL: the full path's advisory lock first, so the INSERT's snapshot
    # sees a bill committed by the lock's previous holder.
    lock_key = (_bill_no_key(row["app_id"], row["test_mode"], row["bill_no"])
                if engine.dialect.name == "postgresql" else None)
    rowcount = write_queue(engine).write(found[0], driver_params(found, row),
                                         lock_key=lock_key)
    return None if rowcount is None else rowcount == 1


def open_bill(merchant: Merchant, common: dict, channel: catalogue.Channel, web: dict, *,
              test_mode: bool, extra_params: dict | None = None,
              reopen: bool | None = None, in_session: bool = True) -> Bill:
    """Find or create the bill for (app, mode, bill_no, channel), race-safe:
    the unique index on live bills decides, and the loser re-reads the
    winner's row. ``reopen`` (default: asked by ``expiry.reopening``): a
    channel whose bill expired or failed gets a new bill, see
    ``_same_order_check``. A new bill made without a transaction of the
    caller's is left out of the session unless ``in_session``. Raises
    ``MerchantChanged`` when ``merchant`` is a worker's copy older than its
    row."""
    if common["coupon_id"] is None:
        # No coupon: nothing to read before the row is built (issue 16).
        created = _create_if_bill_no_unused(_bill_values(
            merchant, common, channel, web, test_mode=test_mode, extra_params=extra_params,
            now=now_ms()), merchants.copy_version(merchant), in_session=in_session)
        if created is not None:
            return created
    if not merchants.is_current(merchant):
        raise MerchantChanged()
    if reopen is None:
        reopen = expiry.reopening_asked()
    for _attempt in range(2):
        now = now_ms()
        _lock_bill_no(merchant.app_id, test_mode, common["bill_no"])
        existing = _bills_for(merchant.app_id, test_mode, common["bill_no"])
        try:
            found = _same_order_check(existing, common["total_fee"], common["title"],
                                      channel.code, now, reopen=reopen)
            if found is not None:
                commit_keeping_loaded()  # nothing written; ends the lock's transaction
                return found
            discount = _apply_coupon(merchant, common["coupon_id"], common["buyer_id"],
                                     common["total_fee"])
        except Refused:
            # End the transaction (and the lock) at once. Commit, not rollback:
            # we wrote nothing, and a caller's pending work must not be lost.
            commit_keeping_loaded()
            raise
        bill = Bill(**_bill_values(merchant, common, channel, web, test_mode=test_mode,
                                   extra_params=extra_params, now=now, discount=discount))
        if reopen and any(old.channel == channel.code for old in existing):
            # Re-opening: the expired or failed bill ends in this transaction,
            # so the order never holds two OPEN bills of one channel.
            expiry.close_to_reopen(merchant.app_id, test_mode, common["bill_no"],
                                   channel.code, now)
            for old in existing:
                db.session.expire(old)  # its status changed under the ORM
        db.session.add(bill)
        try:
            commit_keeping_loaded()
            return bill
        except IntegrityError:
            # Another request created this (app, mode, bill_no, channel) first.
            db.session.rollback()
    raise Refused(14, "the bill could not be created; try again")  # pragma: no cover


def create_bill(merchant: Merchant, request: dict, *, test_mode: bool = False) -> dict:
    """``POST /2/rest/bill`` (and ``/2/rest/sandbox/bill`` with ``test_mode``)
    for an authenticated merchant: the exact BeeCloud answer map."""
    if not isinstance(request, dict):
        return answer(PARAM_INVALID, "the request must be a JSON object")
    try:
        channel = check_channel(request)
        common = check_common(request)
        web = check_web_fields(request, channel)
        if test_mode:
            bill = open_bill(merchant, common, channel, web, test_mode=True, in_session=False)
            return answer(OK, id=bill.id, **channel_answers.answer_fields(bill, merchant))
        # Live: the merchant's own credentials at the channel's provider, or
        # 2 PAY_FACTOR_NOT_SET before anything is written (issue 14).
        connector = live_channels.connector_for(merchant.app_id, channel.code)
        bill = open_bill(merchant, common, channel, web, test_mode=False)
        return answer(OK, id=bill.id, **live_channels.start(bill, connector))
    except Refused as refused:
        return refused.answer()


# --- reading bills ------------------------------------------------------------------------

def _json_text(value) -> str:
    """Seed 001 line 389: ``optional`` and ``message_detail`` travel as JSON text."""
    if value in (None, ""):
        return "{}" if value is None else ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def bill_to_wire(bill: Bill, *, need_detail: bool = True) -> dict:
    """Every documented field of a bill (seed 003 lines 985-1009; seed 001
    lines 663-677), in the documents' order."""
    params = bill.channel_params or {}
    wire = {
        "id": bill.id,
        "bill_no": bill.bill_no,
        "bill_fee": bill.bill_fee,
        "total_fee": bill.total_fee,
        "discount": bill.discount,
        "coupon_id": bill.coupon_id,
        "trade_no": bill.trade_no or "",
        "channel": catalogue.CHANNELS[bill.channel].family
        if bill.channel in catalogue.CHANNELS else bill.channel.split("_")[0],
        "sub_channel": bill.channel,
        "title": bill.title,
        "buyer_id": bill.buyer_id,
        "seller_id": params.get("seller_id"),
        "store_id": params.get("store_id"),
        "operator_id": params.get("operator_id"),
        "spay_result": bill.status == Bill.PAID,
        "create_time": bill.create_time,
        "success_time": bill.pay_time,
        "optional": _json_text(bill.optional),
    }
    if need_detail:
        wire["message_detail"] = _json_text(bill.message_detail) if bill.message_detail else ""
    wire["revert_result"] = bool(bill.revert_result)
    wire["refund_result"] = bool(bill.refund_result)
    return wire


def get_bill(merchant: Merchant, bill_id, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/bill/{id}``: ``{"result_code": 0, …, "pay": {…}}``."""
    bill = None
    if isinstance(bill_id, str) and 0 < len(bill_id) <= 36 and "\x00" not in bill_id:
        bill = db.session.get(Bill, bill_id)
    if bill is None or bill.app_id != merchant.app_id or bill.test_mode != test_mode:
        return answer(NO_SUCH_BILL, f"no bill with id {_shown(bill_id)} for this app"
                                    + (" in test mode" if test_mode else ""))
    live_channels.refresh(bill)  # an open live bill: ask its provider (a late notification)
    return answer(OK, pay=bill_to_wire(bill))


# --- query filters, shared by the bill and refund queries (seed 001 §5-§8) ------------

def int_filter(filters: dict, name: str, *, minimum: int = 0) -> int | None:
    """An integer filter (``skip``, ``limit``, ``start_time``, ``end_time``)."""
    value = filters.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(PARAM_INVALID, f"{name} must be an integer, not {_shown(value)}")
    if value < minimum:
        raise Refused(PARAM_INVALID, f"{name} must be at least {minimum}")
    if value > 2 ** 62:
        raise Refused(PARAM_INVALID, f"{name} is too large")
    return value


_int_filter = int_filter  # the name this module used before the refund queries shared it


def bool_filter(filters: dict, name: str) -> bool | None:
    """A true/false filter (``spay_result``, ``need_approval``, ``need_detail`` …)."""
    value = filters.get(name)
    if value is not None and not isinstance(value, bool):
        raise Refused(PARAM_INVALID, f"{name} must be true or false")
    return value


def text_filter(filters: dict, name: str) -> str | None:
    """An exact-match text filter (``bill_no``, ``refund_no``, ``buyer_id``);
    empty means no filter."""
    value = filters.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise Refused(PARAM_INVALID, f"{name} must be a string without NUL characters")
    return value


def channel_filter(filters: dict) -> list[str] | None:
    """The sub channels a ``channel`` filter names: a family (WX covers
    WX_NATIVE, WX_JSAPI …) or one sub channel; None when absent. 3
    CHANNEL_INVALID for anything else."""
    channel = filters.get("channel")
    if channel in (None, ""):
        return None
    if not isinstance(channel, str):
        raise Refused(CHANNEL_INVALID, "channel must be a string")
    if channel in catalogue.FAMILIES:
        return [c.code for c in catalogue.CHANNELS.values() if c.family == channel]
    if channel in catalogue.CHANNELS:
        return [channel]
    raise Refused(CHANNEL_INVALID, f"channel {_shown(channel)} is not a known channel "
                                   "or channel family")


def time_window(statement, filters: dict, column):
    """``start_time`` ≤ column ≤ ``end_time`` (ms), each bound optional."""
    start, end = int_filter(filters, "start_time"), int_filter(filters, "end_time")
    if start is not None:
        statement = statement.where(column >= start)
    if end is not None:
        statement = statement.where(column <= end)
    return statement


def page_filters(filters: dict) -> tuple[int, int, bool]:
    """``skip`` (default 0), ``limit`` (default 10, at most 50: refused above,
    not clamped) and ``need_detail`` of a list query (seed 001 line 355)."""
    if not isinstance(filters, dict):
        raise Refused(PARAM_INVALID, "para must be a JSON object")
    skip = int_filter(filters, "skip") or 0
    limit = int_filter(filters, "limit", minimum=1)
    limit = DEFAULT_LIMIT if limit is None else limit
    if limit > MAX_LIMIT:
        raise Refused(PARAM_INVALID, f"limit must be at most {MAX_LIMIT}")
    return skip, limit, bool(bool_filter(filters, "need_detail"))


def _filtered(statement, merchant: Merchant, filters: dict, test_mode: bool):
    """The query filters shared by the list and the count (seed 001 lines
    342-359, seed 003 lines 959-977); all of them ANDed."""
    statement = statement.where(Bill.app_id == merchant.app_id, Bill.test_mode == test_mode)
    codes = channel_filter(filters)
    if codes is not None:
        statement = statement.where(Bill.channel.in_(codes))
    for name, column in (("bill_no", Bill.bill_no), ("buyer_id", Bill.buyer_id)):
        value = text_filter(filters, name)
        if value is not None:
            statement = statement.where(column == value)
    spay = bool_filter(filters, "spay_result")
    if spay is not None:
        statement = statement.where((Bill.status == Bill.PAID) if spay
                                    else (Bill.status != Bill.PAID))
    refund = bool_filter(filters, "refund_result")
    if refund is not None:
        statement = statement.where(Bill.refund_result == refund)
    # Seed 001 line 359: the window is on the bill's creation time.
    return time_window(statement, filters, Bill.create_time)


def query_bills(merchant: Merchant, filters: dict, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/bills?para=…``: newest first, ``skip``/``limit`` (≤ 50)."""
    try:
        skip, limit, need_detail = page_filters(filters)
        statement = _filtered(db.select(Bill), merchant, filters, test_mode)
    except Refused as refused:
        return refused.answer()
    statement = statement.order_by(Bill.create_time.desc(), Bill.id.desc()) \
        .offset(skip).limit(limit)
    found = db.session.execute(statement).scalars()
    return answer(OK, bills=[bill_to_wire(bill, need_detail=need_detail) for bill in found])


def count_bills(merchant: Merchant, filters: dict, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/bills/count?para=…``: ``{"count": n}`` under the same filters."""
    try:
        if not isinstance(filters, dict):
            raise Refused(PARAM_INVALID, "para must be a JSON object")
        statement = _filtered(db.select(func.count()).select_from(Bill), merchant, filters,
                              test_mode)
    except Refused as refused:
        return refused.answer()
    return answer(OK, count=int(db.session.execute(statement).scalar_one()))
