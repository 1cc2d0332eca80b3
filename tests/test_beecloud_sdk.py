"""The official BeeCloud Python SDK (PyPI ``beecloud`` 3.6.0), unmodified,
against our server on a real socket, with only its API host changed.

The SDK refuses refunds, pre-refund reviews, refund queries and the offline
calls in test mode before sending anything, so those are tested in live mode:
a live merchant whose Alipay credentials point at the built-in Alipay
simulator (``make_live_merchant``, ``simulator_server``), so that live bills
go through the real Alipay connector (issue 14). Live bills in channels
without a connector answer 2 PAY_FACTOR_NOT_SET; the sandbox's calls are
tested in test mode.

The SDK builds every URL from ``beecloud.utils.BEECLOUD_API_HOST`` (read by
``get_rest_root_url``), so that one name is the host we point at ours."""

from __future__ import annotations

import pytest

beecloud = pytest.importorskip("beecloud")

from beecloud import utils as bc_utils  # noqa: E402
from beecloud.entity import (BCApp, BCPayReqParams, BCPreRefundAuditParams,  # noqa: E402
                             BCQueryReqParams, BCRefundReqParams)
from beecloud.pay import BCPay  # noqa: E402
from beecloud.query import BCQuery  # noqa: E402

from checkout.clock import now_ms  # noqa: E402
from checkout.db import db  # noqa: E402
from checkout.models import Bill  # noqa: E402
from checkout.sandbox import refunds as refund_service  # noqa: E402
from checkout.simulators.alipay import trades as alipay_trades  # noqa: E402
from checkout.simulators.alipay.models import SimTrade  # noqa: E402

_counter = iter(range(10 ** 6))


def new_bill_no() -> str:
    return f"SDK{now_ms()}{next(_counter):04d}"


@pytest.fixture
def sdk_host(live_server, monkeypatch):
    monkeypatch.setattr(bc_utils, "BEECLOUD_API_HOST", live_server.url)
    return live_server.url


@pytest.fixture
def merchant(make_merchant):
    """A test-mode merchant: the SDK's sandbox calls."""
    return make_merchant()


@pytest.fixture
def live_merchant(make_live_merchant, simulator_server):
    """A live merchant with Alipay credentials on the simulator, reachable
    server to server: the SDK's live calls."""
    return make_live_merchant()


def bc_app(merchant, test_mode=False) -> BCApp:
    app = BCApp()
    app.app_id = merchant.app_id
    app.app_secret = merchant.app_secret
    app.master_secret = merchant.master_secret
    app.test_secret = merchant.test_secret
    app.is_test_mode = test_mode
    app.timeout = 10
    return app


def pay_params(channel="ALI_WEB", bill_no=None, **extra) -> BCPayReqParams:
    params = BCPayReqParams()
    params.channel = channel
    params.total_fee = 1
    params.bill_no = bill_no or new_bill_no()
    params.title = "SDK 测试"
    params.return_url = "https://shop.example.com/return"
    params.optional = {"from": "sdk"}
    for name, value in extra.items():
        setattr(params, name, value)
    return params


def sdk_pay(merchant, test_mode=False, **kwargs):
    pay = BCPay()
    pay.register_app(bc_app(merchant, test_mode))
    return pay.pay(pay_params(**kwargs))


def sdk_query(merchant, test_mode=False) -> BCQuery:
    query = BCQuery()
    query.register_app(bc_app(merchant, test_mode))
    return query


def test_sdk_creates_a_live_alipay_bill(sdk_host, live_merchant):
    result = sdk_pay(live_merchant, channel="ALI_WEB")
    assert result.result_code == 0, result.err_detail
    assert result.id and result.url.startswith(sdk_host + "/simulators/alipay/gateway.do?")
    assert "<form" in result.html and "alipay.trade.page.pay" in result.html


def test_sdk_creates_a_live_alipay_qr_bill(sdk_host, live_merchant):
    result = sdk_pay(live_merchant, channel="ALI_QRCODE", qr_pay_mode="0")
    assert result.result_code == 0, result.err_detail
    assert result.url.startswith(sdk_host + "/simulators/alipay/gateway.do?")


