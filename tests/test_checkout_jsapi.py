"""``POST /pay/jsapi``: the JS button pays with WeChat JSAPI on the merchant's
own page (seed 003 line 361), so it asks us for the bridge's parameters over
CORS, open only to the merchant's own origins (issue 4 item 2)."""

from __future__ import annotations

import pytest

from checkout import signing
from checkout.db import db
from checkout.models import Bill

ORIGIN = "https://shop.example.com"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(frame_origins=[ORIGIN])


def _ask(client, fields, origin=ORIGIN):
    return client.post("/pay/jsapi", json=fields, headers={"Origin": origin})


def test_the_bridge_parameters_come_back_signed_for_the_merchants_origin(client, merchant,
                                                                          button_order):
    response = _ask(client, button_order(merchant, openid="o_shopper_1", amount=1))
    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign",
                         "order", "result_url"}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    bill = db.session.execute(db.select(Bill)).scalar_one()
    assert bill.channel == "WX_JSAPI" and bill.channel_params["openid"] == "o_shopper_1"
    assert body["result_url"].endswith(f"/pay/{body['order']}/return")


def test_the_pay_sign_follows_wechats_md5_rule(client, merchant, button_order):
    body = _ask(client, button_order(merchant, openid="o_shopper_1")).get_json()
    # The sandbox signs with the merchant's master secret (channel_answers.jsapi_pay_sign)
    # over exactly the fields the bridge receives.
    params = {k: body[k] for k in ("appId", "timeStamp", "nonceStr", "package", "signType")}
    assert body["paySign"] == signing.wechat_pay_sign(params, merchant.master_secret)


def test_another_origin_cannot_read_the_answer(client, merchant, button_order):
    response = _ask(client, button_order(merchant, openid="o_1"), origin="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_preflight_lets_a_page_send_the_request(client):
    response = client.options("/pay/jsapi", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"


def test_without_an_openid_the_button_is_told(client, merchant, button_order):
    response = _ask(client, button_order(merchant))
    assert response.status_code == 400 and "openid" in response.get_json()["ERROR"]


def test_a_wrong_sign_is_refused_with_beeclouds_error_shape(client, merchant, button_order):
    response = _ask(client, button_order(merchant, openid="o_1", sign="0" * 32))
    assert response.status_code == 400 and set(response.get_json()) == {"ERROR"}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert db.session.execute(db.select(Bill)).first() is None


def test_a_merchant_without_wechat_jsapi_is_refused(client, make_merchant, button_order):
    merchant = make_merchant("No WeChat", channels=["ALI_WEB"])
    response = _ask(client, button_order(merchant, openid="o_1"))
    assert response.status_code == 400


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post("/pay/jsapi", data="nope", content_type="application/json")
    assert response.status_code == 400 and "ERROR" in response.get_json()


def test_asking_twice_gives_the_same_bill(client, merchant, button_order):
    fields = button_order(merchant, openid="o_1")
    first, second = _ask(client, fields).get_json(), _ask(client, fields).get_json()
    assert first["package"] == second["package"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Bill)) == 1


def test_a_paid_order_is_not_paid_again(client, merchant, button_order):
    from checkout.sandbox import settlement

    fields = button_order(merchant, openid="o_1")
    _ask(client, fields)
    settlement.mark_paid(db.session.execute(db.select(Bill)).scalar_one())
    response = _ask(client, fields)
    assert response.status_code == 409 and "paid" in response.get_json()["ERROR"]
