"""``flask --app wsgi refunds …``: refunds for people who run the service
without writing code.

    refunds create APP_ID BILL_NO AMOUNT_YUAN [--refund-no N] [--approval] [--test]
    refunds approve APP_ID ID… [--test]
    refunds deny APP_ID ID… --reason "…" [--test]
    refunds list APP_ID [--bill-no N] [--pending] [--json] [--test]
    refunds show APP_ID ID [--json] [--test]

Amounts are typed in yuan (``12.5``, ``0.01``) and converted once, exactly,
by ``checkout.money.decimal_to_minor`` (a third decimal place is refused,
never rounded). create/approve/deny go through the refund service
(``checkout.sandbox.refunds``) with the same rules and result codes as
``POST``/``PUT /2/rest/refund``; each line says what happened and, for a
refusal, what its result code means.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from .. import merchants, money
from ..clock import now_ms
from ..models import Refund
from ..sandbox import refund_queries, refunds
from ..sandbox.bills import RESULT_MSG
from .db import require_migrated

group = AppGroup("refunds", help="Refund paid bills, approve or deny pre-refunds, list them "
                                 "(seed 001 §3, §4, §7).", callback=require_migrated)

CHINA = ZoneInfo("Asia/Shanghai")
REFUND_NO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# What each result code means for the person at the terminal (seed 001 §2, §3).
MEANING = {
    1: "the app is not valid",
    3: "this channel cannot be refunded here",
    4: "a required value is missing",
    5: "a value is not valid",
    7: "the channel refused",
    8: "no bill with this bill_no for this app (in this mode)",
    9: "the bill has not been paid (or was reverted), so there is nothing to refund",
    10: "the refund window of this channel has passed",
    11: "another refund of this bill is still in progress; wait until it finishes",
    12: "more than what is left to refund of what the shopper paid",
    13: "no such refund, or it is not a pre-refund awaiting approval",
    14: "internal error; try again",
}
STATUS_TEXT = {
    Refund.PENDING_APPROVAL: "awaiting approval",
    Refund.PROCESSING: "sent to the channel, not finished yet",
    Refund.SUCCESS: "succeeded",
    Refund.FAILED: "failed",
    Refund.DENIED: "denied",
}


def _merchant(app_id: str):
    merchant = merchants.get_merchant(app_id)
    if merchant is None:
        raise click.ClickException(f"no merchant with app_id {app_id}")
    return merchant


def explain(code: int, msg: str, detail: str) -> str:
    """``12 REFUND_AMOUNT_TOO_LARGE (more than what is left …): detail``."""
    meaning = MEANING.get(code)
    return f"{code} {msg}" + (f" ({meaning})" if meaning else "") + (f": {detail}" if detail else "")


def _refused(answer: dict) -> click.ClickException:
    return click.ClickException("refused: " + explain(answer["result_code"], answer["result_msg"],
                                                       answer.get("err_detail", "")))


def new_refund_no(now: int) -> str:
    """Today's date in China time + 10 random letters/digits (seed 001 §3:
    yyyyMMdd + 3-24 letters/digits, never the serial 000)."""
    return refunds.china_day(now) + "".join(secrets.choice(REFUND_NO_ALPHABET) for _ in range(10))


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _line(view: dict) -> str:
    """One refund on one line."""
    status = STATUS_TEXT.get(view["status"], view["status"])
    if view["status"] == Refund.DENIED and view.get("deny_reason"):
        status += f" ({view['deny_reason']})"
    kind = "pre-refund" if view["need_approval"] else "refund"
    return (f"{view['id']}  {kind} {view['refund_no']}  bill {view['bill_no']} "
            f"({view['sub_channel']})  {money.format_amount(view['refund_fee'])} of "
            f"{money.format_amount(view['total_fee'])}  {status}  {_when(view['create_time'])}")


def _view(merchant, refund_id: str, test_mode: bool) -> dict | None:
    refund = refund_queries.find_refund(merchant, refund_id, test_mode=test_mode)
    if refund is None:
        return None
    return refund_queries.operator_view(refund, refund_queries.bill_of(refund))


def _mode(test_mode: bool) -> str:
    return " (test mode)" if test_mode else ""


@group.command("create")
@click.argument("app_id")
@click.argument("bill_no")
@click.argument("amount_yuan")
@click.option("--refund-no", help="the merchant's refund number: today's date (yyyyMMdd, China "
                                  "time) + 3-24 letters/digits; made up when not given")
@click.option("--approval", is_flag=True, help="a pre-refund: it waits for `refunds approve`")
@click.option("--test", "test_mode", is_flag=True, help="refund a test-mode (sandbox) bill")
@click.option("--json", "as_json", is_flag=True, help="print the refund as JSON")
def create(app_id, bill_no, amount_yuan, refund_no, approval, test_mode, as_json):
    """Refund AMOUNT_YUAN (e.g. 12.50) of the paid bill BILL_NO."""
    merchant = _merchant(app_id)
    try:
        fee = money.decimal_to_minor(amount_yuan, "CNY")
    except money.MoneyError as error:
        raise click.ClickException(f"AMOUNT_YUAN must be yuan with at most two decimals, "
                                   f"e.g. 12.50 ({error})") from None
    if fee <= 0:
        raise click.ClickException("AMOUNT_YUAN must be more than 0")
    number = refund_no or new_refund_no(now_ms())
    answer = refunds.create_refund(merchant, {"bill_no": bill_no, "refund_no": number,
                                              "refund_fee": fee, "need_approval": approval},
                                   test_mode=test_mode)
    if answer["result_code"] != 0:
        raise _refused(answer)
    view = _view(merchant, answer["id"], test_mode)
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    what = "Pre-refund created; it waits for `refunds approve`" if approval else "Refund created"
    click.echo(f"{what}{_mode(test_mode)}: {money.format_amount(fee)} of bill {bill_no}, "
               f"refund_no {number}.")
    click.echo(_line(view))


def _review(app_id: str, ids: tuple[str, ...], test_mode: bool, *, agree: bool,
            reason: str | None) -> None:
    merchant = _merchant(app_id)
    verb = "approved" if agree else "denied"
    # PUT /2/rest/refund names one channel per batch (seed 001 §4): send the
    # ids in one batch per channel family.
    batches: dict[str, list[str]] = {}
    outcome: dict[str, str] = {}
    for refund_id in dict.fromkeys(ids):
        found = refund_queries.find_refund(merchant, refund_id, test_mode=test_mode)
        if found is None:
            outcome[refund_id] = "not " + verb + ": " + explain(
                13, "NO_SUCH_REFUND", f"no refund with this id for this app{_mode(test_mode)}")
        else:
            batches.setdefault(refund_queries.family(found.channel), []).append(refund_id)
    for family, batch in batches.items():
        fields = {"channel": family, "ids": batch, "agree": agree}
        if reason is not None:
            fields["deny_reason"] = reason
        answer = refunds.review_refunds(merchant, fields, test_mode=test_mode)
        if answer["result_code"] != 0:
            raise _refused(answer)
        for refund_id, result in answer["result_map"].items():
            if result == "OK":
                view = _view(merchant, refund_id, test_mode)
                outcome[refund_id] = f"{verb}; " + (_line(view) if view else "")
            else:
                code_msg, _, detail = result.partition(": ")
                code = next((c for c, m in RESULT_MSG.items() if m == code_msg), None)
                outcome[refund_id] = f"not {verb}: " + (
                    explain(code, code_msg, detail) if code is not None else result)
    failed = 0
    for refund_id in dict.fromkeys(ids):
        click.echo(f"{refund_id}: {outcome[refund_id]}")
        failed += not outcome[refund_id].startswith(verb)
    if failed:
        raise click.ClickException(f"{failed} of {len(outcome)} refunds were not {verb}")


@group.command("approve")
@click.argument("app_id")
@click.argument("ids", nargs=-1, required=True)
@click.option("--test", "test_mode", is_flag=True, help="pre-refunds of test-mode bills")
def approve(app_id, ids, test_mode):
    """Approve pre-refunds (their ids, from `refunds list --pending`)."""
    _review(app_id, ids, test_mode, agree=True, reason=None)


@group.command("deny")
@click.argument("app_id")
@click.argument("ids", nargs=-1, required=True)
@click.option("--reason", required=True, help="why, kept with the refund")
@click.option("--test", "test_mode", is_flag=True, help="pre-refunds of test-mode bills")
def deny(app_id, ids, reason, test_mode):
    """Deny pre-refunds; their refund numbers may be used again."""
    _review(app_id, ids, test_mode, agree=False, reason=reason)


@group.command("list")
@click.argument("app_id")
@click.option("--bill-no", help="only this bill's refunds")
@click.option("--pending", is_flag=True, help="only pre-refunds awaiting approval")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--test", "test_mode", is_flag=True, help="test-mode refunds")
@click.option("--json", "as_json", is_flag=True)
def list_(app_id, bill_no, pending, limit, test_mode, as_json):
    """The app's refunds, newest first."""
    merchant = _merchant(app_id)
    views = [refund_queries.operator_view(refund, bill) for refund, bill in
             refund_queries.operator_list(merchant, test_mode=test_mode, bill_no=bill_no,
                                          pending=pending, limit=limit)]
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=2))
        return
    if not views:
        click.echo("No refunds" + (" awaiting approval" if pending else "")
                   + (f" of bill {bill_no}" if bill_no else "") + _mode(test_mode) + ".")
    for view in views:
        click.echo(_line(view))


@group.command("show")
@click.argument("app_id")
@click.argument("refund_id")
@click.option("--test", "test_mode", is_flag=True, help="a test-mode refund")
@click.option("--json", "as_json", is_flag=True)
def show(app_id, refund_id, test_mode, as_json):
    """One refund, every field."""
    merchant = _merchant(app_id)
    view = _view(merchant, refund_id, test_mode)
    if view is None:
        raise click.ClickException(explain(13, "NO_SUCH_REFUND",
                                           f"no refund {refund_id} for this app{_mode(test_mode)}"))
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    click.echo(_line(view))
    for key, value in view.items():
        if key in ("create_time", "finish_time"):
            value = f"{value} ({_when(value)} China time)" if value else "-"
        click.echo(f"  {key}: {value}")
