"""The hosted checkout's pages (issue 3): entry, chooser, hand-off, status, result.

    GET|POST /pay                        entry: BC.click fields (form, query or JSON) -> chooser
    GET  /pay/<order>                    the channel chooser (``?all=1``: ignore instant_channel)
    POST /pay/<order>/start              the shopper's pick (channel, coupon); CSRF bound to the order
    GET  /pay/<order>/channel/<code>     the hand-off to that channel (idempotent: same bill again)
    GET  /pay/<order>/status             {"status": "paid|refunded|pending|failed|closed|expired|unknown"}
    GET  /pay/<order>/return             the result page (asks the gateway), then the merchant
    GET  /pay/<order>/wechat/login       WeChat OAuth (snsapi_base) for WX_JSAPI's openid
    GET  /pay/<order>/wechat/callback    ... and back
    POST /pay/jsapi                      JSON: JSAPI parameters for the button on the merchant's page

``<order>`` is the order's unguessable token: state lives in the database,
not in cookies, so every step also works in a cross-site iframe with
third-party cookies blocked (see ``checkout.web.security``). The entry is
authenticated by the merchant's ``sign``, not by a CSRF token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, jsonify, make_response, redirect,
                   render_template, request, url_for)
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from .. import chooser as choosing
from .. import clock, coupon_offers, devices, handoff, i18n, money, orders, paypal_pay
from ..channels import WECHAT
from ..handoff import ChannelRefused, ChannelUnavailable, NeedsOpenid
from ..inputs import BadInput
from ..merchants import allowed_origins, get_merchant
from ..models import CheckoutOrder, Merchant
from ..orders import OrderRefused
from ..page_cache import PageCache
from . import boundary, wants_json
from .boundary import json_body
from .security import inline_script_hashes, order_csrf_ok, order_csrf_token, page_csp

bp = Blueprint("pay", __name__)
CSRF_EXEMPT = True  # entry: the sign; order pages: order-bound tokens (security.py)
CHOOSER_PAGES = "checkout.chooser_pages"  # app.extensions key: this worker's kept choosers


@bp.record_once
def _keep_choosers(state) -> None:
    state.app.extensions[CHOOSER_PAGES] = PageCache(state.app.config["PAGE_CACHE_SECONDS"])


# OrderRefused.reason -> what the shopper reads.
REFUSALS = {
    "missing": _l("Some order information is missing (%(field)s)."),
    "invalid": _l("Some order information is not valid (%(field)s)."),
    "too_long": _l("Some order information is too long (%(field)s)."),
    "unknown_app": _l("This shop is not known to the payment service."),
    "title_quotes": _l("The order title must not contain quotation marks."),
    "title_long": _l("The order title is too long (at most 16 Chinese or 32 other characters)."),
    "amount_invalid": _l("The order amount must be a whole number of fen greater than 0."),
    "out_trade_no_invalid": _l("The order number may only use letters, digits and "
                               "underscores (at most 64)."),
    "sign_invalid": _l("The order's signature is malformed."),
    "sign_wrong": _l("The order's signature does not match its contents. It may have been "
                     "changed on the way."),
    "return_url_invalid": _l("The shop's return address is not a web address."),
    "return_url_query": _l("The shop's return address must not carry parameters."),
    "return_url_host": _l("The shop's return address is not one of its registered sites."),
    "json_invalid": _l("Some order information is not valid (%(field)s)."),
    "optional_nested": _l("The order's extra information must be a flat list of values."),
    "instant_invalid": _l("The requested payment method is not known."),
    "currency_invalid": _l("The order's currency is not supported."),
    "frame_origin": _l("This page is not allowed to show the checkout."),
    "order_conflict": _l("This order number was already used for another amount or title."),
}

# Why a channel could not be started.
CHANNEL_PROBLEMS = {
    "unavailable": _l("This payment method cannot be reached right now. Nothing was charged. "
                      "Try again in a moment or choose another way to pay."),
    "closed": _l("This payment method's bill has expired or was closed. Please choose another "
                 "way to pay."),
    "expired": _l("The time to pay with this method has run out. Nothing was charged. Please "
                  "choose another way to pay."),
    "refused": _l("This payment method did not accept the order. Nothing was charged. Please "
                  "choose another way to pay."),
    "not_offered": _l("This payment method is not available on this device."),
}


# --- helpers -------------------------------------------------------------------------------

def _fields() -> dict:
    if request.is_json:
        data = json_body()
        if not isinstance(data, dict):
            raise OrderRefused("body", "invalid", "the body must be a JSON object")
        return data
    fields = request.args.to_dict(flat=True)
    fields.update(request.form.to_dict(flat=True))
    return fields


def _device() -> str:
    return devices.device_of(request.headers.get("User-Agent"))


def order_or_404(token: str) -> tuple[CheckoutOrder, Merchant]:
    """The checkout's order and merchant, or the 404 page (every order page).
    The page speaks the order's kept language (``checkout.i18n``), and a
    shopper's ``?lang=`` here is kept on the order."""
    found = orders.find_checkout(token)
    if found is None:
        abort(404)
    lang = request.args.get("lang")
    if lang:
        orders.keep_locale(found[0], lang)
    i18n.use_order_locale(orders.locale_of(found[0]))
    return found


