"""Reading refunds (``checkout.sandbox.refund_queries`` and its REST views):
seed 001 §7 ``GET /2/rest/refunds`` with every filter, §8 the count, §9 the
status for WX/YEE/KUAIQIAN/BD, §10 one refund by id, and the test-mode twins
under ``/2/rest/sandbox/``. Refund rows are made directly (the refund service
is tested on its own); bills are made and paid through the sandbox."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote_plus

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, Refund
from checkout.sandbox import bills, refund_queries, settlement

_counter = iter(range(10 ** 6))


def new_no(prefix="Q") -> str:
    return f"{prefix}{now_ms()}{next(_counter):06d}"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def paid_bill(merchant, channel="WX_NATIVE", *, test_mode=True, total_fee=1000,
              title="green tea") -> Bill:
    """A bill paid at the sandbox (test mode) unless told; a live one needs a
    live merchant and a channel with a connector (ALI_WEB: no network call)."""
    answer = bills.create_bill(merchant, {
        "channel": channel, "total_fee": total_fee, "bill_no": new_no("B"), "title": title,
        "return_url": "https://shop.example.com/return", "analysis": {"ip": "58.110.23.35"}},
        test_mode=test_mode)
    assert answer["result_code"] == 0, answer
    bill = db.session.get(Bill, answer["id"])
    assert settlement.mark_paid(bill)
    return bill


def make_refund(bill: Bill, *, refund_fee=100, status=Refund.SUCCESS, need_approval=False,
                create_time=None, refund_no=None, optional=None, message_detail=None) -> Refund:
    refund = Refund(id=str(uuid.uuid4()), app_id=bill.app_id, test_mode=bill.test_mode,
                    bill_id=bill.id, bill_no=bill.bill_no, channel=bill.channel,
                    refund_no=refund_no or "20261201" + new_no("R")[-12:],
                    refund_fee=refund_fee, optional=optional, need_approval=need_approval,
                    status=status, message_detail=message_detail,
                    create_time=now_ms() if create_time is None else create_time)
    db.session.add(refund)
    db.session.commit()
    return refund


def ids(answer) -> list[str]:
    assert answer["result_code"] == 0, answer
    return [refund["id"] for refund in answer["refunds"]]


def query(merchant, **filters):
    return refund_queries.query_refunds(merchant, filters, test_mode=True)


def count(merchant, **filters):
    answer = refund_queries.count_refunds(merchant, filters, test_mode=True)
    assert answer["result_code"] == 0, answer
    return answer["count"]


def para(merchant, secret=None, **fields) -> str:
    """Signed with the test secret (the ``/2/rest/sandbox/…`` twins) unless told."""
    stamp = now_ms()
    key = secret or merchant.test_secret
    return quote_plus(json.dumps({"app_id": merchant.app_id, "timestamp": stamp,
                                  "app_sign": signing.app_sign(merchant.app_id, stamp, key),
                                  **fields}))


# --- the wire shape ------------------------------------------------------------------------

def test_a_refund_has_every_documented_field_in_the_seeds_order(merchant):
    bill = paid_bill(merchant, "WX_NATIVE", total_fee=1000, title="green tea")
    refund = make_refund(bill, refund_fee=300, optional={"reason": "退货"},
                         message_detail={"refund_id": "50000"})
    [wire] = query(merchant, need_detail=True)["refunds"]
    assert list(wire) == ["id", "bill_no", "refund_no", "total_fee", "refund_fee", "title",
                          "channel", "sub_channel", "finish", "result", "optional",
                          "message_detail", "create_time"]
    assert wire == {"id": refund.id, "bill_no": bill.bill_no, "refund_no": refund.refund_no,
                    "total_fee": 1000, "refund_fee": 300, "title": "green tea",
                    "channel": "WX", "sub_channel": "WX_NATIVE", "finish": True,
                    "result": True, "optional": '{"reason": "退货"}',
                    "message_detail": '{"refund_id": "50000"}',
                    "create_time": refund.create_time}


def test_total_fee_is_what_was_paid_after_a_coupon(merchant):
    bill = paid_bill(merchant, total_fee=1000)
    bill.discount, bill.total_fee = 200, 800
    db.session.commit()
    make_refund(bill)
    assert query(merchant)["refunds"][0]["total_fee"] == 800


@pytest.mark.parametrize("status, finish, result", [
    (Refund.PENDING_APPROVAL, False, False), (Refund.PROCESSING, False, False),
    (Refund.SUCCESS, True, True), (Refund.FAILED, True, False), (Refund.DENIED, True, False)])
def test_finish_and_result_follow_the_refunds_status(merchant, status, finish, result):
    make_refund(paid_bill(merchant), status=status)
    wire = query(merchant)["refunds"][0]
    assert (wire["finish"], wire["result"]) == (finish, result)


def test_message_detail_only_with_need_detail(merchant):
    make_refund(paid_bill(merchant), message_detail={"k": "v"})
    assert "message_detail" not in query(merchant)["refunds"][0]
    assert "message_detail" not in query(merchant, need_detail=False)["refunds"][0]
    assert query(merchant, need_detail=True)["refunds"][0]["message_detail"] == '{"k": "v"}'


def test_no_optional_is_an_empty_json_object(merchant):
    make_refund(paid_bill(merchant))
    assert query(merchant)["refunds"][0]["optional"] == "{}"


# --- filters -------------------------------------------------------------------------------

def test_channel_family_covers_its_sub_channels_and_a_sub_channel_only_itself(merchant):
    native = make_refund(paid_bill(merchant, "WX_NATIVE"))
    wap = make_refund(paid_bill(merchant, "WX_WAP"))
    ali = make_refund(paid_bill(merchant, "ALI_WEB"))
    assert set(ids(query(merchant, channel="WX"))) == {native.id, wap.id}
    assert ids(query(merchant, channel="WX_WAP")) == [wap.id]
    assert ids(query(merchant, channel="ALI")) == [ali.id]
    assert count(merchant, channel="WX") == 2


@pytest.mark.parametrize("channel", ["WECHAT", 7, ["WX"]])
def test_an_unknown_channel_filter_is_channel_invalid(merchant, channel):
    assert query(merchant, channel=channel)["result_code"] == 3
    counted = refund_queries.count_refunds(merchant, {"channel": channel}, test_mode=True)
    assert counted["result_code"] == 3


def test_bill_no_filter(merchant):
    first, second = paid_bill(merchant), paid_bill(merchant)
    mine = [make_refund(first).id, make_refund(first).id]
    make_refund(second)
    assert set(ids(query(merchant, bill_no=first.bill_no))) == set(mine)
    assert count(merchant, bill_no=first.bill_no) == 2


def test_refund_no_filter(merchant):
    bill = paid_bill(merchant)
    wanted = make_refund(bill, refund_no="20261201abc001")
    make_refund(bill, refund_no="20261201abc002")
    assert ids(query(merchant, refund_no="20261201abc001")) == [wanted.id]
    assert count(merchant, refund_no="20261201abc001") == 1
    assert count(merchant, refund_no="20261201nothing") == 0


def test_need_approval_filter_tells_pre_refunds_from_direct_ones(merchant):
    bill = paid_bill(merchant)
    pre = make_refund(bill, need_approval=True, status=Refund.PENDING_APPROVAL)
    direct = make_refund(bill)
    assert ids(query(merchant, need_approval=True)) == [pre.id]
    assert ids(query(merchant, need_approval=False)) == [direct.id]
    assert count(merchant, need_approval=True) == 1


def test_time_window_is_on_the_refunds_creation_time(merchant):
    bill = paid_bill(merchant)
    early = make_refund(bill, create_time=1_000_000)
    middle = make_refund(bill, create_time=2_000_000)
    late = make_refund(bill, create_time=3_000_000)
    assert ids(query(merchant, start_time=2_000_000)) == [late.id, middle.id]
    assert ids(query(merchant, end_time=2_000_000)) == [middle.id, early.id]
    assert ids(query(merchant, start_time=1_500_000, end_time=2_500_000)) == [middle.id]
    assert count(merchant, start_time=1_500_000, end_time=2_500_000) == 1


def test_filters_are_anded(merchant):
    wx, ali = paid_bill(merchant, "WX_NATIVE"), paid_bill(merchant, "ALI_WEB")
    wanted = make_refund(wx, need_approval=True, status=Refund.PENDING_APPROVAL)
    make_refund(wx)
    make_refund(ali, need_approval=True, status=Refund.PENDING_APPROVAL)
    assert ids(query(merchant, channel="WX", need_approval=True, bill_no=wx.bill_no)) \
        == [wanted.id]


def test_newest_first_with_skip_and_limit(merchant):
    bill = paid_bill(merchant)
    made = [make_refund(bill, create_time=1_000_000 + i).id for i in range(5)]
    assert ids(query(merchant)) == made[::-1]
    assert ids(query(merchant, skip=1, limit=2)) == [made[3], made[2]]


def test_default_limit_is_10_and_50_is_the_largest(merchant):
    bill = paid_bill(merchant)
    for i in range(12):
        make_refund(bill, create_time=1_000_000 + i)
    assert len(ids(query(merchant))) == 10
    assert len(ids(query(merchant, limit=50))) == 12
    assert query(merchant, limit=51)["result_code"] == 5


@pytest.mark.parametrize("filters", [
    {"skip": -1}, {"limit": 0}, {"limit": "10"}, {"skip": True}, {"start_time": "yesterday"},
    {"end_time": 2 ** 63 - 1}, {"need_approval": "true"}, {"need_detail": 1},
    {"bill_no": 42}, {"refund_no": "a\x00b"}, {"refund_no": ["x"]}])
def test_bad_filters_are_param_invalid(merchant, filters):
    answer = query(merchant, **filters)
    assert answer["result_code"] == 5, answer
    assert answer["err_detail"]


def test_count_refuses_the_same_bad_filters(merchant):
    for filters in ({"need_approval": "yes"}, ["not", "a", "map"]):
        assert refund_queries.count_refunds(merchant, filters, test_mode=True)["result_code"] == 5


def test_queries_see_only_the_apps_refunds_in_the_mode(make_live_merchant, make_merchant):
    merchant = make_live_merchant()
    live = make_refund(paid_bill(merchant, "ALI_WEB", test_mode=False))
    test = make_refund(paid_bill(merchant, test_mode=True))
    make_refund(paid_bill(make_merchant("Other Shop")))
    assert ids(refund_queries.query_refunds(merchant, {})) == [live.id]
    assert refund_queries.count_refunds(merchant, {})["count"] == 1
    assert ids(query(merchant)) == [test.id]
    assert count(merchant) == 1


# --- one refund by id (§10) --------------------------------------------------------------

def test_one_refund_by_id_carries_message_detail(merchant):
    refund = make_refund(paid_bill(merchant), message_detail={"k": "v"})
    answer = refund_queries.get_refund(merchant, refund.id, test_mode=True)
    assert answer["result_code"] == 0
    assert answer["refund"]["id"] == refund.id
    assert answer["refund"]["message_detail"] == '{"k": "v"}'


@pytest.mark.parametrize("refund_id", ["", "x" * 37, "a\x00b", None, 42, str(uuid.uuid4())])
def test_an_odd_or_unknown_id_is_no_such_refund(merchant, refund_id):
    answer = refund_queries.get_refund(merchant, refund_id, test_mode=True)
    assert (answer["result_code"], answer["result_msg"]) == (13, "NO_SUCH_REFUND")
    assert "refund" not in answer


def test_another_apps_or_modes_refund_is_no_such_refund(make_live_merchant, make_merchant):
    merchant = make_live_merchant()
    other = make_refund(paid_bill(make_merchant("Other Shop")))
    live = make_refund(paid_bill(merchant, "ALI_WEB", test_mode=False))
    assert refund_queries.get_refund(merchant, other.id, test_mode=True)["result_code"] == 13
    assert refund_queries.get_refund(merchant, live.id, test_mode=True)["result_code"] == 13
    assert refund_queries.get_refund(merchant, live.id, test_mode=False)["result_code"] == 0


# --- status (§9) ----------------------------------------------------------------------------

@pytest.mark.parametrize("status, wire", [
    (Refund.SUCCESS, "SUCCESS"), (Refund.PROCESSING, "PROCESSING"), (Refund.FAILED, "FAIL"),
    (Refund.PENDING_APPROVAL, "PENDING_APPROVAL"), (Refund.DENIED, "DENIED")])
def test_status_answers_the_refunds_state(merchant, status, wire):
    refund = make_refund(paid_bill(merchant, "WX_NATIVE"), status=status)
    answer = refund_queries.refund_status(merchant, {"channel": "WX",
                                                     "refund_no": refund.refund_no},
                                          test_mode=True)
    assert answer["result_code"] == 0, answer
    assert answer["refund_status"] == wire


@pytest.mark.parametrize("channel, sub", [("YEE", "YEE_WAP"), ("KUAIQIAN", "KUAIQIAN_WEB"),
                                          ("BD", "BD_WEB")])
def test_status_serves_every_channel_the_seed_names(merchant, channel, sub):
    bill = paid_bill(merchant, "WX_NATIVE")
    bill.channel = sub  # a bill of that channel: only the refund's channel matters here
    db.session.commit()
    refund = make_refund(bill)
    answer = refund_queries.refund_status(merchant, {"channel": channel,
                                                     "refund_no": refund.refund_no},
                                          test_mode=True)
    assert answer["refund_status"] == "SUCCESS", answer


@pytest.mark.parametrize("channel", ["ALI", "UN", "WX_NATIVE", "JD", 5])
def test_status_for_another_channel_is_channel_invalid(merchant, channel):
    refund = make_refund(paid_bill(merchant, "ALI_WEB"))
    answer = refund_queries.refund_status(merchant, {"channel": channel,
                                                     "refund_no": refund.refund_no},
                                          test_mode=True)
    assert answer["result_code"] == 3, answer
    assert "WX, YEE, KUAIQIAN, BD" in answer["err_detail"]


@pytest.mark.parametrize("missing", ["channel", "refund_no"])
def test_status_needs_channel_and_refund_no(merchant, missing):
    fields = {"channel": "WX", "refund_no": "20261201abc001"}
    del fields[missing]
    answer = refund_queries.refund_status(merchant, fields, test_mode=True)
    assert answer["result_code"] == 4
    assert missing in answer["err_detail"]


def test_status_of_an_unknown_refund_no_or_another_channels_is_no_such_refund(merchant):
    ali = make_refund(paid_bill(merchant, "ALI_WEB"))
    for refund_no in ("20261201nothing", ali.refund_no):
        answer = refund_queries.refund_status(merchant, {"channel": "WX",
                                                         "refund_no": refund_no},
                                              test_mode=True)
        assert answer["result_code"] == 13, answer


def test_status_ignores_bill_update_flag(merchant):
    refund = make_refund(paid_bill(merchant, "WX_NATIVE"))
    answer = refund_queries.refund_status(merchant, {"channel": "WX", "bill_update_flag": "1",
                                                     "refund_no": refund.refund_no},
                                          test_mode=True)
    assert answer["refund_status"] == "SUCCESS"


# --- over HTTP, live and sandbox ------------------------------------------------------------

def test_query_count_status_and_one_refund_over_http(client, merchant):
    refund = make_refund(paid_bill(merchant, "WX_NATIVE"))
    listed = client.get(f"/2/rest/sandbox/refunds?para={para(merchant, bill_no=refund.bill_no)}")
    assert ids(listed.get_json()) == [refund.id]
    counted = client.get(f"/2/rest/sandbox/refunds/count?para={para(merchant)}").get_json()
    assert counted["count"] == 1
    status = client.get("/2/rest/sandbox/refund/status?para="
                        + para(merchant, channel="WX", refund_no=refund.refund_no)).get_json()
    assert status["refund_status"] == "SUCCESS"
    one = client.get(f"/2/rest/sandbox/refund/{refund.id}?para={para(merchant)}").get_json()
    assert one["refund"]["refund_no"] == refund.refund_no


def test_sandbox_twins_use_the_test_secret_and_test_refunds(client, make_live_merchant):
    merchant = make_live_merchant()
    live = make_refund(paid_bill(merchant, "ALI_WEB", test_mode=False))
    test = make_refund(paid_bill(merchant, "WX_NATIVE", test_mode=True))
    secret = merchant.test_secret
    listed = client.get(f"/2/rest/sandbox/refunds?para={para(merchant, secret)}").get_json()
    assert ids(listed) == [test.id]
    counted = client.get(f"/2/rest/sandbox/refunds/count?para={para(merchant, secret)}")
    assert counted.get_json()["count"] == 1
    status = client.get("/2/rest/sandbox/refund/status?para=" + para(
        merchant, secret, channel="WX", refund_no=test.refund_no)).get_json()
    assert status["refund_status"] == "SUCCESS"
    one = client.get(f"/2/rest/sandbox/refund/{test.id}?para={para(merchant, secret)}")
    assert one.get_json()["refund"]["id"] == test.id
    assert client.get(f"/2/rest/sandbox/refund/{live.id}?para={para(merchant, secret)}") \
        .get_json()["result_code"] == 13


@pytest.mark.parametrize("path", ["/2/rest/refunds", "/2/rest/refunds/count",
                                  "/2/rest/refund/status", "/2/rest/refund/some-id"])
def test_live_paths_refuse_the_test_secret(client, merchant, path):
    answer = client.get(f"{path}?para={para(merchant, merchant.test_secret)}").get_json()
    assert answer["result_code"] == 1


@pytest.mark.parametrize("path", ["/2/rest/refund/%00", "/2/rest/sandbox/refund/a%00b",
                                  "/2/rest/refund/" + "x" * 37, "/2/rest/refund/%F0%9F%91%8D"])
def test_a_refund_path_with_nul_or_an_odd_id_is_no_such_refund(client, merchant, path):
    secret = merchant.test_secret if "/sandbox/" in path else merchant.app_secret
    answer = client.get(f"{path}?para={para(merchant, secret)}").get_json()
    assert (answer["result_code"], answer["result_msg"]) == (13, "NO_SUCH_REFUND"), answer


def test_missing_para_is_miss_param(client):
    assert client.get("/2/rest/refunds").get_json()["result_code"] == 4


def test_malformed_para_is_param_invalid(client):
    assert client.get("/2/rest/refunds?para=%7Bnot").get_json()["result_code"] == 5
