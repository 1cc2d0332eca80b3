"""The simulated PayPal (sandbox only): where a PAYPAL_PAYPAL bill's ``url``
leads (``checkout.sandbox.international.paypal_url``).

    GET  /sandbox/paypal/<token>           log in to PayPal (SANDBOX)
    POST /sandbox/paypal/<token>/login     review the payment
    POST /sandbox/paypal/<token>/approve   pay, back to return_url?bill_no=…&result=approved
    POST /sandbox/paypal/<token>/cancel    back to return_url?bill_no=…&result=cancle

The log-in accepts any e-mail and password: it stands for the buyer's PayPal
account, which the sandbox does not have. Forms carry Flask-WTF's CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from .. import money
from ..merchants import get_merchant
from ..models import Bill
from ..sandbox import international

bp = Blueprint("paypal_sim", __name__)

SANDBOX_BUYER = "buyer@sandbox.example.com"


def _bill(token: str) -> Bill:
    bill = international.bill_for_approval(token)
    if bill is None:
        abort(404)
    return bill


def _page(template: str, bill: Bill, **context):
    merchant = get_merchant(bill.app_id)
    return render_template(
        template, bill=bill, token=bill.cashier_token,
        merchant_name=merchant.name if merchant else "",
        amount=money.format_amount(bill.total_fee, bill.currency), currency=bill.currency,
        cancel_url=international.return_url_for(bill, international.RESULT_CANCELLED),
        **context)


@bp.get("/sandbox/paypal/<token>")
def login_page(token):
    bill = _bill(token)
    if bill.status != Bill.OPEN:
        return _page("sandbox/paypal_done.html", bill)
    return _page("sandbox/paypal_login.html", bill, email=SANDBOX_BUYER)


@bp.post("/sandbox/paypal/<token>/login")
def log_in(token):
    bill = _bill(token)
    if bill.status != Bill.OPEN:
        return _page("sandbox/paypal_done.html", bill)
    email = (request.form.get("email") or "").strip()[:254]
    if "@" not in email or not request.form.get("password"):
        return _page("sandbox/paypal_login.html", bill, email=email, error=True), 400
    return _page("sandbox/paypal_review.html", bill, email=email)


@bp.post("/sandbox/paypal/<token>/approve")
def approve(token):
    bill = _bill(token)
    if bill.status != Bill.OPEN:
        return _page("sandbox/paypal_done.html", bill)
    back = international.approve(bill)
    return redirect(back, 303) if back else _page("sandbox/paypal_done.html", bill)


@bp.post("/sandbox/paypal/<token>/cancel")
def cancel(token):
    bill = _bill(token)
    back = international.cancel(bill)
    return redirect(back, 303) if back else _page("sandbox/paypal_done.html", bill,
                                                  cancelled=True)