def _loads_in_frame() -> bool:
    # Browsers without Sec-Fetch-Dest are taken at the order's word (_parent).
    return request.headers.get("Sec-Fetch-Dest", "iframe") == "iframe"


def _parent(order: CheckoutOrder) -> str | None:
    """The merchant page framing this checkout, if this page is shown in its
    frame: the order was opened with ``embed`` and the browser says the page
    loads in an iframe (``Sec-Fetch-Dest``). A channel opened in a new window
    is not framed."""
    origin = (order.extra or {}).get("parent_origin")
    return origin if origin and _loads_in_frame() else None


def _page(template: str, order: CheckoutOrder | None, merchant: Merchant | None, *,
          status: int = 200, script_hashes: str = "", frame_src: str = "", **context):
    if order is not None:
        context.setdefault("amount", money.format_amount(coupon_offers.price_to_pay(order),
                                                         order.currency))
        context.setdefault("parent_origin", _parent(order))
        context.setdefault("csrf", order_csrf_token(order.id))
    response = make_response(render_template(template, order=order, merchant=merchant,
                                             chinese=i18n.chinese(), **context), status)
    response.headers["Content-Security-Policy"] = page_csp(
        merchant, script_hashes=script_hashes, frame_src=frame_src)
    # Pages name one checkout: never kept by shared caches or shown from history stale.
    response.headers["Cache-Control"] = "no-store"
    if order is not None:
        # The language may come from the lang cookie (checkout.i18n). Said
        # since the CSRF token stopped reading the session (which made Flask
        # add it), so order pages keep the header they always had.
        response.headers["Vary"] = "Cookie"
    return response


def qr_svg(content: str, *, scale: int = 5) -> Markup:
    """A QR code as inline SVG (segno), so it needs no image request."""
    import segno

    return Markup(segno.make(content, error="m").svg_inline(
        scale=scale, border=2, omitsize=True, title=str(_l("Payment QR code"))))


def qr_image(content: str, *, scale: int = 6) -> Markup:
    """A QR code as a PNG ``<img>`` (a data: URI, allowed by the pages'
    img-src): inside WeChat, "识别图中二维码" (press and hold) reads images
    only, not an inline SVG (issue 15), and needs no script to get one."""
    import segno

    source = segno.make(content, error="m").png_data_uri(scale=scale, border=2)
    return Markup('<img class="pay-qr-image" data-testid="qr-image" src="{}" alt="{}">').format(
        source, _l("Payment QR code"))


def _to_result(order: CheckoutOrder):
    return redirect(url_for("pay.result", token=order.id), 303)


def _to_chooser(order: CheckoutOrder, **args):
    return redirect(url_for("pay.chooser", token=order.id, **args), 303)


# --- entry ----------------------------------------------------------------------------------

def _refusal_text(refused: OrderRefused) -> str:
    return str(REFUSALS.get(refused.reason, REFUSALS["invalid"])) % {"field": refused.field}


@bp.errorhandler(BadInput)
def bad_input(error: BadInput):
    """A value the input boundary refused: on the entry, the entry's own
    refusal (a page the merchant may frame, or ``{"ERROR": …}``)."""
    if request.endpoint == "pay.jsapi":
        return _cors(make_response(jsonify(ERROR=error.message), 400), None)
    if request.endpoint == "pay.entry":
        return refused_order(OrderRefused(error.field, "invalid", error.message))
    return boundary.refused(error)


@bp.route("/pay", methods=["GET", "POST"])
def entry():
    try:
        fields = _fields()
        order = orders.open_order(fields)
    except OrderRefused as refused:
        return refused_order(refused)
    return _to_chooser(order)


