"""What Alipay's ``gateway.do`` does with each request: the common checks
(parameters, app, RSA2 signature) and the trade methods, on the simulator's
own tables. Wire formats follow Alipay's OpenAPI documentation (公共请求参数,
公共错误码, each ``alipay.trade.*`` page) and what python-alipay-sdk 3.4.0
sends and verifies.

Rules a connector should know (the report of issue 14 lists them too):
- Like real Alipay, a trade made by ``alipay.trade.page.pay`` with a
  ``qr_pay_mode`` frame, or by ``alipay.trade.precreate``, does not exist for
  ``query``/``close`` (ACQ.TRADE_NOT_EXIST) until a buyer opens it (scans the
  QR code, i.e. opens its cashier). Page and WAP pay trades are open as soon
  as the shopper's browser arrives; a barcode trade at once.
- ``alipay.trade.pay`` payment codes (Alipay: "25~30开头的长度为16~24位的
  数字"): a code starting ``28`` pays at once (10000); one starting 25, 26,
  27, 29 or 30 waits for the buyer's password (10003, WAIT_BUYER_PAY; the
  buyer confirms at the trade's cashier, ``console.cashier_url``); anything
  else is ACQ.PAYMENT_AUTH_CODE_INVALID.
- An unpaid trade closes at its ``timeout_express`` (1m … 15d, or 1c = the
  end of the day, Beijing time); without one, after 15 days.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ...db import db
from . import signing
from .models import SimApp, SimRefund, SimTrade

BEIJING = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

WAIT, SUCCESS, CLOSED, FINISHED = "WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_CLOSED", \
    "TRADE_FINISHED"

# 公共错误码: code -> msg
MESSAGES = {"10000": "Success", "10003": "order success pay inprocess",
            "20000": "Service Currently Unavailable", "40001": "Missing Required Arguments",
            "40002": "Invalid Arguments", "40004": "Business Failed"}

PAGE_METHODS = {"alipay.trade.page.pay": ("FAST_INSTANT_TRADE_PAY",),
                # Alipay documents QUICK_WAP_WAY; python-alipay-sdk sends QUICK_WAP_PAY.
                "alipay.trade.wap.pay": ("QUICK_WAP_WAY", "QUICK_WAP_PAY")}
SERVER_METHODS = ("alipay.trade.precreate", "alipay.trade.pay", "alipay.trade.query",
                  "alipay.trade.close", "alipay.trade.cancel", "alipay.trade.refund",
                  "alipay.trade.fastpay.refund.query")

# qr_pay_mode values that embed a QR code in the merchant's iframe (2 is
# "跳转模式": the whole page goes to the cashier).
FRAME_QR_MODES = ("0", "1", "3", "4")
QR_MODES = ("0", "1", "2", "3", "4")

OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?")
MAX_FEN = 100_000_000 * 100  # [0.01, 100000000]
TIMEOUT = re.compile(r"([1-9][0-9]{0,4})([mhdc])")
DEFAULT_TIMEOUT_MS = 15 * 24 * 3600 * 1000
TIMEOUT_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
AUTH_CODE = re.compile(r"(2[5-9]|30)[0-9]{14,22}")


class GatewayError(Exception):
    """A failed call: Alipay's code/msg/sub_code/sub_msg. ``app`` is the
    called app when it is known (the answer is then signed)."""

    def __init__(self, code: str, sub_code: str, sub_msg: str, app: SimApp | None = None,
                 detail: str = ""):
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code, self.sub_code, self.sub_msg, self.app = code, sub_code, sub_msg, app
        self.detail = detail  # for the page methods' error page (e.g. the signed string)

    def body(self) -> dict:
        return {"code": self.code, "msg": MESSAGES[self.code], "sub_code": self.sub_code,
                "sub_msg": self.sub_msg}


def business(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40004", sub_code, sub_msg)


@dataclass
class Call:
    app: SimApp
    method: str
    params: dict[str, str]
    biz: dict = field(default_factory=dict)


# --- times and money ---------------------------------------------------------------------

def alipay_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime(TIME_FORMAT)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def parse_amount(value: object, name: str) -> int:
    """Alipay's amounts: yuan, at most two decimals, [0.01, 100000000]."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: {name}")
    text = value if isinstance(value, str) else repr(value)
    match = AMOUNT.fullmatch(text)
    if not match:
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: {name} 须为以元为单位、"
                                                "至多两位小数的金额")
    whole, _, cents = text.partition(".")
    fen = int(whole) * 100 + int((cents + "00")[:2])
    if not 1 <= fen <= MAX_FEN:
        raise business("ACQ.TOTAL_FEE_EXCEED" if name == "total_amount" else
                       "ACQ.INVALID_PARAMETER", f"{name} 不在 [0.01, 100000000] 之内")
    return fen


