"""The demo shop's pages (``checkout.demo``), served when the ``DEMO`` setting
is on or ``flask demo setup`` has made the demo merchant.

    GET  /demo/shop                    products, Buy buttons, webhooks received
    POST /demo/shop/<product>/alipay   ALI_WEB bill via the gateway, its html hand-off
    GET  /demo/return/<out_trade_no>   the merchant's return page
    POST /demo/webhook                 the merchant's webhook receiver (answers success)
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup

from .. import demo, money
from ..gateway import GatewayError, GatewayUnavailable
from . import DEFAULT_CSP, csrf
from .security import inline_script_hashes

bp = Blueprint("demo", __name__)


def _merchant():
    merchant = demo.demo_merchant()
    if merchant is None and current_app.config.get("DEMO"):
        merchant, _created = demo.setup(request.host_url)
    if merchant is None:
        abort(404)
    return merchant


def _checkout_available() -> bool:
    # The hosted checkout (helper "checkout") may not be installed yet.
    return any(rule.rule == "/pay" for rule in current_app.url_map.iter_rules())


@bp.get("/demo/shop")
def shop():
    merchant = _merchant()
    demo.allow_host(merchant, request.host)
    base = request.host_url
    offers = [(item, money.format_amount(item.amount), demo.signed_order(merchant, item, base))
              for item in demo.PRODUCTS]
    return render_template("demo/shop.html", merchant=merchant, offers=offers,
                           checkout=_checkout_available(),
                           webhooks=demo.received_webhooks(merchant), format=money.format_amount)


@bp.post("/demo/shop/<key>/alipay")
def alipay(key):
    merchant = _merchant()
    try:
        item = demo.product(key)
        answer = demo.alipay_bill(merchant, item, request.host_url)
    except demo.DemoError:
        abort(404)
    except (GatewayError, GatewayUnavailable) as error:
        detail = getattr(error, "err_detail", "") or "the payment service did not answer"
        return render_template("demo/problem.html", detail=detail), 502
    html = answer.get("html", "")
    response = current_app.make_response(render_template(
        "demo/handoff.html", html=Markup(html), url=answer.get("url"), item=item,
        amount=money.format_amount(item.amount)))
    response.headers["Content-Security-Policy"] = DEFAULT_CSP.replace(
        "script-src 'self'", f"script-src 'self' {inline_script_hashes(html)}".rstrip())
    return response


@bp.get("/demo/return/<out_trade_no>")
def returned(out_trade_no):
    merchant = _merchant()
    return render_template("demo/return.html", out_trade_no=out_trade_no[:64],
                           webhook=demo.webhook_for(merchant, out_trade_no))


@bp.post("/demo/webhook")
def webhook():
    merchant = _merchant()
    refused = demo.receive_webhook(merchant, request.get_data(cache=False))
    if refused:
        current_app.logger.warning("demo webhook refused: %s", refused)
        return refused, 400, {"Content-Type": "text/plain; charset=utf-8"}
    return "success", 200, {"Content-Type": "text/plain; charset=utf-8"}


csrf.exempt(webhook)
