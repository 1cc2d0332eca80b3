"""Reading refunds in the embedded gateway (seed 001 §7-§10; seed 003 lines
1052-1170): the refund list, its count, one refund by id, and a refund's
status for the channels without refund notifications.

- ``query_refunds``: ``GET /2/rest/refunds?para=…``, newest first, every
  documented filter ANDed: ``channel`` (a family such as WX, or one sub
  channel), ``bill_no``, ``refund_no``, ``start_time``/``end_time``,
  ``need_approval``, ``need_detail``, ``skip``/``limit`` (≤ 50).
- ``count_refunds``: ``GET /2/rest/refunds/count?para=…``, the same filters.
- ``get_refund``: ``GET /2/rest/refund/{id}``, 13 NO_SUCH_REFUND when the id
  names no refund of this app and mode.
- ``refund_status``: ``GET /2/rest/refund/status``, ``channel`` (only WX,
  YEE, KUAIQIAN, BD) and ``refund_no`` required.

Rule choices where the documents are loose, written down here:

- ``start_time``/``end_time`` filter on the REFUND's ``create_time``. Seed 001
  §7 note 2 says "订单生成的时间" (the order's creation time), a sentence
  copied from the bill query: a refund list filtered by when its bill was
  created would make "refunds made today" impossible to ask for, and the
  refund's ``create_time`` is the only time the answer carries.
- ``refund_status`` (seed 001 §9 names the field, not its values) answers
  WeChat Pay's refund-query vocabulary, the first channel §9 names and the one
  BeeCloud passed through: ``SUCCESS``, ``PROCESSING`` (sent, not finished),
  ``FAIL``. A refund that never reached the channel says so with our own
  words: ``PENDING_APPROVAL`` (a pre-refund awaiting ``PUT /2/rest/refund``)
  and ``DENIED``.
- ``finish`` is true for a refund that succeeded, failed or was denied;
  ``result`` only for one that succeeded.

Every function answers the exact BeeCloud map; nothing here reads
``flask.request``.
"""

from __future__ import annotations

from sqlalchemy import func

from .. import channels as catalogue
from ..db import db
from ..models import Bill, Merchant, Refund
from .bills import (MISS_PARAM, OK, PARAM_INVALID, CHANNEL_INVALID, Refused, _json_text,
                    _shown, answer, bool_filter, channel_filter, page_filters, text_filter,
                    time_window)

NO_SUCH_REFUND = 13  # seed 001 §3
# Seed 001 §9: "目前只支持WX、YEE、KUAIQIAN、BD" (the channels whose refunds send
# no notification, so a merchant asks).
STATUS_CHANNELS = ("WX", "YEE", "KUAIQIAN", "BD")
REFUND_STATUS = {
    Refund.SUCCESS: "SUCCESS",
    Refund.PROCESSING: "PROCESSING",
    Refund.FAILED: "FAIL",
    Refund.PENDING_APPROVAL: "PENDING_APPROVAL",
    Refund.DENIED: "DENIED",
}
MAX_ID_LENGTH = 36  # a refund id is a UUID


def family(sub_channel: str) -> str:
    """The channel family (``channel`` on the wire) of a sub channel."""
    known = catalogue.CHANNELS.get(sub_channel)
    return known.family if known is not None else sub_channel.split("_")[0]


def refund_to_wire(refund: Refund, bill: Bill, *, need_detail: bool = True) -> dict:
    """Every documented field of a refund, in seed 001 §7's order (§10 lists
    the same fields). ``total_fee`` is what the bill's payer paid (seed 003
    line 1078: "实付金额"), ``title`` the bill's."""
    wire = {
        "id": refund.id,
        "bill_no": refund.bill_no,
        "refund_no": refund.refund_no,
        "total_fee": bill.total_fee,
        "refund_fee": refund.refund_fee,
        "title": bill.title,
        "channel": family(refund.channel),
        "sub_channel": refund.channel,
        "finish": refund.finished,
        "result": refund.status == Refund.SUCCESS,
        "optional": _json_text(refund.optional),
    }
    if need_detail:
        wire["message_detail"] = (_json_text(refund.message_detail)
                                  if refund.message_detail else "")
    wire["create_time"] = refund.create_time
    return wire


def _filtered(statement, merchant: Merchant, filters: dict, test_mode: bool):
    """Seed 001 §7/§8's filters, all ANDed."""
    statement = statement.where(Refund.app_id == merchant.app_id,
                                Refund.test_mode == test_mode)
    codes = channel_filter(filters)
    if codes is not None:
        statement = statement.where(Refund.channel.in_(codes))
    for name, column in (("bill_no", Refund.bill_no), ("refund_no", Refund.refund_no)):
        value = text_filter(filters, name)
        if value is not None:
            statement = statement.where(column == value)
    approval = bool_filter(filters, "need_approval")
    if approval is not None:
        statement = statement.where(Refund.need_approval == approval)
    return time_window(statement, filters, Refund.create_time)


