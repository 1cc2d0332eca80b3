"""PayPal pages of the hosted checkout (issue 5 item 2).

    POST /pay/<order_token>/paypal      open the PayPal bill, go to PayPal's approval page
    GET  /pay/<order_token>/paypal/return  back from PayPal: the result page (cancelled or not)
    GET  /pay/<order_token>/card        the card form (and the buyer's saved cards)
    POST /pay/<order_token>/card        pay by card
    POST /pay/<order_token>/saved-card  pay in one tap with a saved card (field ``card``)

Thin views: read the form, call ``checkout.paypal_pay``, render
``templates/paypal/*``. Success goes to the checkout's result page
``/pay/<order_token>/return``, which asks the gateway for the real status.
A card number or CVV is never put back into a page: after an error the
shopper types them again.

After too many failed card attempts (``checkout.card_attempts``) both card
views answer 429 with ``paypal/too_many_attempts.html``: when card payments
open again, and the ways to pay that are still open. The shopper's IP is
``request.remote_addr``, which ``PROXY_HOPS`` (ProxyFix) makes the real one.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from .. import money, paypal_pay
from ..models import CheckoutOrder
from ..paypal_pay import PaymentProblem
from .pay import order_or_404

bp = Blueprint("paypal_checkout", __name__)

# What went wrong, in the shopper's words (``PaymentProblem.reason``).
REASONS = {
    "card": _l("Please check the card details below."),
    "declined": _l("Your card was declined. Nothing was charged. Try another card or "
                   "another way to pay."),
    "unavailable": _l("PayPal cannot be reached right now. Nothing was charged. Try again in "
                      "a moment or choose another way to pay."),
    "already_paid": _l("This order has already been paid."),
    "currency": _l("PayPal does not accept this order's currency."),
    "unknown_card": _l("That saved card is not available. Enter the card details instead."),
    "refused": _l("The payment was not accepted. Nothing was charged."),
}

# Card rule (``checkout.cards.Problem.code``) -> what to tell the shopper.
FIELD_MESSAGES = {
    "number_missing": _l("Enter the card number."),
    "number_format": _l("Enter the full card number."),
    "number_length": _l("Enter the full card number."),
    "number_brand": _l("We accept Visa, Mastercard, Discover and American Express."),
    "number_luhn": _l("This card number looks mistyped. Check it and try again."),
    "expiry_missing": _l("Enter the expiry date as MM / YY."),
    "expiry_month": _l("Enter the expiry date as MM / YY."),
    "expiry_year": _l("Enter the expiry date as MM / YY."),
    "expired": _l("This card has expired."),
    "cvv_missing": _l("Enter the 3-digit security code from the back of the card."),
    "cvv_format": _l("Enter the 3-digit security code from the back of the card."),
    "cvv_format_amex": _l("Enter the 4-digit security code from the front of the card."),
    "first_name_missing": _l("Enter the name on the card: first and last name."),
    "last_name_missing": _l("Enter the name on the card: first and last name."),
    "first_name_long": _l("The name is too long."),
    "last_name_long": _l("The name is too long."),
}
# Card rule field -> the form input it is shown under.
FORM_FIELDS = {"card_number": "cc_number", "expiry": "cc_exp", "cvv": "cc_csc",
               "first_name": "cc_name", "last_name": "cc_name", "card_type": "cc_number",
               "credit_card_info": "cc_number"}


def _result_page(order: CheckoutOrder):
    return redirect(f"/pay/{order.id}/return", 303)


def _too_many_attempts_page(order, merchant, problem: PaymentProblem):
    response = render_template(
        "paypal/too_many_attempts.html", order=order, merchant=merchant,
        amount=money.format_amount(order.amount, order.currency),
        minutes=problem.retry_minutes,
        paypal_offered="PAYPAL_PAYPAL" in paypal_pay.offered_channels(merchant, order))
    return response, 429, {"Retry-After": str(problem.retry_after)}


def _card_page(order, merchant, *, problem: PaymentProblem | None = None, form=None,
               status: int = 200):
    errors: dict[str, str] = {}
    for item in (problem.problems if problem else []):
        errors.setdefault(FORM_FIELDS.get(item.field, "cc_number"),
                          str(FIELD_MESSAGES.get(item.code, REASONS["card"])))
    form = form or {}
    return render_template(
        "paypal/card.html", order=order, merchant=merchant,
        amount=money.format_amount(order.amount, order.currency),
        saved_cards=[(card.id, paypal_pay.card_label(card))
                     for card in paypal_pay.saved_cards(merchant, order.buyer_id)],
        can_save=bool(order.buyer_id), errors=errors,
        message=str(REASONS.get(problem.reason, REASONS["refused"])) if problem else None,
        # Only what is safe to show again: never the number or the CVV.
        kept={"cc_name": (form.get("cc_name") or "")[:130],
              "cc_exp": (form.get("cc_exp") or "")[:9]},
        paypal_offered="PAYPAL_PAYPAL" in paypal_pay.offered_channels(merchant, order),
    ), status


@bp.post("/pay/<token>/paypal")
def start_paypal(token):
    order, merchant = order_or_404(token)
    try:
        return redirect(paypal_pay.start_paypal(merchant, order), 303)
    except PaymentProblem as problem:
        if problem.reason == "already_paid":
            return _result_page(order)
        return render_template("paypal/problem.html", order=order,
                               message=str(REASONS.get(problem.reason, REASONS["refused"]))), 502


@bp.get("/pay/<token>/paypal/return")
def paypal_return(token):
    """PayPal's way back (``paypal_pay.return_url``). A Cancel (``result=cancle``)
    goes to the result page worded "Payment cancelled" with "choose how to pay"
    (``?cancelled=1``, which words the page only while the bill is still open:
    issue 15, Cancel used to read "Checking your payment… do not pay again");
    anything else goes to the plain result page, which asks the gateway."""
    order, _merchant = order_or_404(token)
    if paypal_pay.shopper_cancelled(request.args.get("result")):
        return redirect(url_for("pay.result", token=order.id, cancelled=1), 303)
    return _result_page(order)


@bp.get("/pay/<token>/card")
def card_form(token):
    order, merchant = order_or_404(token)
    if not paypal_pay.accepts_currency(order.currency):
        abort(404)
    try:
        paypal_pay.check_card_attempts(merchant, order, request.remote_addr)
    except PaymentProblem as problem:
        return _too_many_attempts_page(order, merchant, problem)
    return _card_page(order, merchant)


@bp.post("/pay/<token>/card")
def pay_by_card(token):
    order, merchant = order_or_404(token)
    form = request.form
    try:
        paypal_pay.pay_by_card(merchant, order, form, save=form.get("save_card") == "1",
                               client_ip=request.remote_addr)
    except PaymentProblem as problem:
        if problem.reason == "already_paid":
            return _result_page(order)
        if problem.reason == "too_many_attempts":
            return _too_many_attempts_page(order, merchant, problem)
        return _card_page(order, merchant, problem=problem, form=form,
                          status=422 if problem.reason == "card" else 402)
    return _result_page(order)


@bp.post("/pay/<token>/saved-card")
def pay_by_saved_card(token):
    order, merchant = order_or_404(token)
    try:
        paypal_pay.pay_by_saved_card(merchant, order, request.form.get("card"))
    except PaymentProblem as problem:
        if problem.reason == "already_paid":
            return _result_page(order)
        return _card_page(order, merchant, problem=problem, status=402)
    return _result_page(order)