@pytest.mark.parametrize("channel", ["WX_NATIVE", "WX_JSAPI"])
def test_sdk_live_wechat_bills_answer_pay_factor_not_set(sdk_host, live_merchant, channel):
    result = sdk_pay(live_merchant, channel=channel, openid="o-sdk-openid")
    assert (result.result_code, result.result_msg) == (2, "PAY_FACTOR_NOT_SET")
    assert channel in result.err_detail


def test_sdk_creates_a_wx_native_bill_in_test_mode(sdk_host, merchant):
    result = sdk_pay(merchant, test_mode=True, channel="WX_NATIVE")
    assert result.result_code == 0, result.err_detail
    assert result.code_url.startswith(sdk_host + "/sandbox/cashier/")


def test_sdk_reads_wx_jsapi_fields(sdk_host, merchant):
    result = sdk_pay(merchant, test_mode=True, channel="WX_JSAPI", openid="o-sdk-openid")
    assert result.result_code == 0, result.err_detail
    assert result.package.startswith("prepay_id=wx") and result.sign_type == "MD5"
    assert result.pay_sign and result.nonce_str and result.timestamp


def test_sdk_sees_our_refusals(sdk_host, merchant):
    result = sdk_pay(merchant, channel="ALI_WEB", bill_no="short")
    assert result.result_code == 5 and "bill_no" in result.err_detail


def test_sdk_queries_live_bills_count_and_one_bill(sdk_host, live_merchant):
    merchant = live_merchant
    bill_no = new_bill_no()
    created = sdk_pay(merchant, channel="ALI_WEB", bill_no=bill_no)
    assert sdk_pay(merchant, channel="ALI_WAP").result_code == 0
    query = sdk_query(merchant)

    params = BCQueryReqParams()
    params.bill_no = bill_no
    params.need_detail = True
    found = query.query_bills(params)
    assert found.result_code == 0, found.err_detail
    assert [bill.id for bill in found.bills] == [created.id]
    bill = found.bills[0]
    assert (bill.channel, bill.sub_channel, bill.total_fee, bill.title) == \
        ("ALI", "ALI_WEB", 1, "SDK 测试")
    assert bill.spay_result is False

    family, wap = BCQueryReqParams(), BCQueryReqParams()
    family.channel, wap.channel = "ALI", "ALI_WAP"
    assert (query.query_bills_count(family).count, query.query_bills_count(wap).count) == (2, 1)

    one = query.query_bill_by_id(created.id)
    assert one.result_code == 0 and one.pay.bill_no == bill_no


def test_sdk_queries_test_mode_bills_apart_from_live_ones(sdk_host, live_merchant):
    merchant = live_merchant
    live = sdk_pay(merchant, channel="ALI_WEB")
    test = sdk_pay(merchant, test_mode=True, channel="ALI_WEB")
    assert live.result_code == test.result_code == 0
    query = sdk_query(merchant, test_mode=True)
    found = query.query_bills(BCQueryReqParams())
    assert [bill.id for bill in found.bills] == [test.id]
    assert query.query_bills_count(BCQueryReqParams()).count == 1
    assert query.query_bill_by_id(test.id).pay.id == test.id
    assert query.query_bill_by_id(live.id).result_code == 8


def test_sdk_offline_qr_bill_and_status(sdk_host, merchant):
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    params = BCPayReqParams()
    params.channel, params.total_fee, params.title = "WX_NATIVE", 1, "till"
    params.bill_no = new_bill_no()
    result = pay.offline_pay(params)
    assert result.result_code == 0, result.err_detail
    assert result.code_url.startswith(sdk_host + "/sandbox/cashier/")
    reverted = pay.offline_revert(params.bill_no, channel="ALI_OFFLINE_QRCODE")
    assert reverted.result_code == 8  # no ALI_OFFLINE_QRCODE bill under that number


# --- live offline bills: pay, status and revert at Alipay (seed 000, issue 14) ---------------

def sdk_offline_qr(merchant):
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    params = BCPayReqParams()
    params.channel, params.total_fee, params.title = "ALI_OFFLINE_QRCODE", 100, "till"
    params.bill_no = new_bill_no()
    return pay, params, pay.offline_pay(params)


def paid_on_the_buyers_phone(bill_id: str) -> None:
    """The buyer scans the precreate code with Alipay and pays there."""
    trade = db.session.execute(db.select(SimTrade).where(
        SimTrade.out_trade_no == db.session.get(Bill, bill_id).provider_ref)).scalar_one()
    alipay_trades.open_trade(trade, now_ms())
    assert alipay_trades.pay(trade, now_ms())


