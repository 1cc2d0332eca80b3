"""Refunds, the write side (issue 13; seed 001 §3-§4, seed 000 §6):
``checkout.sandbox.refunds`` and its REST doors (``checkout.web.refund_api``).

The rule under test: several partial refunds of one paid bill, together at
most what was paid (``total_fee``, after any coupon), one in flight at a time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, Refund, WebhookDelivery
from checkout.sandbox import bills, jobs, offline, refunds, settlement

CHINA = ZoneInfo("Asia/Shanghai")
DAY = 24 * 3600 * 1000
_numbers = iter(range(1, 10 ** 6))


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def new_bill_no() -> str:
    return f"B{now_ms()}{next(_numbers):05d}"


def refund_no(now: int | None = None, serial: str | None = None) -> str:
    day = refunds.china_day(now_ms() if now is None else now)
    return day + (serial if serial is not None else f"{next(_numbers):06d}")


def paid_bill(merchant, channel="ALI_WEB", total_fee=100, *, test_mode=True, paid_at=None,
              **extra) -> Bill:
    """A bill paid at the sandbox's simulated cashier (test mode): the refund
    rules are specified on the sandbox; live bills' refunds go to their
    provider (tests/test_live_alipay.py) and appear below only where the
    subject is the live door or the separation of the modes."""
    fields = {"channel": channel, "total_fee": total_fee, "bill_no": new_bill_no(),
              "title": "tea", "return_url": "https://shop.example.com/r", **extra}
    created = bills.create_bill(merchant, fields, test_mode=test_mode)
    assert created["result_code"] == 0, created
    bill = db.session.get(Bill, created["id"])
    assert settlement.mark_paid(bill, now_ms=paid_at)
    return bill


def live_bill(merchant, total_fee=100) -> Bill:
    """An open live ALI_WEB bill of a live merchant (``make_live_merchant``):
    handed off to the Alipay simulator, without any network call."""
    created = bills.create_bill(merchant, {
        "channel": "ALI_WEB", "total_fee": total_fee, "bill_no": new_bill_no(), "title": "tea",
        "return_url": "https://shop.example.com/r"}, test_mode=False)
    assert created["result_code"] == 0, created
    return db.session.get(Bill, created["id"])


def live_paid_bill(pay_at_alipay, merchant, total_fee=100) -> Bill:
    """A live ALI_WEB bill the shopper paid at the Alipay simulator (conftest's
    ``pay_at_alipay``; needs the ``simulator_server``), so that Alipay can refund it."""
    return pay_at_alipay(bills.create_bill(merchant, {
        "channel": "ALI_WEB", "total_fee": total_fee, "bill_no": new_bill_no(), "title": "tea",
        "return_url": "https://shop.example.com/r"}, test_mode=False))


def offline_paid_bill(merchant, channel="ALI_SCAN", total_fee=100) -> Bill:
    auth_code = {"ALI_SCAN": "281234567890123456", "WX_SCAN": "134567890123456789"}[channel]
    created = offline.create_offline_bill(merchant, {
        "channel": channel, "total_fee": total_fee, "bill_no": new_bill_no(), "title": "till",
        "auth_code": auth_code})
    assert created["result_code"] == 0 and created["pay_result"], created
    return db.session.get(Bill, created["id"])


def refund(merchant, bill, fee, *, now=None, **fields) -> dict:
    request = {"refund_no": refund_no(now), "bill_no": bill.bill_no, "refund_fee": fee, **fields}
    return refunds.create_refund(merchant, request, test_mode=bill.test_mode, now=now)


def review(merchant, ids, agree=True, channel="ALI", *, test_mode=True, now=None, **fields):
    return refunds.review_refunds(merchant, {"channel": channel, "ids": ids, "agree": agree,
                                             **fields}, test_mode=test_mode, now=now)


def fresh(row):
    db.session.refresh(row)
    return row


def refund_row(answer: dict) -> Refund:
    assert answer["result_code"] == 0, answer
    return db.session.get(Refund, answer["id"])


def refund_webhooks() -> list[WebhookDelivery]:
    return list(db.session.execute(db.select(WebhookDelivery).where(
        WebhookDelivery.transaction_type == "REFUND")).scalars())


# --- a direct refund ------------------------------------------------------------------------

def test_a_direct_refund_of_an_alipay_bill_succeeds_at_once(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    answer = refund(merchant, bill, 40, optional={"reason": "broken cup"})
    row = refund_row(answer)
    assert (row.status, row.refund_fee, row.optional, row.need_approval) == \
        (Refund.SUCCESS, 40, {"reason": "broken cup"}, False)
    assert row.finish_time is not None
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (40, 0, True)


def test_a_direct_alipay_refund_answers_the_sandbox_refund_page(merchant):
    bill = paid_bill(merchant, "ALI_WEB")
    answer = refund(merchant, bill, 1)
    assert answer["url"].endswith(f"/sandbox/cashier/{bill.cashier_token}")


def test_refunds_of_other_channels_answer_no_url(merchant):
    assert "url" not in refund(merchant, paid_bill(merchant, "UN_WEB"), 1)
    assert "url" not in refund(merchant, paid_bill(merchant, "ALI_WAP"), 1)


def test_partial_refunds_may_sum_exactly_to_the_paid_amount(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    for fee in (30, 45, 25):
        assert refund(merchant, bill, fee)["result_code"] == 0
    assert (fresh(bill).refunded_fee, bill.refunding_fee) == (100, 0)


def test_one_fen_over_what_is_left_is_refused_with_12(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    assert refund(merchant, bill, 60)["result_code"] == 0
    answer = refund(merchant, bill, 41)
    assert answer["result_code"] == 12 and answer["result_msg"] == "REFUND_AMOUNT_TOO_LARGE"
    assert "40 fen left" in answer["err_detail"] and "refunded 60" in answer["err_detail"]
    assert refund(merchant, bill, 40)["result_code"] == 0
    assert refund(merchant, bill, 1)["result_code"] == 12
    assert fresh(bill).refunded_fee == 100


def test_one_refund_of_one_fen_more_than_was_paid_is_refused(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    assert refund(merchant, bill, 101)["result_code"] == 12
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (0, 0, False)
    assert db.session.execute(db.select(Refund)).first() is None


def test_a_coupon_discounted_bill_refunds_what_was_paid_not_the_bill_fee(merchant, give_coupon):
    coupon = give_coupon(merchant, "alice", discount="0.30")
    bill = paid_bill(merchant, "ALI_WEB", 100, coupon_id=coupon.id, buyer_id="alice")
    assert (bill.bill_fee, bill.discount, bill.total_fee) == (100, 30, 70)
    assert refund(merchant, bill, 71)["result_code"] == 12
    assert refund(merchant, bill, 70)["result_code"] == 0
    assert fresh(bill).refunded_fee == 70


def test_a_bill_can_be_named_by_its_channel_family_or_sub_channel(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    assert refund(merchant, bill, 1, channel="ALI")["result_code"] == 0
    assert refund(merchant, bill, 1, channel="ALI_WEB")["result_code"] == 0


# --- result codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", ["refund_no", "bill_no", "refund_fee"])
def test_a_missing_field_answers_4(merchant, missing):
    bill = paid_bill(merchant)
    request = {"refund_no": refund_no(), "bill_no": bill.bill_no, "refund_fee": 1}
    del request[missing]
    answer = refunds.create_refund(merchant, request, test_mode=True)
    assert answer["result_code"] == 4 and missing in answer["err_detail"]


@pytest.mark.parametrize("fee", [0, -1, "1", 1.5, True, 10 ** 11])
def test_a_refund_fee_that_is_not_a_positive_integer_answers_5(merchant, fee):
    answer = refund(merchant, paid_bill(merchant), fee)
    assert answer["result_code"] == 5 and "refund_fee" in answer["err_detail"]


def test_an_unknown_bill_no_answers_8(merchant):
    answer = refunds.create_refund(merchant, {"refund_no": refund_no(), "bill_no": "NOSUCH123",
                                              "refund_fee": 1}, test_mode=True)
    assert answer["result_code"] == 8 and "NOSUCH123" in answer["err_detail"]


def test_a_channel_other_than_the_bills_answers_8(merchant):
    bill = paid_bill(merchant, "ALI_WEB")
    answer = refund(merchant, bill, 1, channel="WX")
    assert answer["result_code"] == 8 and "channel WX" in answer["err_detail"]


def test_an_unknown_channel_answers_3(merchant):
    assert refund(merchant, paid_bill(merchant), 1, channel="ALIPAY")["result_code"] == 3


def test_a_live_bill_is_not_found_in_test_mode(make_live_merchant):
    merchant = make_live_merchant()
    bill = live_bill(merchant)
    assert settlement.mark_paid(bill)
    answer = refunds.create_refund(merchant, {"refund_no": refund_no(), "bill_no": bill.bill_no,
                                              "refund_fee": 1}, test_mode=True)
    assert answer["result_code"] == 8 and "test mode" in answer["err_detail"]


def test_an_unpaid_bill_answers_9(merchant):
    created = bills.create_bill(merchant, {"channel": "ALI_WEB", "total_fee": 100,
                                           "bill_no": "OPEN12345", "title": "tea",
                                           "return_url": "https://shop.example.com/r"},
                               test_mode=True)
    assert created["result_code"] == 0
    answer = refunds.create_refund(merchant, {"refund_no": refund_no(), "bill_no": "OPEN12345",
                                              "refund_fee": 1}, test_mode=True)
    assert answer["result_code"] == 9 and answer["result_msg"] == "BILL_UNSUCCESS"


def test_a_refund_after_the_families_window_answers_10(merchant):
    paid_at = now_ms() - 200 * DAY
    bill = paid_bill(merchant, "ALI_WEB", paid_at=paid_at)
    at_90_days = paid_at + 90 * DAY - 1000
    assert refund(merchant, bill, 1, now=at_90_days)["result_code"] == 0
    answer = refund(merchant, bill, 1, now=paid_at + 90 * DAY + 1000)
    assert answer["result_code"] == 10 and answer["result_msg"] == "REFUND_EXCEED_TIME"
    assert "ALI bills can be refunded for 90 days" in answer["err_detail"]


def test_other_families_have_the_default_window_of_a_year(merchant):
    paid_at = now_ms() - 400 * DAY
    bill = paid_bill(merchant, "UN_WEB", paid_at=paid_at)
    assert refund(merchant, bill, 1, now=paid_at + 364 * DAY)["result_code"] == 0
    assert refund(merchant, bill, 1, now=paid_at + 366 * DAY)["result_code"] == 10


def test_the_windows_are_settings(app, merchant):
    app.config.update(REFUND_WINDOW_DAYS=7, REFUND_WINDOW_DAYS_BY_FAMILY={"UN": 30})
    paid_at = now_ms() - 100 * DAY
    jd = paid_bill(merchant, "JD_WEB", paid_at=paid_at)
    un = paid_bill(merchant, "UN_WEB", paid_at=paid_at)
    assert refund(merchant, jd, 1, now=paid_at + 8 * DAY)["result_code"] == 10
    assert refund(merchant, un, 1, now=paid_at + 8 * DAY)["result_code"] == 0
    assert refund(merchant, un, 1, now=paid_at + 31 * DAY)["result_code"] == 10


def test_the_window_setting_is_read_from_the_environment():
    from checkout import config

    settings = config.from_environment({"REFUND_WINDOW_DAYS_BY_FAMILY": "ali=30, WX=200"})
    assert settings["REFUND_WINDOW_DAYS_BY_FAMILY"] == {"ALI": 30, "WX": 200}
    with pytest.raises(ValueError, match="REFUND_WINDOW_DAYS_BY_FAMILY"):
        config.from_environment({"REFUND_WINDOW_DAYS_BY_FAMILY": "ALI:30"})


def test_a_second_refund_while_one_is_in_flight_answers_11(merchant):
    bill = paid_bill(merchant, "WX_NATIVE", 100)  # WeChat refunds finish later
    first = refund_row(refund(merchant, bill, 10))
    assert first.status == Refund.PROCESSING
    answer = refund(merchant, bill, 10)
    assert answer["result_code"] == 11 and answer["result_msg"] == "ALREADY_REFUNDING"
    assert "10 fen" in answer["err_detail"]


def test_a_pending_pre_refund_holds_the_bill_too(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    assert refund(merchant, bill, 10, need_approval=True)["result_code"] == 0
    assert refund(merchant, bill, 10)["result_code"] == 11


def test_a_refund_no_already_used_answers_5(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    number = refund_no()
    assert refund(merchant, bill, 1, refund_no=number)["result_code"] == 0
    answer = refund(merchant, bill, 1, refund_no=number)
    assert answer["result_code"] == 5 and "already been used" in answer["err_detail"]
    other = paid_bill(merchant, "ALI_WEB", 100)
    assert refund(merchant, other, 1, refund_no=number)["result_code"] == 5


def test_refund_nos_are_per_mode(make_live_merchant):
    merchant = make_live_merchant()
    number = refund_no()
    live = live_bill(merchant)
    assert settlement.mark_paid(live)
    # A pre-refund: recorded here, nothing is sent to Alipay yet.
    assert refund(merchant, live, 1, refund_no=number, need_approval=True)["result_code"] == 0
    test_bill = paid_bill(merchant, test_mode=True)
    assert refund(merchant, test_bill, 1, refund_no=number)["result_code"] == 0


def test_a_denied_refund_no_may_be_submitted_again(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    number = refund_no()
    denied = refund(merchant, bill, 50, refund_no=number, need_approval=True)["id"]
    assert review(merchant, [denied], agree=False)["result_map"] == {denied: "OK"}
    again = refund(merchant, bill, 60, refund_no=number)
    assert again["result_code"] == 0 and again["id"] != denied
    assert refund_row(again).status == Refund.SUCCESS
    assert db.session.get(Refund, denied) is None  # the new request took its place
    assert fresh(bill).refunded_fee == 60


@pytest.mark.parametrize("number, why", [
    ("{yesterday}001", "today's date"),
    ("{tomorrow}001", "today's date"),
    ("{today}000", "000"),
    ("{today}" + "1" * 25, "3 to 24"),
    ("{today}12", "3 to 24"),
    ("{today}12-3", "letters and/or digits"),
    ("{today}１２３", "ASCII"),      # fullwidth digits
    ("{today}٣٤٥", "ASCII"),         # Arabic-Indic digits
    ("{today}退款单", "ASCII"),
    ("２０２６１２０１123", "ASCII"),
    ("2026-12-01123", "ASCII"),
    (20261201123, "ASCII"),
])
def test_refund_no_edge_cases_answer_5(merchant, number, why):
    now = now_ms()
    if isinstance(number, str):
        number = number.format(today=refunds.china_day(now),
                               yesterday=refunds.china_day(now - DAY),
                               tomorrow=refunds.china_day(now + DAY))
    answer = refund(merchant, paid_bill(merchant), 1, refund_no=number, now=now)
    assert answer["result_code"] == 5, answer
    assert why in answer["err_detail"] and "refund_no" in answer["err_detail"]


@pytest.mark.parametrize("serial", ["001", "0000", "A1b", "9" * 24])
def test_refund_no_serials_of_3_to_24_letters_or_digits_are_taken(merchant, serial):
    bill = paid_bill(merchant)
    assert refund(merchant, bill, 1, refund_no=refund_no(serial=serial))["result_code"] == 0


def test_the_refund_date_is_the_business_day_in_china(merchant):
    # 2026-12-01 16:30 UTC is already 2 December, 00:30, in Beijing.
    now = int(datetime(2026, 12, 2, 0, 30, tzinfo=CHINA).timestamp() * 1000)
    bill = paid_bill(merchant, paid_at=now - 3600 * 1000)
    assert refund(merchant, bill, 1, refund_no="20261201001", now=now)["result_code"] == 5
    assert refund(merchant, bill, 1, refund_no="20261202001", now=now)["result_code"] == 0


def test_an_optional_that_is_not_a_flat_object_answers_5(merchant):
    answer = refund(merchant, paid_bill(merchant), 1, optional={"k": {"nested": 1}})
    assert answer["result_code"] == 5 and "optional" in answer["err_detail"]


def test_need_approval_must_be_true_or_false(merchant):
    answer = refund(merchant, paid_bill(merchant), 1, need_approval="yes")
    assert answer["result_code"] == 5 and "need_approval" in answer["err_detail"]


def test_offline_barcode_bills_are_refunded_through_the_offline_api(merchant):
    bill = offline_paid_bill(merchant, "ALI_SCAN")
    answer = refund(merchant, bill, 1)
    assert answer["result_code"] == 3 and "/2/rest/offline/refund" in answer["err_detail"]


# --- pre-refunds: approval and denial -------------------------------------------------------

def test_a_pre_refund_only_records_the_refund(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    answer = refund(merchant, bill, 30, need_approval=True)
    assert "url" not in answer
    row = refund_row(answer)
    assert (row.status, row.need_approval, row.finish_time) == \
        (Refund.PENDING_APPROVAL, True, None)
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (0, 30, False)
    assert refund_webhooks() == []


def test_approving_a_pre_refund_refunds_it(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    pending = refund(merchant, bill, 30, need_approval=True)["id"]
    answer = review(merchant, [pending])
    assert answer["result_code"] == 0 and answer["result_map"] == {pending: "OK"}
    assert answer["url"].endswith(f"/sandbox/cashier/{bill.cashier_token}")  # seed 001 §4, ALI
    assert db.session.get(Refund, pending).status == Refund.SUCCESS
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (30, 0, True)
    assert len(refund_webhooks()) == 1


def test_denying_a_pre_refund_releases_the_bill(merchant):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    pending = refund(merchant, bill, 30, need_approval=True)["id"]
    answer = review(merchant, [pending], agree=False, deny_reason="审核不通过")
    assert answer["result_map"] == {pending: "OK"} and "url" not in answer
    row = db.session.get(Refund, pending)
    assert (row.status, row.deny_reason) == (Refund.DENIED, "审核不通过")
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (0, 0, False)
    assert refund_webhooks() == []
    assert refund(merchant, bill, 100)["result_code"] == 0


def test_an_approval_batch_answers_each_id_its_own_outcome(merchant, make_merchant):
    first, second = paid_bill(merchant, "ALI_WEB"), paid_bill(merchant, "ALI_WAP")
    ok_one = refund(merchant, first, 10, need_approval=True)["id"]
    ok_two = refund(merchant, second, 20, need_approval=True)["id"]
    wechat = refund(merchant, paid_bill(merchant, "WX_NATIVE"), 5, need_approval=True)["id"]
    direct = refund(merchant, paid_bill(merchant, "ALI_WAP"), 5)["id"]
    denied_bill = paid_bill(merchant, "ALI_WEB")
    denied = refund(merchant, denied_bill, 5, need_approval=True)["id"]
    review(merchant, [denied], agree=False)
    stranger = make_merchant("Other Shop")
    theirs = refund(stranger, paid_bill(stranger, "ALI_WEB"), 5, need_approval=True)["id"]

    answer = review(merchant, [ok_one, "no-such-id", wechat, direct, denied, theirs, ok_two,
                               ok_one])
    assert answer["result_code"] == 0
    outcome = answer["result_map"]
    assert outcome[ok_one].startswith("NO_SUCH_REFUND") and "already been approved" in \
        outcome[ok_one]  # the id came twice: the second time it was already approved
    assert outcome[ok_two] == "OK"
    assert outcome["no-such-id"].startswith("NO_SUCH_REFUND: no refund with id 'no-such-id'")
    assert outcome[wechat].startswith("NO_SUCH_REFUND")  # not an ALI refund
    assert outcome[direct].startswith("NO_SUCH_REFUND") and "not a pre-refund" in outcome[direct]
    assert "already been denied" in outcome[denied]
    assert outcome[theirs].startswith("NO_SUCH_REFUND")
    assert db.session.get(Refund, ok_one).status == Refund.SUCCESS
    assert db.session.get(Refund, ok_two).status == Refund.SUCCESS
    assert db.session.get(Refund, wechat).status == Refund.PENDING_APPROVAL
    assert db.session.get(Refund, theirs).status == Refund.PENDING_APPROVAL


def test_a_denial_batch_with_mixed_outcomes(merchant):
    bill_one, bill_two = paid_bill(merchant, "ALI_WEB"), paid_bill(merchant, "ALI_WEB")
    one = refund(merchant, bill_one, 10, need_approval=True)["id"]
    two = refund(merchant, bill_two, 10, need_approval=True)["id"]
    review(merchant, [two])
    answer = review(merchant, [one, two, "missing"], agree=False, deny_reason="no")
    assert answer["result_map"][one] == "OK"
    assert "already been approved" in answer["result_map"][two]
    assert answer["result_map"]["missing"].startswith("NO_SUCH_REFUND")
    assert db.session.get(Refund, two).status == Refund.SUCCESS


def test_an_approval_after_the_window_is_refused_for_that_id(merchant):
    paid_at = now_ms() - 100 * DAY
    bill = paid_bill(merchant, "ALI_WEB", paid_at=paid_at)
    pending = refund(merchant, bill, 10, need_approval=True, now=paid_at + 89 * DAY)["id"]
    answer = review(merchant, [pending], now=paid_at + 91 * DAY)
    assert answer["result_map"][pending].startswith("REFUND_EXCEED_TIME")
    assert db.session.get(Refund, pending).status == Refund.PENDING_APPROVAL


def test_an_approved_wechat_pre_refund_settles_later(merchant):
    bill = paid_bill(merchant, "WX_NATIVE", 100)
    pending = refund(merchant, bill, 10, need_approval=True)["id"]
    now = now_ms()
    answer = review(merchant, [pending], channel="WX", now=now)
    assert answer["result_map"] == {pending: "OK"} and "url" not in answer
    row = db.session.get(Refund, pending)
    assert (row.status, row.settle_at) == (Refund.PROCESSING, now + 5000)
    assert refunds.settle_due(now + 5000) == 1
    assert fresh(row).status == Refund.SUCCESS and fresh(bill).refunded_fee == 10


@pytest.mark.parametrize("fields, code, word", [
    ({"ids": ["x"], "agree": True}, 4, "channel"),
    ({"channel": "ALI", "agree": True}, 4, "ids"),
    ({"channel": "ALI", "ids": ["x"]}, 4, "agree"),
    ({"channel": "ALI", "ids": "x", "agree": True}, 5, "ids"),
    ({"channel": "ALI", "ids": [1], "agree": True}, 5, "ids"),
    ({"channel": "ALI", "ids": ["x"] * 101, "agree": True}, 5, "ids"),
    ({"channel": "ALI", "ids": ["x"], "agree": "true"}, 5, "agree"),
    ({"channel": "NOPE", "ids": ["x"], "agree": True}, 3, "channel"),
    ({"channel": "ALI", "ids": ["x"], "agree": False, "deny_reason": "x" * 300}, 5,
     "deny_reason"),
])
def test_a_malformed_review_is_refused_whole(merchant, fields, code, word):
    answer = refunds.review_refunds(merchant, fields, test_mode=True)
    assert answer["result_code"] == code and word in answer["err_detail"]


def test_test_mode_pre_refunds_are_reviewed_in_test_mode_only(merchant):
    bill = paid_bill(merchant, "ALI_WEB", test_mode=True)
    pending = refund(merchant, bill, 10, need_approval=True)["id"]
    live = review(merchant, [pending], test_mode=False)
    assert live["result_map"][pending].startswith("NO_SUCH_REFUND")
    assert review(merchant, [pending], test_mode=True)["result_map"] == {pending: "OK"}


# --- settlement of asynchronous channels -------------------------------------------------------

@pytest.mark.parametrize("channel", ["WX_NATIVE", "YEE_WEB", "KUAIQIAN_WEB", "BD_WEB"])
def test_channels_without_refund_callbacks_settle_after_the_delay(merchant, channel):
    bill = paid_bill(merchant, channel, 100)
    now = now_ms()
    row = refund_row(refund(merchant, bill, 25, now=now))
    assert (row.status, row.settle_at) == (Refund.PROCESSING, now + 5000)
    assert (fresh(bill).refunded_fee, bill.refunding_fee) == (0, 25)
    assert refunds.settle_due(now + 4999) == 0
    assert refund_webhooks() == []
    assert refunds.settle_due(now + 5000) == 1
    assert fresh(row).status == Refund.SUCCESS and row.finish_time == now + 5000
    assert row.message_detail["tradeSuccess"] is True
    assert (fresh(bill).refunded_fee, bill.refunding_fee, bill.refund_result) == (25, 0, True)
    assert len(refund_webhooks()) == 1
    assert refunds.settle_due(now + 10_000) == 0


@pytest.mark.parametrize("channel", ["ALI_WEB", "UN_WEB", "JD_WEB"])
def test_channels_with_synchronous_refunds_settle_at_once(merchant, channel):
    row = refund_row(refund(merchant, paid_bill(merchant, channel), 1))
    assert row.status == Refund.SUCCESS and row.settle_at == row.create_time


def test_the_delay_is_a_setting(app, merchant):
    app.config["REFUND_SETTLE_SECONDS"] = 60
    now = now_ms()
    row = refund_row(refund(merchant, paid_bill(merchant, "WX_NATIVE"), 1, now=now))
    assert row.settle_at == now + 60_000


def test_the_worker_jobs_settle_refunds(merchant):
    now = now_ms()
    row = refund_row(refund(merchant, paid_bill(merchant, "WX_NATIVE"), 1, now=now))
    jobs.run_due(now=lambda: now + 5000)
    assert fresh(row).status == Refund.SUCCESS


def test_test_mode_refunds_settle_the_same_way(merchant):
    now = now_ms()
    bill = paid_bill(merchant, "WX_NATIVE", test_mode=True)
    row = refund_row(refund(merchant, bill, 1, now=now))
    assert row.status == Refund.PROCESSING and row.test_mode
    assert refunds.settle_due(now + 5000) == 1


def test_racing_workers_settle_each_refund_once(merchant, race):
    now = now_ms()
    rows = [refund_row(refund(merchant, paid_bill(merchant, "WX_NATIVE"), 3, now=now))
            for _ in range(6)]
    settled = race(4, lambda _i: refunds.settle_due(now + 5000))
    assert sum(settled) == 6
    assert all(fresh(row).status == Refund.SUCCESS for row in rows)
    assert len(refund_webhooks()) == 6
    assert all(fresh(db.session.get(Bill, row.bill_id)).refunded_fee == 3 for row in rows)


# --- offline refunds (seed 000 §6) ------------------------------------------------------------

def offline_refund(merchant, bill, fee, **fields):
    return refunds.offline_refund(merchant, {"refund_no": refund_no(), "bill_no": bill.bill_no,
                                             "refund_fee": fee, **fields})


def test_an_offline_alipay_refund_succeeds_at_once(merchant):
    bill = offline_paid_bill(merchant, "ALI_SCAN", 100)
    answer = offline_refund(merchant, bill, 40, channel="ALI", refund_reason="正常退款",
                            operator_id="OP001", store_id="NJ_S_001")
    assert answer["result_code"] == 0 and answer["refund_result"] is True
    row = refund_row(answer)
    assert row.message_detail["refund_reason"] == "正常退款"
    assert row.message_detail["operator_id"] == "OP001"
    assert fresh(bill).refunded_fee == 40


def test_an_offline_wechat_refund_answers_false_until_it_settles(merchant):
    bill = offline_paid_bill(merchant, "WX_SCAN", 100)
    answer = offline_refund(merchant, bill, 100)
    assert answer["result_code"] == 0 and answer["refund_result"] is False
    row = refund_row(answer)
    assert refunds.settle_due(row.settle_at) == 1
    assert fresh(bill).refunded_fee == 100


def test_an_online_bill_is_no_offline_bill(merchant):
    answer = offline_refund(merchant, paid_bill(merchant, "ALI_WEB"), 1)
    assert answer["result_code"] == 8 and "offline" in answer["err_detail"]


@pytest.mark.parametrize("fields, code, word", [
    ({"need_approval": True}, 5, "need_approval"),
    ({"channel": "UN"}, 3, "ALI, WX"),
    ({"refund_reason": "x" * 300}, 5, "refund_reason"),
])
def test_offline_refund_refusals(merchant, fields, code, word):
    answer = offline_refund(merchant, offline_paid_bill(merchant), 1, **fields)
    assert answer["result_code"] == code and word in answer["err_detail"]


def test_a_bill_with_a_refund_in_flight_cannot_be_reverted_and_the_refund_completes(merchant):
    bill = offline_paid_bill(merchant, "WX_SCAN", 100)
    row = refund_row(offline_refund(merchant, bill, 30))
    assert offline.revert_bill(merchant, bill.bill_no, {"method": "REVERT"})["result_code"] == 7
    assert refunds.settle_due(row.settle_at) == 1
    assert fresh(row).status == Refund.SUCCESS
    assert (fresh(bill).status, bill.refunded_fee, bill.refunding_fee) == (Bill.PAID, 30, 0)


# --- concurrency: never more than was paid ---------------------------------------------------

def _race_refunds(merchant, race, threads, fee, channel="ALI_WEB", total=100):
    bill = paid_bill(merchant, channel, total)
    numbers = [refund_no() for _ in range(threads)]
    answers = race(threads, lambda i: refunds.create_refund(
        merchant, {"refund_no": numbers[i], "bill_no": bill.bill_no, "refund_fee": fee},
        test_mode=True))
    codes = sorted(answer["result_code"] for answer in answers)
    refunded = db.session.execute(db.select(db.func.coalesce(db.func.sum(Refund.refund_fee), 0))
                                  .where(Refund.bill_id == bill.id)).scalar_one()
    return fresh(bill), codes, refunded


def test_concurrent_refunds_of_one_bill_never_exceed_what_was_paid(merchant, race):
    bill, codes, refunded = _race_refunds(merchant, race, threads=6, fee=30)
    assert set(codes) <= {0, 11, 12} and codes.count(0) <= 3
    assert bill.refunded_fee == refunded == 30 * codes.count(0) <= bill.total_fee
    assert bill.refunding_fee == 0


def test_concurrent_asynchronous_refunds_hold_one_in_flight(merchant, race):
    bill, codes, refunded = _race_refunds(merchant, race, threads=6, fee=30,
                                          channel="WX_NATIVE")
    assert codes == [0, 11, 11, 11, 11, 11]
    assert (bill.refunding_fee, refunded) == (30, 30)


@pytest.mark.postgresql
@pytest.mark.parametrize("round_", range(3))
def test_many_concurrent_refunds_on_postgresql_never_exceed_what_was_paid(merchant, race,
                                                                           round_):
    bill, codes, refunded = _race_refunds(merchant, race, threads=16, fee=7, total=50)
    assert set(codes) <= {0, 11, 12}
    assert bill.refunded_fee == refunded == 7 * codes.count(0) <= 50
    assert bill.refunding_fee == 0


def test_approval_racing_denial_has_one_winner(merchant, race):
    bill = paid_bill(merchant, "ALI_WEB", 100)
    pending = refund(merchant, bill, 40, need_approval=True)["id"]
    answers = race(2, lambda i: review(merchant, [pending], agree=(i == 0)))
    outcomes = sorted(answer["result_map"][pending] == "OK" for answer in answers)
    assert outcomes == [False, True]
    row = db.session.get(Refund, pending)
    fresh(row)
    expected = (40, True) if row.status == Refund.SUCCESS else (0, False)
    assert (fresh(bill).refunded_fee, bill.refund_result) == expected
    assert bill.refunding_fee == 0


# --- the REST doors ----------------------------------------------------------------------

def signed(merchant, key, **fields):
    timestamp = now_ms()
    return {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, key), **fields}


def test_post_refund_is_signed_with_the_master_secret(client, make_live_merchant,
                                                     simulator_server, pay_at_alipay):
    merchant = make_live_merchant()
    bill = live_paid_bill(pay_at_alipay, merchant)
    body = {"refund_no": refund_no(), "bill_no": bill.bill_no, "refund_fee": 1}
    refused = client.post("/2/rest/refund", json=signed(merchant, merchant.app_secret, **body))
    assert refused.get_json()["result_code"] == 1
    assert "master_secret" in refused.get_json()["err_detail"]
    answer = client.post("/2/rest/refund", json=signed(merchant, merchant.master_secret, **body))
    assert answer.status_code == 200 and answer.get_json()["result_code"] == 0


def test_put_refund_reviews_with_the_master_secret(client, make_live_merchant,
                                                   simulator_server, pay_at_alipay):
    merchant = make_live_merchant()
    pending = refund(merchant, live_paid_bill(pay_at_alipay, merchant), 1,
                     need_approval=True)["id"]
    answer = client.put("/2/rest/refund", json=signed(merchant, merchant.master_secret,
                                                      channel="ALI", ids=[pending], agree=True))
    assert answer.get_json()["result_map"] == {pending: "OK"}


def test_the_sandbox_twins_take_the_test_secret_and_test_mode_bills(client, merchant):
    bill = paid_bill(merchant, test_mode=True)
    body = {"refund_no": refund_no(), "bill_no": bill.bill_no, "refund_fee": 1,
            "need_approval": True}
    assert client.post("/2/rest/sandbox/refund", json=signed(
        merchant, merchant.master_secret, **body)).get_json()["result_code"] == 1
    created = client.post("/2/rest/sandbox/refund",
                          json=signed(merchant, merchant.test_secret, **body)).get_json()
    assert created["result_code"] == 0
    reviewed = client.put("/2/rest/sandbox/refund", json=signed(
        merchant, merchant.test_secret, channel="ALI", ids=[created["id"]], agree=True))
    assert reviewed.get_json()["result_map"] == {created["id"]: "OK"}
    live = client.post("/2/rest/refund", json=signed(merchant, merchant.master_secret, **{
        **body, "refund_no": refund_no()})).get_json()
    assert live["result_code"] == 8


def test_post_offline_refund(client, merchant):
    bill = offline_paid_bill(merchant, "ALI_SCAN")
    answer = client.post("/2/rest/offline/refund", json=signed(
        merchant, merchant.master_secret, refund_no=refund_no(), bill_no=bill.bill_no,
        refund_fee=1, channel="ALI")).get_json()
    assert answer["result_code"] == 0 and answer["refund_result"] is True


@pytest.mark.parametrize("method, path", [("POST", "/2/rest/refund"), ("PUT", "/2/rest/refund"),
                                          ("POST", "/2/rest/sandbox/refund"),
                                          ("POST", "/2/rest/offline/refund")])
def test_broken_bodies_answer_a_result_code(client, method, path):
    for body in (b"", b"[]", b"{", b'{"a": 1, "a": 2}'):
        answer = client.open(path, method=method, data=body, content_type="application/json")
        assert answer.status_code == 200 and answer.get_json()["result_code"] in (4, 5)


def test_the_bill_query_shows_the_refund(client, merchant):
    bill = paid_bill(merchant)
    refund(merchant, bill, 1)
    answer = bills.get_bill(merchant, bill.id, test_mode=True)
    assert answer["pay"]["refund_result"] is True