def expiry(biz: dict, now: int) -> int:
    """When an unpaid trade closes: ``time_expire`` (an absolute Beijing time,
    which Alipay ranks above ``timeout_express``), else ``timeout_express``."""
    absolute = biz.get("time_expire")
    if absolute not in (None, ""):
        try:
            moment = datetime.strptime(absolute, TIME_FORMAT).replace(tzinfo=BEIJING)
        except (TypeError, ValueError):
            raise business("ACQ.INVALID_PARAMETER",
                           "参数无效: time_expire 格式须为 yyyy-MM-dd HH:mm:ss") from None
        at = int(moment.timestamp() * 1000)
        if not now < at <= now + DEFAULT_TIMEOUT_MS:
            raise business("ACQ.INVALID_PARAMETER", "参数无效: time_expire 须在此后15天之内")
        return at
    raw = biz.get("timeout_express")
    if raw in (None, ""):
        raw = biz.get("qr_code_timeout_express")
    if raw in (None, ""):
        return now + DEFAULT_TIMEOUT_MS
    match = TIMEOUT.fullmatch(raw) if isinstance(raw, str) else None
    if not match:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: timeout_express 取值范围 1m～15d")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "c":
        if count != 1:
            raise business("ACQ.INVALID_PARAMETER", "参数无效: timeout_express 仅支持 1c")
        today = datetime.fromtimestamp(now / 1000, BEIJING).replace(hour=0, minute=0,
                                                                    second=0, microsecond=0)
        return int((today + timedelta(days=1)).timestamp() * 1000)
    span = count * TIMEOUT_UNITS_MS[unit]
    if span > DEFAULT_TIMEOUT_MS:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: timeout_express 取值范围 1m～15d")
    return now + span


# --- the common part of every call ----------------------------------------------------------

REQUIRED = (("method", "isv.missing-method", "缺少方法名参数"),
            ("app_id", "isv.missing-app-id", "缺少AppID参数"))


def check_call(params: dict[str, str]) -> Call:
    """Alipay's gateway checks, in its order; raises ``GatewayError``."""
    for name, sub_code, sub_msg in REQUIRED:
        if not params.get(name):
            raise GatewayError("40001", sub_code, sub_msg)
    method = params["method"]
    if method not in PAGE_METHODS and method not in SERVER_METHODS:
        raise GatewayError("40002", "isv.invalid-method", "不存在的方法名")
    app = db.session.get(SimApp, params["app_id"]) if len(params["app_id"]) <= 16 else None
    if app is None:
        raise GatewayError("40002", "isv.invalid-app-id", "无效的AppID参数")
    missing = [(name, code, msg) for name, code, msg in (
        ("sign", "isv.missing-signature", "缺少签名参数"),
        ("sign_type", "isv.missing-signature-type", "缺少签名类型参数"),
        ("timestamp", "isv.missing-timestamp", "缺少时间戳参数"),
        ("version", "isv.missing-version", "缺少版本参数")) if not params.get(name)]
    if missing:
        raise GatewayError("40001", missing[0][1], missing[0][2], app)
    if params["sign_type"] == "RSA":
        # Apps made after 2018-01-05 sign with RSA2 only; this is Alipay's answer
        # to an RSA (SHA1) signature from an app with an RSA2 key.
        raise GatewayError("40002", "isv.invalid-signature",
                           "验签出错，应用未配置对应签名算法的公钥或者证书", app)
    if params["sign_type"] != "RSA2":
        raise GatewayError("40002", "isv.invalid-signature-type", "无效的签名类型", app)
    try:
        datetime.strptime(params["timestamp"], TIME_FORMAT)
    except ValueError:
        raise GatewayError("40002", "isv.invalid-timestamp",
                           "非法的时间戳参数, 格式须为 yyyy-MM-dd HH:mm:ss", app) from None
    if params["version"] != "1.0":
        raise GatewayError("40002", "isv.invalid-parameter", "参数无效: version 固定为 1.0", app)
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise GatewayError("40002", "isv.invalid-charset",
                           "字符集错误: 模拟器只接受 utf-8", app)
    if params.get("format", "json").lower() != "json":
        raise GatewayError("40002", "isv.invalid-format", "参数无效: format 仅支持 json", app)
    content = signing.request_content(params)
    if not signing.verify(app.app_public_key, content, params["sign"]):
        raise GatewayError("40002", "isv.invalid-signature",
                           "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配", app,
                           detail=content)
    raw = params.get("biz_content") or "{}"
    try:
        biz = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
        biz = None
    if not isinstance(biz, dict):
        raise GatewayError("40004", "ACQ.INVALID_PARAMETER",
                           "参数无效: biz_content 须为 JSON 对象", app)
    return Call(app=app, method=method, params=params, biz=biz)