def test_sdk_live_offline_qr_bill_answers_alipays_precreate_code(sdk_host, live_merchant):
    _pay, params, result = sdk_offline_qr(live_merchant)
    assert result.result_code == 0, result.err_detail
    assert result.code_url.startswith(sdk_host + "/simulators/alipay/")
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert (trade.method, trade.out_trade_no, trade.total_fen) == \
        ("alipay.trade.precreate", params.bill_no, 100)


def test_sdk_live_offline_status_asks_alipay(sdk_host, live_merchant):
    _pay, params, result = sdk_offline_qr(live_merchant)
    query = sdk_query(live_merchant)
    assert query.query_offline_bill_status(params.bill_no).pay_result is False
    paid_on_the_buyers_phone(result.id)
    status = query.query_offline_bill_status(params.bill_no, channel="ALI_OFFLINE_QRCODE")
    assert status.result_code == 0 and status.pay_result is True
    db.session.expire_all()
    assert db.session.get(Bill, result.id).status == Bill.PAID


def test_sdk_live_offline_revert_cancels_the_trade_at_alipay(sdk_host, live_merchant):
    pay, params, result = sdk_offline_qr(live_merchant)
    reverted = pay.offline_revert(params.bill_no, channel="ALI_OFFLINE_QRCODE")
    assert reverted.result_code == 0 and reverted.revert_status is True, reverted.err_detail
    db.session.expire_all()
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert trade.status == alipay_trades.CLOSED
    assert db.session.get(Bill, result.id).status == Bill.REVERTED


def test_sdk_live_offline_revert_of_a_paid_bill_gives_the_money_back_at_alipay(
        sdk_host, live_merchant):
    pay, params, result = sdk_offline_qr(live_merchant)
    paid_on_the_buyers_phone(result.id)
    assert sdk_query(live_merchant).query_offline_bill_status(params.bill_no).pay_result is True
    reverted = pay.offline_revert(params.bill_no, channel="ALI_OFFLINE_QRCODE")
    assert reverted.result_code == 0 and reverted.revert_status is True, reverted.err_detail
    db.session.expire_all()
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert trade.refunded_fen == 100  # alipay.trade.cancel of a paid trade refunds it


# --- refunds (issue 13; seed 001 §3-§4, seed 000 §6) -----------------------------------------

@pytest.fixture
def sdk_paid_bill(pay_at_alipay):
    """``sdk_paid_bill(live_merchant, total_fee=100)``: a live ALI_WEB bill
    created through the SDK and paid by the shopper at Alipay's cashier (the
    simulator): the SDK refunds only in live mode, and Alipay refunds it."""
    def make(merchant, total_fee=100):
        created = sdk_pay(merchant, channel="ALI_WEB", total_fee=total_fee)
        assert created.result_code == 0, created.err_detail
        return pay_at_alipay({"result_code": 0, "id": created.id, "url": created.url})

    return make


def sdk_refund_no() -> str:
    return refund_service.china_day(now_ms()) + f"{next(_counter):06d}"


def sdk_refund(merchant, bill_no, fee, **extra):
    params = BCRefundReqParams()
    params.refund_no, params.bill_no, params.refund_fee = sdk_refund_no(), bill_no, fee
    for name, value in extra.items():
        setattr(params, name, value)
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    return pay.refund(params)


def sdk_audit(merchant, ids, agree, channel="ALI", deny_reason=None):
    params = BCPreRefundAuditParams()
    params.channel, params.ids, params.agree, params.deny_reason = channel, ids, agree, deny_reason
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    return pay.audit_pre_refunds(params)