def refused_order(refused: OrderRefused):
    if wants_json() or request.is_json:
        # BeeCloud's button reports errors as {"ERROR": …} (seed 003, BC.err).
        return jsonify(ERROR=refused.detail), 400
    # Framable by the merchant named in the request, if any, so the
    # message shows inside the button's modal too.
    merchant = get_merchant(request.values.get("appId") or request.values.get("app_id"))
    return _page("pay/refused.html", None, merchant, status=400,
                 message=_refusal_text(refused), field=refused.field)


# --- chooser --------------------------------------------------------------------------------

@bp.get("/pay/<token>")
def chooser(token):
    pages: PageCache = current_app.extensions[CHOOSER_PAGES]
    key = None
    if pages.enabled:  # (PAGE_CACHE_SECONDS=0: nothing kept, no key to make)
        # Everything of the request the page depends on (see checkout.page_cache).
        key = (token, request.query_string, _device(), i18n.request_locale_key(),
               _loads_in_frame(), request.scheme, request.host, request.root_path)
        kept = pages.get(key, orders.page_stamp(token))
        if kept is not None:
            return Response(kept.body, kept.status, kept.headers)
    order, merchant = order_or_404(token)
    stamp = orders.stamp_of(order, merchant)
    response = _chooser(order, merchant)
    if key is not None and response.status_code == 200 and coupon_offers.buyer_of(order) is None:
        # A buyer's coupons change with time and with payments elsewhere,
        # which no row version here tells: such pages are rendered every time.
        pages.keep(key, stamp, body=response.get_data(), status=response.status_code,
                   headers=list(response.headers))
    return response


def _chooser(order: CheckoutOrder, merchant: Merchant):
    if order.status == "PAID":
        return _to_result(order)
    device = _device()
    choices = choosing.channel_choices(merchant, order, device, framed=bool(_parent(order)))
    notice = request.args.get("notice") if request.args.get("notice") in CHANNEL_PROBLEMS \
        else None
    if order.instant_channel and not request.args.get("all"):
        instant = choosing.instant_choice(choices, order.instant_channel, device)
        if instant is not None and not instant.new_window:
            return redirect(url_for("pay.channel", token=order.id, code=instant.code), 303)
        if instant is None:
            notice = "not_offered"
    offer = coupon_offers.offer_for_order(order, merchant)
    return _page("pay/chooser.html", order, merchant, choices=choices, offer=offer,
                 coupons_locked=bool(order.bills), notice=notice and CHANNEL_PROBLEMS[notice],
                 device=device, format=lambda fen: money.format_amount(fen, order.currency),
                 no_coupon=coupon_offers.NO_COUPON,
                 # only shown (as a QR code) when nothing can be paid here
                 checkout_url=None if choices else request.base_url,
                 qr_for=lambda url: qr_svg(url, scale=3))


@bp.post("/pay/<token>/start")
def start(token):
    order, merchant = order_or_404(token)
    if not order_csrf_ok(order.id, request.form.get("csrf_token")):
        return _page("pay/expired.html", order, merchant, status=400)
    coupon = request.form.get("coupon")
    if coupon and not order.bills:
        # Once a channel holds a bill at a price, the price (coupon) stays.
        coupon_offers.choose_coupon(order, coupon)
    code = request.form.get("channel")
    if not code:
        return _to_chooser(order, all=1)
    return redirect(url_for("pay.channel", token=order.id, code=code), 303)


# --- hand-off -------------------------------------------------------------------------------

def _problem(order, merchant, reason: str, status: int):
    return _page("pay/problem.html", order, merchant, status=status,
                 message=CHANNEL_PROBLEMS[reason], expired=reason == "expired")


@bp.get("/pay/<token>/channel/<code>")
def channel(token, code):
    order, merchant = order_or_404(token)
    if order.status == "PAID":
        return _to_result(order)
    device = _device()
    choices = choosing.channel_choices(merchant, order, device, framed=bool(_parent(order)))
    choice = choosing.find_choice(choices, code)
    if choice is None:
        return _to_chooser(order, all=1, notice="not_offered")
    if choice.guide:
        return _page("pay/ali_guide.html", order, merchant, choice=choice,
                     open_url=url_for("pay.channel", token=order.id, code=code, _external=True))
    if code == paypal_pay.PAYPAL_CREDITCARD:
        return redirect(url_for("paypal_checkout.card_form", token=order.id), 303)
    if code == paypal_pay.PAYPAL_PAYPAL:
        try:
            return redirect(paypal_pay.start_paypal(merchant, order), 303)
        except paypal_pay.PaymentProblem as problem:
            if problem.reason == "already_paid":
                return _to_result(order)
            return _problem(order, merchant, "unavailable" if problem.reason == "unavailable"
                            else "refused", 502)
    try:
        found = handoff.start_channel(order, merchant, code, client_ip=request.remote_addr)
    except NeedsOpenid:
        return redirect(url_for("pay.wechat_login", token=order.id), 303)
    except ChannelUnavailable:
        return _problem(order, merchant, "unavailable", 503)
    except ChannelRefused as refused:
        if refused.reason == "already_paid":
            return _to_result(order)
        return _problem(order, merchant, refused.reason, 409)
    return _render_handoff(order, merchant, choice, found, device)


