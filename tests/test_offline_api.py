"""The offline API of seed 000: QR and barcode bills at a till, their status,
and REVERT."""

from __future__ import annotations

import pytest

from checkout import signing
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill

_counter = iter(range(10 ** 6))
WECHAT_CODE = "134567890123456789"   # 18 digits starting 10-15
ALIPAY_CODE = "281234567890123456"   # 16-24 digits starting 25-30


def new_bill_no() -> str:
    return f"O{now_ms()}{next(_counter):06d}"


def signed(merchant, **fields) -> dict:
    stamp = now_ms()
    return {"app_id": merchant.app_id, "timestamp": stamp,
            "app_sign": signing.app_sign(merchant.app_id, stamp, merchant.app_secret), **fields}


def offline_bill(client, merchant, channel, **overrides) -> dict:
    fields = {"channel": channel, "total_fee": 1, "bill_no": new_bill_no(), "title": "水"}
    fields.update(overrides)
    response = client.post("/2/rest/offline/bill", json=signed(merchant, **fields))
    assert response.status_code == 200
    return response.get_json()


def post(client, path, merchant, **fields) -> dict:
    response = client.post(path, json=signed(merchant, **fields))
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.mark.parametrize("channel", ["WX_NATIVE", "ALI_OFFLINE_QRCODE"])
def test_qr_channels_answer_a_code_url_to_the_cashier(client, merchant, channel):
    answer = offline_bill(client, merchant, channel)
    assert answer["result_code"] == 0, answer
    assert "/sandbox/cashier/" in answer["code_url"] and answer["id"]


@pytest.mark.parametrize("channel", ["WX_SCAN", "ALI_SCAN", "SCAN"])
def test_barcode_channels_require_auth_code(client, merchant, channel):
    answer = offline_bill(client, merchant, channel)
    assert answer["result_code"] == 4 and "auth_code" in answer["err_detail"]


@pytest.mark.parametrize("channel,code", [("WX_SCAN", ALIPAY_CODE), ("ALI_SCAN", WECHAT_CODE),
                                          ("SCAN", "999"), ("WX_SCAN", 134567890123456789)])
def test_auth_code_must_fit_the_channel(client, merchant, channel, code):
    answer = offline_bill(client, merchant, channel, auth_code=code)
    assert answer["result_code"] == 5 and "auth_code" in answer["err_detail"]


def test_unified_scan_tells_which_barcode_it_was(client, merchant):
    answer = offline_bill(client, merchant, "SCAN", auth_code=ALIPAY_CODE)
    assert answer["result_code"] == 0 and answer["channel_type"] == "ALI_SCAN"
    assert db.session.get(Bill, answer["id"]).channel == "ALI_SCAN"


def test_barcode_bill_is_stored_without_the_auth_code(client, merchant):
    answer = offline_bill(client, merchant, "WX_SCAN", auth_code=WECHAT_CODE)
    bill = db.session.get(Bill, answer["id"])
    assert WECHAT_CODE not in str(bill.channel_params)


def test_barcode_payment_is_paid_at_once_in_the_sandbox(client, merchant):
    answer = offline_bill(client, merchant, "WX_SCAN", auth_code=WECHAT_CODE)
    assert answer["result_code"] == 0 and answer["pay_result"] is True
    assert db.session.get(Bill, answer["id"]).status == Bill.PAID


@pytest.mark.parametrize("channel", ["ALI_WEB", "NOPE", "BC_WX_SCAN"])
def test_online_or_unknown_channels_are_channel_invalid(client, merchant, channel):
    assert offline_bill(client, merchant, channel)["result_code"] == 3


def test_offline_bill_keeps_the_common_rules(client, merchant):
    assert offline_bill(client, merchant, "WX_NATIVE", total_fee=0)["result_code"] == 5
    assert offline_bill(client, merchant, "WX_NATIVE", bill_no="short")["result_code"] == 5


def test_offline_bill_needs_a_valid_app_sign(client, merchant):
    body = signed(merchant, channel="WX_NATIVE", total_fee=1, bill_no=new_bill_no(), title="x")
    body["app_sign"] = "0" * 32
    assert client.post("/2/rest/offline/bill", json=body).get_json()["result_code"] == 1