def test_sdk_refunds_part_then_the_rest_and_the_bill_reads_refunded(sdk_host, live_merchant,
                                                                    sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    part = sdk_refund(merchant, bill.bill_no, 30, optional={"why": "one cup broken"})
    assert part.result_code == 0, part.err_detail
    assert part.id and part.url is None  # refunded at Alipay at once: no page to confirm on
    rest = sdk_refund(merchant, bill.bill_no, 70, channel="ALI")
    assert rest.result_code == 0, rest.err_detail
    over = sdk_refund(merchant, bill.bill_no, 1)
    assert (over.result_code, over.result_msg) == (12, "REFUND_AMOUNT_TOO_LARGE")
    one = sdk_query(merchant).query_bill_by_id(bill.id)
    assert one.result_code == 0 and one.pay.refund_result is True


def test_sdk_pre_refund_waits_for_approval(sdk_host, live_merchant, sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    pending = sdk_refund(merchant, bill.bill_no, 40, need_approval=True)
    assert pending.result_code == 0 and pending.url is None
    assert sdk_refund(merchant, bill.bill_no, 1).result_code == 11
    assert sdk_query(merchant).query_bill_by_id(bill.id).pay.refund_result is False
    approved = sdk_audit(merchant, [pending.id, "no-such-id"], True)
    assert approved.result_code == 0, approved.err_detail
    assert approved.result_map[pending.id] == "OK"
    assert approved.result_map["no-such-id"].startswith("NO_SUCH_REFUND")
    assert approved.url is None  # refunded at Alipay at once
    assert sdk_query(merchant).query_bill_by_id(bill.id).pay.refund_result is True


def test_sdk_denies_a_pre_refund_and_the_number_may_be_used_again(sdk_host, live_merchant,
                                                                   sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    params = BCRefundReqParams()
    params.refund_no, params.bill_no, params.refund_fee = sdk_refund_no(), bill.bill_no, 50
    params.need_approval = True
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    pending = pay.refund(params)
    denied = sdk_audit(merchant, [pending.id], False, channel="ALI", deny_reason="审核不通过")
    assert denied.result_code == 0 and denied.result_map == {pending.id: "OK"}
    params.need_approval = None
    again = pay.refund(params)
    assert again.result_code == 0, again.err_detail


def test_sdk_refunds_need_the_master_secret(sdk_host, live_merchant, sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant)
    app = bc_app(merchant)
    app.master_secret = merchant.app_secret  # the wrong secret
    pay = BCPay()
    pay.register_app(app)
    params = BCRefundReqParams()
    params.refund_no, params.bill_no, params.refund_fee = sdk_refund_no(), bill.bill_no, 1
    assert pay.refund(params).result_code == 1


def test_sdk_offline_refund(sdk_host, merchant):
    pay = BCPay()
    pay.register_app(bc_app(merchant))
    params = BCPayReqParams()
    params.channel, params.total_fee, params.title = "ALI_SCAN", 100, "till"
    params.bill_no, params.auth_code = new_bill_no(), "281234567890123456"
    paid = pay.offline_pay(params)
    assert paid.result_code == 0 and paid.pay_result is True, paid.err_detail
    refund = BCRefundReqParams()
    refund.channel, refund.refund_no, refund.bill_no, refund.refund_fee = \
        "ALI", sdk_refund_no(), params.bill_no, 100
    result = pay.offline_refund(refund)
    assert result.result_code == 0, result.err_detail
    assert result.id and result.refund_result is True


# --- refund queries (issue 13; seed 001 §7-§10) -------------------------------------------

def sdk_refund_query(**filters) -> BCQueryReqParams:
    params = BCQueryReqParams()
    for name, value in filters.items():
        setattr(params, name, value)
    return params


def test_sdk_queries_and_counts_a_bills_refunds(sdk_host, live_merchant, sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    first = sdk_refund(merchant, bill.bill_no, 30, optional={"why": "one cup broken"})
    second = sdk_refund(merchant, bill.bill_no, 20)
    other = sdk_paid_bill(merchant, 100)
    sdk_refund(merchant, other.bill_no, 10)
    query = sdk_query(merchant)

    found = query.query_refunds(sdk_refund_query(bill_no=bill.bill_no, need_detail=True))

    assert found.result_code == 0, found.err_detail
    assert [refund.id for refund in found.refunds] == [second.id, first.id]
    oldest = found.refunds[1]
    assert (oldest.bill_no, oldest.total_fee, oldest.refund_fee, oldest.channel,
            oldest.sub_channel, oldest.finish, oldest.result) == (
        bill.bill_no, 100, 30, "ALI", "ALI_WEB", True, True)
    assert oldest.optional == '{"why": "one cup broken"}'
    assert query.query_refunds_count(sdk_refund_query(bill_no=bill.bill_no)).count == 2
    assert query.query_refunds_count(sdk_refund_query(channel="ALI")).count == 3


def test_sdk_queries_pre_refunds_by_need_approval(sdk_host, live_merchant, sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    direct = sdk_refund(merchant, bill.bill_no, 10)
    pending = sdk_refund(merchant, bill.bill_no, 20, need_approval=True)
    query = sdk_query(merchant)

    pre = query.query_refunds(sdk_refund_query(need_approval=True))

    assert [refund.id for refund in pre.refunds] == [pending.id]
    assert pre.refunds[0].finish is False
    assert direct.id not in [r.id for r in query.query_refunds(sdk_refund_query(
        need_approval=True, skip=0, limit=50)).refunds]
    assert query.query_refunds_count(sdk_refund_query(need_approval=True)).count == 1


def test_sdk_queries_one_refund_by_id(sdk_host, live_merchant, sdk_paid_bill):
    merchant = live_merchant
    bill = sdk_paid_bill(merchant, 100)
    made = sdk_refund(merchant, bill.bill_no, 25)
    query = sdk_query(merchant)

    one = query.query_refund_by_id(made.id)

    assert one.result_code == 0, one.err_detail
    assert (one.refund.id, one.refund.refund_fee, one.refund.title) == (made.id, 25, "SDK 测试")
    unknown = query.query_refund_by_id("no-such-refund")
    assert (unknown.result_code, unknown.result_msg) == (13, "NO_SUCH_REFUND")


def test_sdk_asks_a_refunds_status(sdk_host, live_merchant, sdk_paid_bill):
    # Seed 001 §9 serves WX, YEE, KUAIQIAN and BD refunds; none of them can be
    # paid live before its connector exists (PAY_FACTOR_NOT_SET), and the SDK
    # asks only in live mode: a WeChat refund's PROCESSING → SUCCESS is
    # specified in test mode in tests/test_refund_queries.py. Here: the SDK's
    # call, an unknown WX refund number, and an Alipay refund's channel refused.
    merchant = live_merchant
    made = sdk_refund(merchant, sdk_paid_bill(merchant, 100).bill_no, 100)
    from checkout.models import Refund

    stored = db.session.get(Refund, made.id)
    query = sdk_query(merchant)

    unknown = query.query_refund_status("WX", stored.refund_no)
    assert (unknown.result_code, unknown.result_msg) == (13, "NO_SUCH_REFUND")
    other_channel = query.query_refund_status("ALI", stored.refund_no)
    assert other_channel.result_code == 3


def test_sdk_in_test_mode_does_not_send_refund_queries(merchant):
    # beecloud 3.6.0 answers these itself in test mode (report_not_supported_err),
    # without a request; /2/rest/sandbox/refunds… serve the other SDKs.
    query = sdk_query(merchant, test_mode=True)
    for answer in (query.query_refunds(sdk_refund_query()),
                   query.query_refund_by_id("any"),
                   query.query_refund_status("WX", "20261201abc")):
        assert "does NOT support test mode" in answer.err_detail


def test_a_merchant_pays_refunds_part_then_the_rest_and_gets_every_webhook(
        sdk_host, make_live_merchant, simulator_server, receiver, sdk_paid_bill):
    """Issue 13's "done when": through the official SDK only (and the
    shopper at Alipay's cashier), a merchant sees the PAY and each REFUND webhook
    at its own endpoint, signed, and the bill's refunded state."""
    import json

    from checkout import signing
    from checkout.sandbox import webhooks

    merchant = make_live_merchant(webhook_url=receiver.url)
    bill = sdk_paid_bill(merchant, 100)
    created, bill_no = bill, bill.bill_no
    for fee in (30, 70):
        answer = sdk_refund(merchant, bill_no, fee)
        assert answer.result_code == 0, answer.err_detail
    webhooks.work_once()

    events = [json.loads(body) for body in receiver.bodies]
    assert [(e["transaction_type"], e["transaction_fee"]) for e in events] == [
        ("PAY", 100), ("REFUND", 30), ("REFUND", 70)]
    for event in events:
        assert event["signature"] == signing.webhook_signature(
            merchant.app_id, event["transaction_id"], event["transaction_type"],
            event["channel_type"], event["transaction_fee"], merchant.master_secret)
    found = sdk_query(merchant).query_bill_by_id(created.id)
    assert found.result_code == 0 and found.pay.refund_result is True
    assert sdk_refund(merchant, bill_no, 1).result_code == 12
