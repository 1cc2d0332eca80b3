"""The simulator's HTTP side:

    GET|POST /simulators/alipay/gateway.do            Alipay's OpenAPI gateway
    GET      /simulators/alipay/cashier/<token>        the buyer's cashier (SANDBOX)
    POST     /simulators/alipay/cashier/<token>/pay    Pay / Fail / Cancel (CSRF-protected)
    POST     /simulators/alipay/cashier/<token>/fail
    POST     /simulators/alipay/cashier/<token>/cancel
    GET      /simulators/alipay/cashier/<token>/status the trade's status (for polling), JSON
    GET      /simulators/alipay/qr/<token>             the QR code a qr_pay_mode frame shows
    POST     /simulators/alipay/cashier/<token>/notify send the notification again

Page methods (``alipay.trade.page.pay``, ``alipay.trade.wap.pay``) answer the
shopper's browser: the cashier, the QR frame, or Alipay's error page.
Server-to-server methods answer Alipay's signed JSON (``trades.serve``).
"""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from werkzeug.exceptions import BadRequest
from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request

from ... import clock
from ...db import db
from ...links import base_url
from . import notify, signing, trades
from .models import SimApp, SimTrade

bp = Blueprint("alipay_sim", __name__, url_prefix="/simulators/alipay")

# The frame sizes of qr_pay_mode (Alipay's 电脑网站支付 docs; seed 001's
# ALI_QRCODE notes): mode 0 at least 600x300, 1 300x600, 3 75x75; mode 4 is
# as wide as qrcode_width.
FRAME_SIZES = {"0": (600, 300), "1": (300, 600), "3": (75, 75)}
QR_SIZE = {"0": 260, "1": 260, "3": 75}

FRAME_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
             "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
             "frame-ancestors http: https:")


@bp.errorhandler(ValueError)
def refused_input(error: ValueError):
    """The app's input boundary refuses a value before any view runs
    (``checkout.web.boundary``; its ``BadInput`` is a ValueError naming the
    field). gateway.do's callers are merchants' servers and SDKs that read
    Alipay's JSON, so they get Alipay's 40002 answer, unsigned like any
    request the gateway could not read; the cashier's pages get the app's
    400 page. Any other ValueError is a fault, not bad input."""
    field = getattr(error, "field", None)
    if field is None:
        raise error
    if request.endpoint == "alipay_sim.gateway":
        method = request.args.get("method") or request.form.get("method")
        body = {"code": "40002", "msg": trades.MESSAGES["40002"],
                "sub_code": "isv.invalid-parameter", "sub_msg": f"参数无效: {error}"}
        return Response(trades.answer_text(method, body, None),
                        content_type="application/json;charset=utf-8")
    return render_template("errors/http.html", error=BadRequest(), field=field), 400


def cashier_link(token: str) -> str:
    return f"{base_url()}/simulators/alipay/cashier/{token}"


def _params() -> dict[str, str]:
    """Common and business parameters, from the query string and the form
    alike (Alipay reads both); the first value of a repeated name."""
    params: dict[str, str] = {}
    for source in (request.args, request.form):
        for key in source:
            params.setdefault(key, source.get(key, ""))
    return params


@bp.route("/gateway.do", methods=["GET", "POST"])
def gateway():
    params = _params()
    now = clock.now_ms()
    if params.get("method") in trades.PAGE_METHODS:
        return _page_call(params, now)
    text = trades.serve(params, now)
    return Response(text, content_type="application/json;charset=utf-8")


def _page_call(params: dict[str, str], now: int):
    try:
        call = trades.check_call(params)
        trade = trades.create(call, now, opened=params.get("method") != "alipay.trade.page.pay"
                              or str(call.biz.get("qr_pay_mode", "")) not in trades.FRAME_QR_MODES)
    except trades.GatewayError as error:
        db.session.rollback()
        # Shown where the request was sent: a page, or a qr_pay_mode frame
        # inside the merchant's page (so it may be framed, as Alipay's is).
        response = Response(render_template("simulators/alipay/error.html", error=error))
        response.headers["Content-Security-Policy"] = FRAME_CSP
        return response
    if trade.qr_pay_mode in trades.FRAME_QR_MODES:
        return redirect(f"/simulators/alipay/qr/{trade.token}", 303)
    return redirect(f"/simulators/alipay/cashier/{trade.token}", 303)


def _trade(token: str) -> SimTrade:
    trade = db.session.query(SimTrade).filter_by(token=token).first() if len(token) <= 48 \
        else None
    if trade is None:
        abort(404)
    return trades.refresh(trade, clock.now_ms())


