"""The sandbox bill service (``checkout.sandbox.bills``): one order, one
payment; queries with every documented filter (seed 001 sections 5, 6, 11;
seed 003 lines 954-1193) and every documented bill field."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill
from checkout.sandbox import bills

_counter = iter(range(10 ** 6))


def new_bill_no() -> str:
    return f"S{now_ms()}{next(_counter):06d}"


def request_for(channel="WX_NATIVE", **overrides) -> dict:
    fields = {"channel": channel, "total_fee": 100, "bill_no": new_bill_no(), "title": "tea",
              "return_url": "https://shop.example.com/return"}
    fields.update(overrides)
    return fields


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def create(merchant, test_mode=True, **overrides) -> dict:
    """A bill of the sandbox (test mode) unless told; a live one needs a live merchant."""
    answer = bills.create_bill(merchant, request_for(**overrides), test_mode=test_mode)
    assert answer["result_code"] == 0, answer
    return answer


def set_status(bill_id, status, **values):
    bill = db.session.get(Bill, bill_id)
    bill.status = status
    for name, value in values.items():
        setattr(bill, name, value)
    db.session.commit()
    return bill


def para(merchant, secret=None, **filters) -> str:
    """Signed with the test secret (the ``/2/rest/sandbox/…`` twins) unless told."""
    stamp = now_ms()
    key = secret or merchant.test_secret
    return quote_plus(json.dumps({"app_id": merchant.app_id, "timestamp": stamp,
                                  "app_sign": signing.app_sign(merchant.app_id, stamp, key),
                                  **filters}))


# --- creation rules at the service level ---------------------------------------------------

def test_new_bill_is_open_with_fee_title_and_an_unguessable_cashier_token(merchant):
    answer = create(merchant, channel="ALI_WEB", optional={"k": "v"}, buyer_id="u1")
    bill = db.session.get(Bill, answer["id"])
    assert bill.status == Bill.OPEN and bill.total_fee == bill.bill_fee == 100
    assert bill.discount == 0 and bill.optional == {"k": "v"} and bill.buyer_id == "u1"
    assert len(bill.cashier_token) >= 32
    assert bill.return_url == "https://shop.example.com/return"


def test_bill_timeout_sets_the_expiry(merchant):
    before = now_ms()
    bill = db.session.get(Bill, create(merchant, bill_timeout=360)["id"])
    assert before + 360_000 <= bill.expires_at <= now_ms() + 360_000


def test_expired_open_bill_is_closed_for_re_create(merchant):
    request = request_for("WX_NATIVE", bill_timeout=360)
    first = bills.create_bill(merchant, request, test_mode=True)
    set_status(first["id"], Bill.OPEN, expires_at=now_ms() - 1)
    again = bills.create_bill(merchant, request, test_mode=True)
    assert again["result_code"] == 7 and "ORDERCLOSED" in again["err_detail"]


def test_failed_bill_opens_again_on_re_create(merchant):
    request = request_for("WX_NATIVE")
    first = bills.create_bill(merchant, request, test_mode=True)
    set_status(first["id"], Bill.FAILED)
    again = bills.create_bill(merchant, request, test_mode=True)
    assert again["id"] == first["id"]
    assert db.session.get(Bill, first["id"]).status == Bill.OPEN


def test_other_apps_bill_no_does_not_collide(merchant, make_merchant):
    request = request_for()
    other = make_merchant("Other Shop")
    a = bills.create_bill(merchant, request, test_mode=True)
    b = bills.create_bill(other, {**request, "total_fee": 5}, test_mode=True)
    assert a["result_code"] == b["result_code"] == 0 and a["id"] != b["id"]


def test_non_dict_request_is_param_invalid(merchant):
    assert bills.create_bill(merchant, ["x"], test_mode=True)["result_code"] == 5


def test_offline_only_channel_is_refused_online(merchant):
    answer = bills.create_bill(merchant, request_for("ALI_SCAN"), test_mode=True)
    assert answer["result_code"] == 3 and "offline" in answer["err_detail"]


def test_embedded_gateway_creates_and_reads_through_the_service(app, merchant):
    from checkout.gateway import GatewayError, get_gateway

    gateway = get_gateway(app)
    created = gateway.create_bill(merchant, request_for("ALI_WEB"))
    assert gateway.get_bill(merchant, created["id"])["id"] == created["id"]
    with pytest.raises(GatewayError) as error:
        gateway.create_bill(merchant, request_for("ALI_WEB", total_fee=0))
    assert error.value.result_code == 5


# --- coupons: the single _apply_coupon call site --------------------------------------------

def test_coupon_discount_lowers_total_fee(merchant):
    from checkout.sandbox import coupons
    from checkout.models import CouponTemplate

    template = coupons.create_template(merchant, name="5 fen off",
                                       type=CouponTemplate.AMOUNT_OFF, discount="0.05")
    coupon = coupons.issue_coupon(merchant, template.id, "buyer1")
    answer = create(merchant, buyer_id="buyer1", coupon_id=coupon.id)
    bill = db.session.get(Bill, answer["id"])
    assert (bill.bill_fee, bill.discount, bill.total_fee) == (100, 5, 95)
    assert bill.coupon_id == coupon.id


def test_unknown_coupon_is_refused_with_the_coupon_modules_detail(merchant):
    answer = bills.create_bill(merchant, request_for(buyer_id="b", coupon_id="nope"),
                               test_mode=True)
    assert answer["result_code"] in (4, 5) and answer["err_detail"]


# --- get_bill -----------------------------------------------------------------------------------

def test_get_bill_answers_every_documented_field(merchant):
    answer = create(merchant, channel="ALI_WEB", optional={"k": "v"})
    pay = bills.get_bill(merchant, answer["id"], test_mode=True)["pay"]
    assert list(pay) == ["id", "bill_no", "bill_fee", "total_fee", "discount", "coupon_id",
                         "trade_no", "channel", "sub_channel", "title", "buyer_id", "seller_id",
                         "store_id", "operator_id", "spay_result", "create_time",
                         "success_time", "optional", "message_detail", "revert_result",
                         "refund_result"]
    assert pay["channel"] == "ALI" and pay["sub_channel"] == "ALI_WEB"
    assert json.loads(pay["optional"]) == {"k": "v"}
    assert pay["spay_result"] is False and len(str(pay["create_time"])) == 13


def test_paid_bill_shows_trade_no_success_time_and_message_detail(merchant):
    answer = create(merchant)
    set_status(answer["id"], Bill.PAID, trade_no="4200000001", pay_time=now_ms(),
               message_detail={"transaction_id": "4200000001"})
    pay = bills.get_bill(merchant, answer["id"], test_mode=True)["pay"]
    assert pay["spay_result"] is True and pay["trade_no"] == "4200000001"
    assert pay["success_time"] and json.loads(pay["message_detail"])["transaction_id"]


def test_get_bill_of_another_app_or_mode_is_no_such_bill(merchant, make_merchant):
    answer = create(merchant)
    assert bills.get_bill(make_merchant("Other"), answer["id"], test_mode=True)["result_code"] == 8
    assert bills.get_bill(merchant, answer["id"], test_mode=False)["result_code"] == 8
    assert bills.get_bill(merchant, "x" * 500, test_mode=True)["result_code"] == 8
    assert bills.get_bill(merchant, "a\x00b", test_mode=True)["result_code"] == 8


# --- query_bills filters --------------------------------------------------------------------

def ids(answer) -> set:
    assert answer["result_code"] == 0, answer
    return {bill["id"] for bill in answer["bills"]}


def test_channel_family_matches_every_sub_channel(merchant):
    wx1 = create(merchant, channel="WX_NATIVE")["id"]
    wx2 = create(merchant, channel="WX_JSAPI", openid="o1")["id"]
    ali = create(merchant, channel="ALI_WEB")["id"]
    assert ids(bills.query_bills(merchant, {"channel": "WX"}, test_mode=True)) == {wx1, wx2}
    assert ids(bills.query_bills(merchant, {"channel": "WX_JSAPI"}, test_mode=True)) == {wx2}
    assert ids(bills.query_bills(merchant, {"channel": "ALI"}, test_mode=True)) == {ali}


def test_unknown_channel_filter_is_channel_invalid(merchant):
    assert bills.query_bills(merchant, {"channel": "NOPE"}, test_mode=True)["result_code"] == 3


def test_bill_no_and_spay_result_filters(merchant):
    paid = create(merchant)["id"]
    open_ = create(merchant)["id"]
    set_status(paid, Bill.PAID)
    bill_no = db.session.get(Bill, open_).bill_no
    assert ids(bills.query_bills(merchant, {"spay_result": True}, test_mode=True)) == {paid}
    assert ids(bills.query_bills(merchant, {"spay_result": False}, test_mode=True)) == {open_}
    assert ids(bills.query_bills(merchant, {"bill_no": bill_no}, test_mode=True)) == {open_}


def test_refund_result_filter(merchant):
    refunded = create(merchant)["id"]
    other = create(merchant)["id"]
    set_status(refunded, Bill.PAID, refund_result=True)
    assert ids(bills.query_bills(merchant, {"refund_result": True},
                                 test_mode=True)) == {refunded}
    assert ids(bills.query_bills(merchant, {"refund_result": False}, test_mode=True)) == {other}


def test_time_window_is_on_creation_time(merchant):
    early, middle, late = (create(merchant)["id"] for _ in range(3))
    for bill_id, stamp in ((early, 1_000), (middle, 2_000), (late, 3_000)):
        set_status(bill_id, Bill.OPEN, create_time=stamp)
    def window(**filters):
        return ids(bills.query_bills(merchant, filters, test_mode=True))

    assert window(start_time=2_000) == {middle, late}
    assert window(end_time=2_000) == {early, middle}
    assert window(start_time=1_500, end_time=2_500) == {middle}


def test_newest_first_with_skip_and_limit(merchant):
    made = [create(merchant)["id"] for _ in range(4)]
    for offset, bill_id in enumerate(made):
        set_status(bill_id, Bill.OPEN, create_time=10_000 + offset)
    page = bills.query_bills(merchant, {"skip": 1, "limit": 2}, test_mode=True)["bills"]
    assert [bill["id"] for bill in page] == [made[2], made[1]]


def test_default_limit_is_10(merchant):
    for _ in range(12):
        create(merchant)
    assert len(bills.query_bills(merchant, {}, test_mode=True)["bills"]) == 10


@pytest.mark.parametrize("filters", [{"limit": 51}, {"limit": 0}, {"skip": -1},
                                     {"limit": "10"}, {"spay_result": "true"},
                                     {"start_time": "yesterday"}, {"need_detail": 1},
                                     {"bill_no": 12345678}, {"bill_no": "a\x00"},
                                     {"buyer_id": "\x00"}])
def test_bad_filters_are_param_invalid(merchant, filters):
    answer = bills.query_bills(merchant, filters, test_mode=True)
    assert answer["result_code"] == 5 and answer["err_detail"]


def test_message_detail_only_with_need_detail(merchant):
    create(merchant)
    assert "message_detail" not in bills.query_bills(merchant, {}, test_mode=True)["bills"][0]
    detailed = bills.query_bills(merchant, {"need_detail": True}, test_mode=True)
    assert "message_detail" in detailed["bills"][0]


def test_queries_see_only_the_apps_bills_in_the_mode(make_live_merchant, make_merchant):
    merchant = make_live_merchant()  # a live ALI_WEB bill: Alipay's page pay, no network
    live = create(merchant, test_mode=False, channel="ALI_WEB")["id"]
    test = create(merchant, test_mode=True)["id"]
    create(make_merchant("Other"))
    assert ids(bills.query_bills(merchant, {})) == {live}
    assert ids(bills.query_bills(merchant, {}, test_mode=True)) == {test}


def test_count_uses_the_same_filters(merchant):
    create(merchant, channel="WX_NATIVE")
    create(merchant, channel="WX_NATIVE")
    paid = create(merchant, channel="ALI_WEB")["id"]
    set_status(paid, Bill.PAID)
    assert bills.count_bills(merchant, {}, test_mode=True)["count"] == 3
    assert bills.count_bills(merchant, {"channel": "WX"}, test_mode=True)["count"] == 2
    assert bills.count_bills(merchant, {"spay_result": True}, test_mode=True)["count"] == 1


# --- over HTTP: the para= encoding ---------------------------------------------------------------

def test_query_bills_reads_url_encoded_para(client, merchant):
    made = create(merchant, title="白开水")["id"]
    response = client.get("/2/rest/sandbox/bills?para=" + para(merchant, channel="WX"))
    assert ids(response.get_json()) == {made}
    assert response.get_json()["bills"][0]["title"] == "白开水"


def test_count_and_one_bill_over_http(client, merchant):
    made = create(merchant)["id"]
    counted = client.get("/2/rest/sandbox/bills/count?para=" + para(merchant)).get_json()
    assert counted["count"] == 1
    one = client.get(f"/2/rest/sandbox/bill/{made}?para=" + para(merchant)).get_json()
    assert one["result_code"] == 0 and one["pay"]["id"] == made


def test_sandbox_query_twins_use_the_test_secret_and_test_bills(client, make_live_merchant):
    merchant = make_live_merchant()
    test = create(merchant, test_mode=True)["id"]
    create(merchant, test_mode=False, channel="ALI_WEB")  # live: not listed by the twins
    secret = merchant.test_secret
    listed = client.get("/2/rest/sandbox/bills?para=" + para(merchant, secret)).get_json()
    assert ids(listed) == {test}
    count = client.get("/2/rest/sandbox/bills/count?para=" + para(merchant, secret)).get_json()
    assert count["count"] == 1
    one = client.get(f"/2/rest/sandbox/bill/{test}?para=" + para(merchant, secret)).get_json()
    assert one["pay"]["id"] == test
    live_sign = client.get("/2/rest/sandbox/bills?para="
                           + para(merchant, merchant.app_secret)).get_json()
    assert live_sign["result_code"] == 1


def test_missing_para_is_miss_param(client):
    assert client.get("/2/rest/bills").get_json()["result_code"] == 4


@pytest.mark.parametrize("raw", ["not-json", quote_plus("[1]"), quote_plus("{" * 5000)])
def test_malformed_para_is_param_invalid(client, raw):
    response = client.get("/2/rest/bills?para=" + raw)
    assert response.status_code == 200 and response.get_json()["result_code"] == 5


def test_query_with_wrong_sign_is_app_invalid(client, merchant):
    raw = json.loads(json.dumps({"app_id": merchant.app_id, "timestamp": now_ms(),
                                 "app_sign": "f" * 32}))
    response = client.get("/2/rest/bills?para=" + quote_plus(json.dumps(raw)))
    assert response.get_json()["result_code"] == 1


# --- races ----------------------------------------------------------------------------------------



@pytest.mark.postgresql
def test_racing_identical_requests_get_one_bill(app, merchant, race):
    from checkout import merchants

    app_id, request = merchant.app_id, request_for("WX_NATIVE")
    answers = race(8, lambda _i: bills.create_bill(merchants.get_merchant(app_id),
                                                        dict(request), test_mode=True))
    assert {a["result_code"] for a in answers} == {0}
    assert len({a["id"] for a in answers}) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Bill)
                             .where(Bill.bill_no == request["bill_no"])) == 1


@pytest.mark.postgresql
def test_racing_channels_each_get_their_own_open_bill(app, merchant, race):
    from checkout import merchants

    app_id, request = merchant.app_id, request_for("WX_NATIVE")
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB"] * 2
    answers = race(len(channels), lambda i: bills.create_bill(
        merchants.get_merchant(app_id), {**request, "channel": channels[i]}, test_mode=True))
    assert {a["result_code"] for a in answers} == {0}
    assert len({a["id"] for a in answers}) == 4


@pytest.mark.postgresql
def test_racing_channels_with_different_fees_keep_one_fee(app, merchant, race):
    from checkout import merchants

    app_id, request = merchant.app_id, request_for("WX_NATIVE")
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB", "KUAIQIAN_WEB", "YEE_WEB"]
    answers = race(len(channels), lambda i: bills.create_bill(
        merchants.get_merchant(app_id),
        {**request, "channel": channels[i], "total_fee": 100 + i}, test_mode=True))
    assert [a["result_code"] for a in answers].count(0) == 1
    fees = set(db.session.scalars(db.select(Bill.bill_fee)
                                  .where(Bill.bill_no == request["bill_no"])))
    assert len(fees) == 1


def test_racing_channels_with_different_fees_keep_one_fee_on_any_database(app, merchant, race):
    """The same rule with the database's own locking (SQLite: the write lock)."""
    from checkout import merchants

    app_id, request = merchant.app_id, request_for("WX_NATIVE")
    channels = ["WX_NATIVE", "ALI_WEB", "UN_WEB", "JD_WEB"]
    race(len(channels), lambda i: bills.create_bill(
        merchants.get_merchant(app_id),
        {**request, "channel": channels[i], "total_fee": 100 + i}, test_mode=True))
    fees = set(db.session.scalars(db.select(Bill.bill_fee)
                                  .where(Bill.bill_no == request["bill_no"])))
    assert len(fees) == 1