# --- trades ----------------------------------------------------------------------------------

def _text(biz: dict, name: str, *, required: bool = True, max_chars: int = 256) -> str | None:
    value = biz.get(name)
    if value in (None, ""):
        if required:
            raise business("ACQ.INVALID_PARAMETER", f"参数无效: 缺少 {name}")
        return None
    if not isinstance(value, str) or len(value) > max_chars:
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: {name}")
    return value


def _out_trade_no(biz: dict, *, required: bool = True) -> str | None:
    value = _text(biz, "out_trade_no", required=required, max_chars=64)
    if value is not None and not OUT_TRADE_NO.fullmatch(value):
        raise business("ACQ.INVALID_PARAMETER",
                       "参数无效: out_trade_no 只可包含字母、数字、下划线, 至多64位")
    return value


def _new_trade_no(now: int) -> str:
    """28 digits like Alipay's: the day (Beijing), 2200, 16 random digits."""
    day = datetime.fromtimestamp(now / 1000, BEIJING).strftime("%Y%m%d")
    return day + "2200" + "".join(secrets.choice("0123456789") for _ in range(16))


def refresh(trade: SimTrade, now: int) -> SimTrade:
    """Close an unpaid trade whose time is up (as Alipay does on its own)."""
    if trade.status == WAIT and now >= trade.expires_at:
        _transition(trade, WAIT, status=CLOSED, closed_at=trade.expires_at)
        db.session.commit()
    return trade


def _transition(trade: SimTrade, from_status: str, **values) -> bool:
    """Move the trade only if it is still in ``from_status`` (two requests at
    once cannot both pay or both close it)."""
    done = db.session.execute(update(SimTrade).where(SimTrade.id == trade.id,
                                                     SimTrade.status == from_status)
                              .values(**values)).rowcount == 1
    db.session.refresh(trade)
    return done


def find(app: SimApp, biz: dict, now: int, *, require_open: bool = True) -> SimTrade:
    """The trade a query/close/cancel/refund names, by out_trade_no or trade_no."""
    out_trade_no = _out_trade_no(biz, required=False)
    trade_no = _text(biz, "trade_no", required=False, max_chars=64)
    if not out_trade_no and not trade_no:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no 与 trade_no 不能同时为空")
    query = db.session.query(SimTrade).filter(SimTrade.app_id == app.app_id)
    # "二选一, 如果同时存在优先取 trade_no" (Alipay's trade API pages)
    query = query.filter(SimTrade.trade_no == trade_no) if trade_no \
        else query.filter(SimTrade.out_trade_no == out_trade_no)
    trade = query.first()
    if trade is None or (require_open and trade.opened_at is None):
        raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return refresh(trade, now)