def _qr_data_uri(url: str, size: int) -> str:
    code = segno.make(url, error="m")
    return code.svg_data_uri(scale=max(1, size // (code.symbol_size()[0])), border=2)


def return_params(trade: SimTrade, app: SimApp) -> dict[str, str]:
    """Alipay's synchronous return (同步返回) to return_url, signed like a notification."""
    params = {"charset": "utf-8", "out_trade_no": trade.out_trade_no,
              "method": trade.method + ".return", "total_amount": trades.yuan(trade.total_fen),
              "trade_no": trade.trade_no, "auth_app_id": app.app_id, "version": "1.0",
              "app_id": app.app_id, "sign_type": "RSA2", "seller_id": app.seller_id,
              "timestamp": trades.alipay_time(trade.paid_at)}
    params["sign"] = signing.sign(app.alipay_private_key, signing.notify_content(params))
    return params


def return_link(trade: SimTrade) -> str | None:
    if not trade.return_url or trade.paid_at is None:
        return None
    app = db.session.get(SimApp, trade.app_id)
    joiner = "&" if "?" in trade.return_url else "?"
    return trade.return_url + joiner + urlencode(return_params(trade, app))


def _state(trade: SimTrade) -> str:
    if trade.status == trades.WAIT:
        return "open"
    if trade.paid_at is not None:
        return "paid"
    return "closed"


def _render_cashier(trade: SimTrade, outcome: str | None = None):
    state = _state(trade)
    return render_template(
        "simulators/alipay/cashier.html", trade=trade, state=state, outcome=outcome,
        amount="¥" + trades.yuan(trade.total_fen),
        qr=_qr_data_uri(cashier_link(trade.token), 150) if state == "open" and not outcome
        else None)


@bp.get("/cashier/<token>")
def cashier(token: str):
    trade = _trade(token)
    trades.open_trade(trade, clock.now_ms())
    return _render_cashier(trade)


@bp.post("/cashier/<token>/pay")
def pay(token: str):
    trade = _trade(token)
    now = clock.now_ms()
    if trades.pay(trade, now):
        notify.start(trade, now)
        link = return_link(trade)
        # A QR frame's trade is paid on the buyer's phone: the phone shows
        # the outcome, the merchant's frame moves on by itself (qr.js).
        if link and trade.qr_pay_mode not in trades.FRAME_QR_MODES:
            return redirect(link, 303)
    return _render_cashier(trade)


@bp.post("/cashier/<token>/fail")
def fail(token: str):
    trade = _trade(token)
    trades.fail(trade, clock.now_ms())
    return _render_cashier(trade, outcome="failed" if trade.status == trades.WAIT else None)


@bp.post("/cashier/<token>/cancel")
def cancel(token: str):
    """The buyer leaves. Alipay itself does not send the buyer back to the
    merchant on leaving (no return_url call: that is for a paid trade), so
    the simulator says the payment was left, the trade stays payable until
    it expires, and offers the way back to the cashier and the shop."""
    trade = _trade(token)
    return _render_cashier(trade, outcome="left" if trade.status == trades.WAIT else None)


@bp.post("/cashier/<token>/notify")
def resend_notify(token: str):
    trade = _trade(token)
    row = notify.resend(trade, clock.now_ms())
    return _render_cashier(trade, outcome=("notify-" + row.status) if row else None)


@bp.get("/cashier/<token>/status")
def status(token: str):
    trade = _trade(token)
    # Where a waiting page goes once the trade is paid elsewhere (the phone
    # that scanned the PC cashier's or the frame's QR code): the merchant's
    # return_url with Alipay's signed return parameters, as Alipay's own
    # cashier moves on.
    return jsonify(trade_status=trade.status, state=_state(trade), next=return_link(trade))


@bp.get("/qr/<token>")
def qr_frame(token: str):
    trade = _trade(token)
    mode = trade.qr_pay_mode if trade.qr_pay_mode in trades.FRAME_QR_MODES else "0"
    size = trade.qrcode_width if mode == "4" else QR_SIZE[mode]
    width, height = FRAME_SIZES.get(mode, (size, size))
    response = Response(render_template(
        "simulators/alipay/qr.html", trade=trade, mode=mode, size=size,
        frame_width=width, frame_height=height, state=_state(trade),
        qr=_qr_data_uri(cashier_link(trade.token), size),
        # The line beside or under the code only where the frame has room for
        # it: modes 3 and 4 frames are the code's own square.
        caption=mode in ("0", "1")))
    response.headers["Content-Security-Policy"] = FRAME_CSP
    return response