def _render_handoff(order, merchant, choice, found: handoff.Handoff, device: str):
    name = choice.name(i18n.chinese())
    if found.kind == "url":
        return redirect(found.url, 303)
    if found.kind == "html":
        return _page("pay/handoff_form.html", order, merchant, channel_name=name,
                     form_html=Markup(found.html), form_id=_form_id(found.html),
                     script_hashes=inline_script_hashes(found.html))
    if found.kind == "qr":
        return _page("pay/qr.html", order, merchant, channel_name=name, choice=choice,
                     qr_svg=qr_image(found.qr_content) if device == WECHAT
                     else qr_svg(found.qr_content), in_wechat=device == WECHAT,
                     **_qr_lifetime(order, found))
    if found.kind == "alipay_qr":
        parts = urlsplit(found.url)
        return _page("pay/alipay_qr.html", order, merchant, channel_name=name,
                     frame_url=found.url, frame_size=found.frame_size,
                     frame_src=f"{parts.scheme}://{parts.netloc}", **_qr_lifetime(order, found))
    if found.kind == "jsapi":
        return _page("pay/jsapi.html", order, merchant, channel_name=name,
                     jsapi=found.jsapi)
    abort(404)  # pragma: no cover - start_channel knows no other kinds


def _qr_lifetime(order: CheckoutOrder, found: handoff.Handoff) -> dict:
    """A QR page's countdown (on the server's clock: ``served_at``) and, once
    its code has expired, the way to a new one: this channel's hand-off
    again, which opens the channel's next bill for the order (issue 15)."""
    return {"expires_at": found.expires_at, "lifetime_minutes": handoff.QR_LIFETIME_MINUTES,
            "served_at": clock.now_ms(),
            "refresh_url": url_for("pay.channel", token=order.id, code=found.channel.code)}


def _form_id(html: str) -> str | None:
    import re

    match = re.search(r'<form[^>]*\bid="([^"]+)"', html)
    return match.group(1) if match else None


# --- status and result -----------------------------------------------------------------------

@bp.get("/pay/<token>/status")
def status(token):
    order, merchant = order_or_404(token)
    response = jsonify(status=handoff.order_state(order, merchant).status)
    response.headers["Cache-Control"] = "no-store"
    return response


# A pending result page refreshes itself this many times (every 5 s without
# scripts; scripts poll with back-off for about as long) before saying so.
PENDING_CHECKS = 12


@bp.get("/pay/<token>/return")
def result(token):
    order, merchant = order_or_404(token)
    state = handoff.order_state(order, merchant)
    try:
        checks = max(0, min(int(request.args.get("n", 0)), PENDING_CHECKS))
    except ValueError:
        checks = 0
    wx = request.args.get("wx") if request.args.get("wx") in ("ok", "cancel", "fail") else None
    # The shopper gave up at the channel (the JSAPI page's cancel, or a
    # cashier's ``cancelled=1``): only what the page says while the bill is
    # still open; the status itself always comes from the gateway.
    cancelled = wx == "cancel" or request.args.get("cancelled") == "1"
    waiting = request.args.get("waiting") == "1"
    # No self-reload (<meta refresh>, WCAG 2.2.1): scripts poll the status;
    # without them the shopper presses "Check again", counted so that after a
    # while the page stops promising an answer.
    check_url = url_for("pay.result", token=order.id, n=min(checks + 1, PENDING_CHECKS),
                        **({"waiting": 1} if waiting else {}))
    bc_result = "cancelled" if state.status == "pending" and cancelled else state.status
    if state.status == "refunded":
        # The refunded share in the order's own currency (checkout.money).
        refunds = {"refunded_amount": money.format_amount(state.refunded_fee, order.currency),
                   "paid_amount": money.format_amount(state.paid_fee, order.currency)}
    else:
        refunds = {}
    return _page("pay/result.html", order, merchant, state=state, checks=checks, **refunds,
                 max_checks=PENDING_CHECKS, cancelled=cancelled, waiting=waiting,
                 check_url=check_url, bc_result=bc_result if bc_result != "unknown"
                 else "pending")