def create(call: Call, now: int, *, opened: bool) -> SimTrade:
    """The trade of a page, WAP, precreate or barcode call: a new one, or
    the same out_trade_no again with the same amount and subject."""
    biz = call.biz
    out_trade_no = _out_trade_no(biz)
    total = parse_amount(biz.get("total_amount"), "total_amount")
    subject = _text(biz, "subject")
    product_code = biz.get("product_code")
    allowed = PAGE_METHODS.get(call.method)
    if allowed and product_code not in allowed:
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: product_code 应为 {allowed[0]}")
    if not allowed and product_code not in (None, "", "FACE_TO_FACE_PAYMENT"):
        raise business("ACQ.INVALID_PARAMETER", "参数无效: product_code 应为 FACE_TO_FACE_PAYMENT")
    qr_mode, width = None, None
    if call.method == "alipay.trade.page.pay" and biz.get("qr_pay_mode") not in (None, ""):
        qr_mode = str(biz["qr_pay_mode"])
        if qr_mode not in QR_MODES:
            raise business("ACQ.INVALID_PARAMETER", "参数无效: qr_pay_mode 取值 0～4")
        if qr_mode == "4":
            raw_width = biz.get("qrcode_width")
            if not re.fullmatch(r"[1-9][0-9]{1,3}", str(raw_width or "")) \
                    or not 50 <= int(raw_width) <= 1000:
                raise business("ACQ.INVALID_PARAMETER",
                               "参数无效: qr_pay_mode=4 须有 qrcode_width (50～1000)")
            width = int(raw_width)
    expires_at = expiry(biz, now)
    notify_url = _url(call.params.get("notify_url"), "notify_url")
    return_url = _url(call.params.get("return_url"), "return_url") \
        if call.method in PAGE_METHODS else None

    existing = db.session.query(SimTrade).filter_by(app_id=call.app.app_id,
                                                    out_trade_no=out_trade_no).first()
    if existing is None:
        trade = SimTrade(app_id=call.app.app_id, out_trade_no=out_trade_no,
                         trade_no=_new_trade_no(now), method=call.method,
                         product_code=product_code or "FACE_TO_FACE_PAYMENT", subject=subject,
                         total_fen=total, status=WAIT, notify_url=notify_url,
                         return_url=return_url, qr_pay_mode=qr_mode, qrcode_width=width,
                         token=secrets.token_urlsafe(24), opened_at=now if opened else None,
                         created_at=now, expires_at=expires_at, refunded_fen=0, failures=0)
        db.session.add(trade)
        try:
            db.session.commit()
            return trade
        except IntegrityError:  # the same out_trade_no at the same moment
            db.session.rollback()
            existing = db.session.query(SimTrade).filter_by(
                app_id=call.app.app_id, out_trade_no=out_trade_no).one()
    refresh(existing, now)
    if existing.total_fen != total or existing.subject != subject:
        raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
    if existing.status in (SUCCESS, FINISHED):
        raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
    if existing.status == CLOSED:
        raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
    # The merchant asked again (the shopper clicked again): this request's
    # URLs and display mode win, as they do at Alipay.
    existing.notify_url = notify_url or existing.notify_url
    existing.return_url = return_url or existing.return_url
    existing.qr_pay_mode, existing.qrcode_width = qr_mode, width
    if opened and existing.opened_at is None:
        existing.opened_at = now
    db.session.commit()
    return existing


def _url(value: str | None, name: str) -> str | None:
    if value in (None, ""):
        return None
    if len(value) > 256 or not re.fullmatch(r"https?://[^\s]+", value):
        raise business("ACQ.INVALID_PARAMETER", f"参数无效: {name} 须为 http(s) 地址, 至多256字符")
    return value


def open_trade(trade: SimTrade, now: int) -> None:
    """A buyer has the trade in front of them (scanned or logged in)."""
    if trade.opened_at is None:
        db.session.execute(update(SimTrade).where(SimTrade.id == trade.id,
                                                  SimTrade.opened_at.is_(None))
                           .values(opened_at=now))
        db.session.commit()
        db.session.refresh(trade)


def pay(trade: SimTrade, now: int) -> bool:
    """The buyer pays: True if this call paid it (False: already paid or closed)."""
    refresh(trade, now)
    buyer = "2088" + "".join(secrets.choice("0123456789") for _ in range(12))
    done = _transition(trade, WAIT, status=SUCCESS, paid_at=now, buyer_user_id=buyer,
                       buyer_logon_id="sim***@sandbox.com",
                       opened_at=trade.opened_at or now)
    db.session.commit()
    return done