def query_refunds(merchant: Merchant, filters: dict, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/refunds?para=…``: ``{"refunds": [...]}``, newest first."""
    try:
        skip, limit, need_detail = page_filters(filters)
        statement = _filtered(db.select(Refund, Bill).join(Bill, Bill.id == Refund.bill_id),
                              merchant, filters, test_mode)
    except Refused as refused:
        return refused.answer()
    rows = db.session.execute(
        statement.order_by(Refund.create_time.desc(), Refund.id.desc())
        .offset(skip).limit(limit)).all()
    return answer(OK, refunds=[refund_to_wire(refund, bill, need_detail=need_detail)
                               for refund, bill in rows])


def count_refunds(merchant: Merchant, filters: dict, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/refunds/count?para=…``: ``{"count": n}``."""
    try:
        if not isinstance(filters, dict):
            raise Refused(PARAM_INVALID, "para must be a JSON object")
        statement = _filtered(db.select(func.count()).select_from(Refund), merchant, filters,
                              test_mode)
    except Refused as refused:
        return refused.answer()
    return answer(OK, count=int(db.session.execute(statement).scalar_one()))


def _no_such(what: str, test_mode: bool) -> Refused:
    return Refused(NO_SUCH_REFUND, f"no refund with {what} for this app"
                   + (" in test mode" if test_mode else ""))


def _bill_of(refund: Refund) -> Bill:
    bill = db.session.get(Bill, refund.bill_id)
    if bill is None:  # pragma: no cover - a refund is only ever made for a bill
        raise Refused(14, "the refund's bill is missing")
    return bill


def find_refund(merchant: Merchant, refund_id, *, test_mode: bool = False) -> Refund | None:
    """The merchant's refund with this id in this mode, or None (any odd id
    names nothing rather than failing)."""
    if not isinstance(refund_id, str) or not 0 < len(refund_id) <= MAX_ID_LENGTH \
            or "\x00" in refund_id:
        return None
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.app_id != merchant.app_id or refund.test_mode != test_mode:
        return None
    return refund


def get_refund(merchant: Merchant, refund_id, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/refund/{id}``: ``{"refund": {…}}`` (with message_detail)."""
    refund = find_refund(merchant, refund_id, test_mode=test_mode)
    if refund is None:
        return _no_such(f"id {_shown(refund_id)}", test_mode).answer()
    try:
        return answer(OK, refund=refund_to_wire(refund, _bill_of(refund)))
    except Refused as refused:  # pragma: no cover
        return refused.answer()


def refund_status(merchant: Merchant, fields: dict, *, test_mode: bool = False) -> dict:
    """``GET /2/rest/refund/status?para=…``: ``{"refund_status": "SUCCESS"}``.
    Seed 003 line 1107's ``bill_update_flag`` is accepted and has nothing to
    do: a bill's refunded amount here is always up to date."""
    try:
        if not isinstance(fields, dict):
            raise Refused(PARAM_INVALID, "para must be a JSON object")
        channel = fields.get("channel")
        if channel in (None, ""):
            raise Refused(MISS_PARAM, "channel is required: one of " + ", ".join(STATUS_CHANNELS))
        if channel not in STATUS_CHANNELS:
            raise Refused(CHANNEL_INVALID, f"channel {_shown(channel)} cannot be asked: the "
                                           "refund status is only for "
                                           + ", ".join(STATUS_CHANNELS)
                                           + " (the others notify by webhook)")
        refund_no = text_filter(fields, "refund_no")
        if refund_no is None:
            raise Refused(MISS_PARAM, "refund_no is required")
        refund = db.session.execute(
            db.select(Refund).where(Refund.app_id == merchant.app_id,
                                    Refund.test_mode == test_mode,
                                    Refund.refund_no == refund_no)).scalar_one_or_none()
        if refund is None or family(refund.channel) != channel:
            raise _no_such(f"refund_no {_shown(refund_no)} in channel {channel}", test_mode)
    except Refused as refused:
        return refused.answer()
    return answer(OK, refund_status=REFUND_STATUS[refund.status])


# --- for operators (``flask --app wsgi refunds list|show``) ---------------------------------

def operator_view(refund: Refund, bill: Bill) -> dict:
    """A refund as the operator CLI shows it: the wire fields, then what the
    wire does not say (our status, whether it is a pre-refund, why denied,
    when it finished)."""
    return {**refund_to_wire(refund, bill), "status": refund.status,
            "need_approval": refund.need_approval, "deny_reason": refund.deny_reason,
            "finish_time": refund.finish_time}


def operator_list(merchant: Merchant, *, test_mode: bool = False, bill_no: str | None = None,
                  pending: bool = False, limit: int = 50) -> list[tuple[Refund, Bill]]:
    """The app's refunds, newest first: of one bill, or only the pre-refunds
    still awaiting approval."""
    statement = db.select(Refund, Bill).join(Bill, Bill.id == Refund.bill_id).where(
        Refund.app_id == merchant.app_id, Refund.test_mode == test_mode)
    if bill_no:
        statement = statement.where(Refund.bill_no == bill_no)
    if pending:
        statement = statement.where(Refund.status == Refund.PENDING_APPROVAL)
    return list(db.session.execute(
        statement.order_by(Refund.create_time.desc(), Refund.id.desc()).limit(limit)).all())


def bill_of(refund: Refund) -> Bill:
    return _bill_of(refund)
