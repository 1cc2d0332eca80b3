"""The coupon REST API as the BeeCloud SDKs call it (seeds README, seed 003
lines 1280-1412): app_sign auth, para= queries, issuing, result codes."""

from __future__ import annotations

import json
import time
from urllib.parse import quote_plus

import pytest

from checkout import signing
from checkout.models import CouponTemplate
from checkout.sandbox import coupons


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def signed(merchant, *, secret=None, **fields):
    """Signed with the app secret unless told (``merchant.test_secret`` for the sandbox twins)."""
    timestamp = int(time.time() * 1000)
    key = merchant.app_secret if secret is None else secret
    return {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, key), **fields}


def get(client, path, params):
    return client.get(f"{path}?para={quote_plus(json.dumps(params))}").get_json()


def make_template(merchant, **fields):
    fields.setdefault("name", "10 off 100")
    fields.setdefault("type", CouponTemplate.AMOUNT_OFF)
    fields.setdefault("discount", "10")
    fields.setdefault("limit_fee", 10000)
    return coupons.create_template(merchant, **fields)


def test_issue_answers_the_coupon_with_its_template(client, merchant):
    template = make_template(merchant)
    answer = client.post("/2/rest/coupon", json=signed(merchant, template_id=template.id,
                                                       user_id="alice")).get_json()
    assert (answer["result_code"], answer["result_msg"]) == (0, "OK")
    coupon = answer["coupon"]
    assert coupon["user_id"] == "alice" and coupon["status"] == 0
    assert coupon["app_id"] == merchant.app_id
    assert coupon["template"]["id"] == template.id and coupon["template"]["discount"] == 10.0
    assert {"created_at", "updated_at", "start_time", "end_time", "use_time"} <= set(coupon)


def test_issue_without_user_id_is_missing_param(client, merchant):
    template = make_template(merchant)
    answer = client.post("/2/rest/coupon", json=signed(merchant, template_id=template.id)).get_json()
    assert (answer["result_code"], answer["err_detail"]) == (4, "user_id is required")


def test_issue_from_an_unknown_template_is_param_invalid(client, merchant):
    answer = client.post("/2/rest/coupon", json=signed(merchant, template_id="nope",
                                                       user_id="alice")).get_json()
    assert answer["result_code"] == 5 and "no such coupon template" in answer["err_detail"]


def test_wrong_app_sign_is_app_invalid(client, merchant):
    body = signed(merchant, template_id="x", user_id="alice")
    body["app_sign"] = "0" * 32
    answer = client.post("/2/rest/coupon", json=body).get_json()
    assert (answer["result_code"], answer["result_msg"]) == (1, "APP_INVALID")


def test_old_timestamp_is_app_invalid(client, merchant):
    timestamp = int(time.time() * 1000) - 3600 * 1000
    body = {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, merchant.app_secret)}
    answer = get(client, "/2/rest/coupon", body)
    assert answer["result_code"] == 1 and "timestamp" in answer["err_detail"]


def test_signing_with_the_master_secret_is_refused(client, merchant):
    timestamp = int(time.time() * 1000)
    body = {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, merchant.master_secret)}
    assert get(client, "/2/rest/coupon", body)["result_code"] == 1


def test_missing_para_is_missing_param(client):
    answer = client.get("/2/rest/coupon").get_json()
    assert answer["result_code"] == 4 and "para" in answer["err_detail"]


def test_para_that_is_not_json_is_param_invalid(client):
    answer = client.get("/2/rest/coupon?para=%7Bnope").get_json()
    assert answer["result_code"] == 5


def test_body_that_is_not_json_is_param_invalid(client):
    answer = client.post("/2/rest/coupon", data="nope",
                         content_type="application/json").get_json()
    assert answer["result_code"] == 5


def test_template_by_id(client, merchant):
    template = make_template(merchant)
    answer = get(client, f"/2/rest/coupon/template/{template.id}", signed(merchant))
    assert answer["result_code"] == 0
    assert answer["coupon_template"]["limit_fee"] == 10000


def test_another_apps_template_is_not_found(client, merchant, make_merchant):
    template = make_template(make_merchant("Other"))
    answer = get(client, f"/2/rest/coupon/template/{template.id}", signed(merchant))
    assert answer["result_code"] == 5 and "coupon_template" not in answer


def test_templates_filtered_by_name_and_paged(client, merchant):
    for index in range(3):
        make_template(merchant, name="weekly", now_ms=1000 + index)
    make_template(merchant, name="other", now_ms=5000)
    answer = get(client, "/2/rest/coupon/template", signed(merchant, name="weekly", skip=1, limit=1))
    assert [t["created_at"] for t in answer["coupon_templates"]] == [1001]


def test_templates_created_window(client, merchant):
    for stamp in (1000, 2000, 3000):
        make_template(merchant, now_ms=stamp)
    answer = get(client, "/2/rest/coupon/template",
                 signed(merchant, created_after=1500, created_before=3000))
    assert [t["created_at"] for t in answer["coupon_templates"]] == [3000, 2000]


def test_bad_limit_is_param_invalid(client, merchant):
    answer = get(client, "/2/rest/coupon/template", signed(merchant, limit=0))
    assert answer["result_code"] == 5 and "limit" in answer["err_detail"]


def test_coupon_by_id(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant).id, "alice")
    answer = get(client, f"/2/rest/coupon/{coupon.id}", signed(merchant))
    assert answer["coupon"]["id"] == coupon.id and answer["coupon"]["template"]["type"] == 0