def fail(trade: SimTrade, now: int) -> None:
    """The payment was declined; the trade stays WAIT_BUYER_PAY (the buyer
    may try again, as at Alipay after a declined card)."""
    refresh(trade, now)
    if trade.status == WAIT:
        db.session.execute(update(SimTrade).where(SimTrade.id == trade.id)
                           .values(failures=SimTrade.failures + 1))
        db.session.commit()
        db.session.refresh(trade)


# --- the server-to-server methods ---------------------------------------------------------------

def _paid_fields(trade: SimTrade) -> dict:
    total = yuan(trade.total_fen)
    return {"buyer_logon_id": trade.buyer_logon_id, "buyer_user_id": trade.buyer_user_id,
            "total_amount": total, "receipt_amount": total, "buyer_pay_amount": total,
            "point_amount": "0.00", "invoice_amount": total,
            "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": total}]}


def precreate(call: Call, now: int) -> dict:
    from .views import cashier_link

    trade = create(call, now, opened=False)
    return {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no,
            "qr_code": cashier_link(trade.token)}


def barcode_pay(call: Call, now: int) -> dict:
    scene = call.biz.get("scene")
    if scene not in ("bar_code", "wave_code"):
        raise business("ACQ.INVALID_PARAMETER", "参数无效: scene 须为 bar_code 或 wave_code")
    auth_code = call.biz.get("auth_code")
    if not isinstance(auth_code, str) or not auth_code:
        raise business("ACQ.INVALID_PARAMETER", "参数无效: 缺少 auth_code")
    # A code that is not an Alipay payment code is refused before any trade is made.
    if not AUTH_CODE.fullmatch(auth_code):
        raise business("ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败，"
                                                        "请顾客刷新付款码后重新收款")
    trade = create(call, now, opened=True)
    if auth_code.startswith("28"):
        pay(trade, now)
        from . import notify

        notify.start(trade, now)
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no, **_paid_fields(trade),
                "gmt_payment": alipay_time(trade.paid_at)}
    total = yuan(trade.total_fen)
    return {"code": "10003", "msg": MESSAGES["10003"], "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "buyer_logon_id": "sim***@sandbox.com",
            "total_amount": total, "receipt_amount": "0.00", "buyer_pay_amount": "0.00",
            "point_amount": "0.00", "invoice_amount": "0.00"}


def query(call: Call, now: int) -> dict:
    trade = find(call.app, call.biz, now)
    body = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "trade_status": trade.status,
            "total_amount": yuan(trade.total_fen)}
    if trade.paid_at is not None:
        body.update(_paid_fields(trade), send_pay_date=alipay_time(trade.paid_at))
    else:
        body.update(buyer_pay_amount="0.00", receipt_amount="0.00", point_amount="0.00",
                    invoice_amount="0.00")
    return body


def close(call: Call, now: int) -> dict:
    trade = find(call.app, call.biz, now)
    if not _transition(trade, WAIT, status=CLOSED, closed_at=now):
        raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    db.session.commit()
    return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no}


def cancel(call: Call, now: int) -> dict:
    """撤销: an unpaid trade is closed ("close"), a paid one refunded in
    full and closed ("refund"); a trade made but never opened by a buyer is
    closed too (cancel exists for calls whose outcome the merchant does not
    know). Asking again answers the same."""
    trade = find(call.app, call.biz, now, require_open=False)
    if trade.cancel_action is None:
        if trade.status == WAIT:
            _transition(trade, WAIT, status=CLOSED, closed_at=now, cancel_action="close")
        elif trade.status == SUCCESS and trade.refunded_fen == 0:
            _transition(trade, SUCCESS, status=CLOSED, closed_at=now,
                        refunded_fen=trade.total_fen, cancel_action="refund")
        elif trade.status == CLOSED and trade.paid_at is None:
            _transition(trade, CLOSED, cancel_action="close")
        db.session.commit()
    if trade.cancel_action is None:
        raise business("ACQ.REASON_TRADE_STATUS_INVALID", "交易状态异常, 不能撤销")
    body = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "retry_flag": "N",
            "action": trade.cancel_action}
    if trade.cancel_action == "refund":
        body["gmt_refund_pay"] = alipay_time(trade.closed_at)
    return body