# --- WeChat OAuth (snsapi_base) for WX_JSAPI -----------------------------------------------------

@bp.get("/pay/<token>/wechat/login")
def wechat_login(token):
    from .. import wechat

    order, merchant = order_or_404(token)
    if order.openid:
        return redirect(url_for("pay.channel", token=order.id, code="WX_JSAPI"), 303)
    try:
        appid, _secret = wechat.oauth_credentials(merchant)
    except wechat.OAuthUnavailable:
        return _wechat_problem(order, merchant, "unavailable")
    back = url_for("pay.wechat_callback", token=order.id, _external=True)
    return redirect(wechat.authorize_url(appid, back, wechat.make_state(order.id)), 302)


@bp.get("/pay/<token>/wechat/callback")
def wechat_callback(token):
    from .. import wechat

    order, merchant = order_or_404(token)
    if not wechat.check_state(request.args.get("state", ""), order.id):
        return _wechat_problem(order, merchant, "state")
    code = request.args.get("code")
    if not code:
        return _wechat_problem(order, merchant, "refused")
    try:
        appid, secret = wechat.oauth_credentials(merchant)
        openid = wechat.exchange_code(appid, secret, code)
    except wechat.OAuthUnavailable:
        return _wechat_problem(order, merchant, "unavailable")
    except wechat.OAuthFailed as failed:
        return _wechat_problem(order, merchant, failed.reason)
    orders.set_openid(order, openid)
    return redirect(url_for("pay.channel", token=order.id, code="WX_JSAPI"), 303)


WECHAT_PROBLEMS = {
    "refused": _l("WeChat did not share your identity with the shop, so WeChat Pay cannot "
                  "start here."),
    "state": _l("The WeChat sign-in did not belong to this payment. Please try again."),
    "bad_code": _l("The WeChat sign-in has expired. Please try again."),
    "wechat_error": _l("WeChat could not confirm your identity. Please try again."),
    "unreachable": _l("WeChat cannot be reached right now. Please try again in a moment."),
    "unavailable": _l("This shop has not set up WeChat Pay inside WeChat."),
}


def _wechat_problem(order, merchant, reason: str):
    offers_qr = "WX_NATIVE" in merchant.channels
    return _page("pay/wechat_problem.html", order, merchant, status=400,
                 message=WECHAT_PROBLEMS.get(reason, WECHAT_PROBLEMS["wechat_error"]),
                 offers_qr=offers_qr)


# --- the button's JSAPI call on the merchant's own page ---------------------------------------------

def _cors(response, merchant: Merchant | None):
    origin = request.headers.get("Origin")
    if merchant is not None and origin and origin.lower() in allowed_origins(merchant):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/pay/jsapi", methods=["OPTIONS"])
def jsapi_preflight():
    # A preflight carries no body, so it cannot name the merchant. It only
    # lets the browser send the POST (which the merchant's sign authenticates);
    # whether a page may READ the answer is decided by the POST's own
    # Access-Control-Allow-Origin, limited to that merchant's origins.
    origin = request.headers.get("Origin") or ""
    response = make_response("", 204)
    if origin.startswith(("https://", "http://")):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


@bp.post("/pay/jsapi")
def jsapi():
    data = json_body()
    merchant = get_merchant((data or {}).get("appId") or (data or {}).get("app_id")) \
        if isinstance(data, dict) else None
    try:
        if not isinstance(data, dict):
            raise OrderRefused("body", "invalid", "the body must be a JSON object")
        if not data.get("openid"):
            raise OrderRefused("openid", "missing", "openid is required for WeChat JSAPI")
        order = orders.open_order(data)
        if "WX_JSAPI" not in merchant.channels:
            raise OrderRefused("channel", "not_enabled", "this shop does not accept WeChat Pay "
                                                         "(WX_JSAPI)")
        found = handoff.start_channel(order, merchant, "WX_JSAPI")
    except OrderRefused as refused:
        return _cors(make_response(jsonify(ERROR=refused.detail), 400), merchant)
    except ChannelUnavailable:
        return _cors(make_response(jsonify(ERROR="the payment service is unavailable; "
                                                 "nothing was charged"), 503), merchant)
    except ChannelRefused as refused:
        message = {"already_paid": "this order has already been paid",
                   "closed": "this order's WeChat bill is closed"}.get(
            refused.reason, "WeChat Pay refused this order")
        return _cors(make_response(jsonify(ERROR=message), 409), merchant)
    body = {**found.jsapi, "order": order.id,
            "result_url": url_for("pay.result", token=order.id, _external=True)}
    return _cors(make_response(jsonify(body), 200), merchant)