def test_coupons_filtered_by_user_template_and_status(client, merchant):
    first, second = make_template(merchant), make_template(merchant)
    mine = coupons.issue_coupon(merchant, first.id, "alice")
    coupons.issue_coupon(merchant, second.id, "alice")
    coupons.issue_coupon(merchant, first.id, "bob")
    answer = get(client, "/2/rest/coupon",
                 signed(merchant, user_id="alice", template_id=first.id, status=0))
    assert [c["id"] for c in answer["coupons"]] == [mine.id]
    used = get(client, "/2/rest/coupon", signed(merchant, status=1))
    assert used["coupons"] == []


def test_coupons_limit_fee_filter_returns_those_the_amount_meets(client, merchant):
    # Seed 003 line 1397: passing 11000 returns the "满100减10" coupon (limit 10000).
    over_100 = coupons.issue_coupon(merchant, make_template(merchant, limit_fee=10000).id, "alice")
    coupons.issue_coupon(merchant, make_template(merchant, limit_fee=20000).id, "alice")
    answer = get(client, "/2/rest/coupon", signed(merchant, limit_fee=11000))
    assert [c["id"] for c in answer["coupons"]] == [over_100.id]
    exact = get(client, "/2/rest/coupon", signed(merchant, limit_fee=10000))
    assert [c["id"] for c in exact["coupons"]] == [over_100.id]


# --- the official SDK (beecloud 3.6.0), only its API host changed ----------------------------

@pytest.fixture
def sdk(live_server, merchant, monkeypatch):
    import beecloud.utils
    from beecloud.entity import BCApp

    monkeypatch.setattr(beecloud.utils, "BEECLOUD_API_HOST", live_server.url)
    bc_app = BCApp()
    bc_app.app_id, bc_app.app_secret = merchant.app_id, merchant.app_secret
    bc_app.timeout = 10
    return bc_app


def test_sdk_issues_and_queries_coupons(sdk, merchant):
    from beecloud import sales
    from beecloud.entity import BCQueryCriteria

    template = make_template(merchant, name="SDK 10 off")
    result = sales.create_coupon(sdk, template.id, "sdk-user")
    assert result.result_code == 0, result.err_detail
    assert result.coupon.template.name == "SDK 10 off"

    one = sales.query_coupon(sdk, result.coupon.id)
    assert one.coupon.user_id == "sdk-user"

    criteria = BCQueryCriteria()
    criteria.user_id = "sdk-user"
    criteria.limit_fee = 10000
    listed = sales.query_coupons(sdk, criteria)
    assert [c.id for c in listed.coupons] == [result.coupon.id]

    assert sales.query_coupon_template(sdk, template.id).coupon_template.discount == 10.0
    assert [t.id for t in sales.query_coupon_templates(sdk, BCQueryCriteria()).coupon_templates] \
        == [template.id]


# --- bills with coupons, through the bill API ----------------------------------------------------

def create_bill(client, merchant, **fields):
    """A sandbox bill (``/2/rest/sandbox/bill``, test secret): a live WX_NATIVE
    bill would answer 2 PAY_FACTOR_NOT_SET before any coupon rule."""
    import uuid

    body = signed(merchant, secret=merchant.test_secret, channel="WX_NATIVE", total_fee=10000,
                  title="tea", bill_no=uuid.uuid4().hex[:20], **fields)
    return client.post("/2/rest/sandbox/bill", json=body).get_json()


def test_bill_with_a_coupon_costs_the_discounted_amount_and_says_so(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant, discount="12.5").id, "alice")
    created = create_bill(client, merchant, buyer_id="alice", coupon_id=coupon.id)
    assert created["result_code"] == 0, created
    pay = get(client, f"/2/rest/sandbox/bill/{created['id']}",
              signed(merchant, secret=merchant.test_secret))["pay"]
    assert (pay["bill_fee"], pay["discount"], pay["total_fee"], pay["coupon_id"]) == \
        (10000, 1250, 8750, coupon.id)
    listed = get(client, "/2/rest/sandbox/bills",
                 signed(merchant, secret=merchant.test_secret, bill_no=pay["bill_no"]))["bills"]
    assert (listed[0]["bill_fee"], listed[0]["discount"], listed[0]["total_fee"]) == \
        (10000, 1250, 8750)


def test_bill_does_not_consume_the_coupon(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant).id, "alice")
    create_bill(client, merchant, buyer_id="alice", coupon_id=coupon.id)
    assert get(client, f"/2/rest/coupon/{coupon.id}", signed(merchant))["coupon"]["status"] == 0


def test_bill_with_another_buyers_coupon_is_refused(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant).id, "alice")
    refused = create_bill(client, merchant, buyer_id="bob", coupon_id=coupon.id)
    assert (refused["result_code"], refused["err_detail"]) == \
        (5, "the coupon was not issued to this buyer_id")


def test_bill_with_a_coupon_but_no_buyer_is_missing_param(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant).id, "alice")
    refused = create_bill(client, merchant, coupon_id=coupon.id)
    assert refused["result_code"] == 4 and "buyer_id" in refused["err_detail"]


def test_bill_below_the_coupons_limit_fee_is_refused(client, merchant):
    coupon = coupons.issue_coupon(merchant, make_template(merchant, limit_fee=10001).id, "alice")
    refused = create_bill(client, merchant, buyer_id="alice", coupon_id=coupon.id)
    assert refused["result_code"] == 5 and "limit_fee" in refused["err_detail"]