def refund(call: Call, now: int) -> dict:
    trade = find(call.app, call.biz, now)
    amount = parse_amount(call.biz.get("refund_amount"), "refund_amount")
    request_no = _text(call.biz, "out_request_no", required=False, max_chars=64) \
        or trade.trade_no
    reason = _text(call.biz, "refund_reason", required=False)
    if trade.paid_at is None:
        raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    done = db.session.query(SimRefund).filter_by(trade_id=trade.id,
                                                 out_request_no=request_no).first()
    fund_change = "N"
    if done is None:
        moved = db.session.execute(
            update(SimTrade).where(SimTrade.id == trade.id,
                                   SimTrade.refunded_fen + amount <= SimTrade.total_fen)
            .values(refunded_fen=SimTrade.refunded_fen + amount)).rowcount == 1
        if not moved:
            db.session.rollback()
            raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        done = SimRefund(trade_id=trade.id, out_request_no=request_no, refund_fen=amount,
                         refund_reason=reason, created_at=now)
        db.session.add(done)
        try:
            db.session.flush()
        except IntegrityError:  # the same out_request_no at the same moment
            db.session.rollback()
            done = db.session.query(SimRefund).filter_by(trade_id=trade.id,
                                                         out_request_no=request_no).one()
        else:
            fund_change = "Y"
            db.session.execute(update(SimTrade).where(SimTrade.id == trade.id,
                                                      SimTrade.refunded_fen == SimTrade.total_fen)
                               .values(status=CLOSED, closed_at=now))
            db.session.commit()
        db.session.refresh(trade)
    if done.refund_fen != amount:
        raise business("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致: 同一 out_request_no "
                                                        "的退款金额不同")
    return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "buyer_logon_id": trade.buyer_logon_id,
            "buyer_user_id": trade.buyer_user_id, "fund_change": fund_change,
            "refund_fee": yuan(trade.refunded_fen), "send_back_fee": yuan(done.refund_fen),
            "gmt_refund_pay": alipay_time(done.created_at)}


def refund_query(call: Call, now: int) -> dict:
    trade = find(call.app, call.biz, now)
    request_no = _text(call.biz, "out_request_no", max_chars=64)
    done = db.session.query(SimRefund).filter_by(trade_id=trade.id,
                                                 out_request_no=request_no).first()
    body = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "out_request_no": request_no}
    # Alipay: an answer without refund_amount means no such refund succeeded.
    if done is not None:
        body.update(total_amount=yuan(trade.total_fen), refund_amount=yuan(done.refund_fen),
                    refund_status="REFUND_SUCCESS",
                    gmt_refund_pay=alipay_time(done.created_at))
    return body


HANDLERS = {"alipay.trade.precreate": precreate, "alipay.trade.pay": barcode_pay,
            "alipay.trade.query": query, "alipay.trade.close": close,
            "alipay.trade.cancel": cancel, "alipay.trade.refund": refund,
            "alipay.trade.fastpay.refund.query": refund_query}


def response_key(method: str | None) -> str:
    if method in PAGE_METHODS or method in SERVER_METHODS:
        return method.replace(".", "_") + "_response"
    return "error_response"


def answer_text(method: str | None, body: dict, app: SimApp | None) -> str:
    """The JSON text Alipay answers: the response object's exact text, then
    its RSA2 signature by the app's Alipay key (unsigned when no app is known)."""
    inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    key = response_key(method)
    if app is None:
        return '{"%s":%s}' % (key, inner)
    return '{"%s":%s,"sign":"%s"}' % (key, inner, signing.sign(app.alipay_private_key, inner))


def serve(params: dict[str, str], now: int) -> str:
    """A server-to-server call, answered as Alipay's JSON text."""
    try:
        call = check_call(params)
    except GatewayError as error:
        return answer_text(params.get("method"), error.body(), error.app)
    try:
        body = HANDLERS[call.method](call, now)
    except GatewayError as error:
        db.session.rollback()
        return answer_text(call.method, error.body(), call.app)
    return answer_text(call.method, body, call.app)