# --- status -----------------------------------------------------------------------------------

def test_status_of_an_unpaid_qr_bill_is_false(client, merchant):
    bill_no = new_bill_no()
    offline_bill(client, merchant, "WX_NATIVE", bill_no=bill_no)
    answer = post(client, "/2/rest/offline/bill/status", merchant, bill_no=bill_no,
                  channel="WX_NATIVE")
    assert answer["result_code"] == 0 and answer["pay_result"] is False


def test_status_turns_true_once_paid(client, merchant):
    bill_no = new_bill_no()
    made = offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    bill = db.session.get(Bill, made["id"])
    bill.status = Bill.PAID
    db.session.commit()
    answer = post(client, "/2/rest/offline/bill/status", merchant, bill_no=bill_no)
    assert answer["pay_result"] is True


def test_status_of_unknown_bill_no_is_no_such_bill(client, merchant):
    answer = post(client, "/2/rest/offline/bill/status", merchant, bill_no=new_bill_no())
    assert answer["result_code"] == 8


def test_status_needs_bill_no(client, merchant):
    assert post(client, "/2/rest/offline/bill/status", merchant)["result_code"] == 4


# --- revert ------------------------------------------------------------------------------------

def test_revert_closes_an_open_bill(client, merchant):
    bill_no = new_bill_no()
    made = offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    answer = post(client, f"/2/rest/offline/bill/{bill_no}", merchant, method="REVERT")
    assert answer["result_code"] == 0 and answer["revert_status"] is True
    db.session.expire_all()
    bill = db.session.get(Bill, made["id"])
    assert bill.status == Bill.REVERTED and bill.revert_result is True


def test_revert_undoes_a_paid_bill(client, merchant):
    bill_no = new_bill_no()
    made = offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    bill = db.session.get(Bill, made["id"])
    bill.status = Bill.PAID
    db.session.commit()
    post(client, f"/2/rest/offline/bill/{bill_no}", merchant, method="REVERT",
         channel="ALI_OFFLINE_QRCODE")
    db.session.expire_all()
    assert db.session.get(Bill, made["id"]).status == Bill.REVERTED


def test_reverted_bill_cannot_be_created_again(client, merchant):
    bill_no = new_bill_no()
    offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    post(client, f"/2/rest/offline/bill/{bill_no}", merchant, method="REVERT")
    again = offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    assert again["result_code"] == 7


def test_revert_needs_method_revert(client, merchant):
    bill_no = new_bill_no()
    offline_bill(client, merchant, "WX_NATIVE", bill_no=bill_no)
    path = f"/2/rest/offline/bill/{bill_no}"
    assert post(client, path, merchant)["result_code"] == 4
    assert post(client, path, merchant, method="DELETE")["result_code"] == 5


def test_wx_native_cannot_be_reverted_by_channel(client, merchant):
    bill_no = new_bill_no()
    offline_bill(client, merchant, "WX_NATIVE", bill_no=bill_no)
    answer = post(client, f"/2/rest/offline/bill/{bill_no}", merchant, method="REVERT",
                  channel="WX_NATIVE")
    assert answer["result_code"] == 3


def test_revert_of_unknown_bill_is_no_such_bill(client, merchant):
    answer = post(client, f"/2/rest/offline/bill/{new_bill_no()}", merchant, method="REVERT")
    assert answer["result_code"] == 8


@pytest.mark.parametrize("column", ["refunded_fee", "refunding_fee"])
def test_a_bill_with_refunds_cannot_be_reverted(client, merchant, column):
    # A revert gives the whole payment back; after (or during) a refund that
    # would return money twice.
    bill_no = new_bill_no()
    made = offline_bill(client, merchant, "ALI_OFFLINE_QRCODE", bill_no=bill_no)
    bill = db.session.get(Bill, made["id"])
    bill.status = Bill.PAID
    setattr(bill, column, 1)
    db.session.commit()
    answer = post(client, f"/2/rest/offline/bill/{bill_no}", merchant, method="REVERT",
                  channel="ALI_OFFLINE_QRCODE")
    assert answer["result_code"] == 7
    assert "refunds" in answer["err_detail"]
    db.session.expire_all()
    assert db.session.get(Bill, made["id"]).status == Bill.PAID
