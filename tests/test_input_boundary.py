"""The input boundary (issue 12, deliverable 1): every value is checked once,
where it enters, and a refusal names the field in the caller's terms.

Each case below is one that broke before (the issue's list); the generated
inputs of ``test_generated_inputs.py`` look for the ones nobody listed.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from checkout import inputs
from checkout.clock import now_ms
from checkout.inputs import BadInput
from checkout.sandbox import bills

_numbers = iter(range(10 ** 6))


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def new_bill_no() -> str:
    return f"B{now_ms()}{next(_numbers):06d}"


def bill_body(app_signed, merchant, **fields) -> dict:
    return app_signed(merchant, **{"channel": "ALI_WEB", "total_fee": 1,
                                   "bill_no": new_bill_no(), "title": "水",
                                   "return_url": "https://shop.example.com/r", **fields})


def post_json(client, path, body) -> dict:
    """POST ``body`` (any Python value, lone surrogates as JSON escapes)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(path, data=raw, content_type="application/json")
    assert response.status_code == 200
    return response.get_json()


def para_get(client, path, para) -> dict:
    response = client.get(f"{path}?para=" + quote(json.dumps(para), safe=""))
    assert response.status_code == 200
    return response.get_json()


# --- the rules --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\x00", "a\x01", "\x1b", "\x7f", "\x85"])
def test_text_with_a_lone_surrogate_or_control_character_is_refused(text):
    with pytest.raises(BadInput):
        inputs.check_text(text, "title")


@pytest.mark.parametrize("text", ["水", "😀👨‍👩‍👧", "line\nbreak\ttab\r", "مرحبا\u200f", "e\u0301"])
def test_ordinary_text_of_any_script_passes(text):
    assert inputs.check_text(text, "title") == text


def test_json_nested_to_the_limit_passes_and_one_level_more_is_refused():
    at_limit = "[" * inputs.MAX_DEPTH + "]" * inputs.MAX_DEPTH
    assert inputs.parse_json(at_limit, "body") is not None
    with pytest.raises(BadInput, match="nested too deeply"):
        inputs.parse_json("[" + at_limit + "]", "body")


def test_json_nested_thousands_deep_is_refused_without_recursing():
    with pytest.raises(BadInput, match="nested too deeply"):
        inputs.parse_json("[" * 100_000 + "]" * 100_000, "body")


@pytest.mark.parametrize("raw", ['{"n": NaN}', '{"n": Infinity}', '{"n": 1e999}'])
def test_json_numbers_must_be_finite(raw):
    with pytest.raises(BadInput, match="n must be a finite number"):
        inputs.parse_json(raw, "body")


def test_json_integers_must_fit_a_bigint_column():
    assert inputs.parse_json('{"n": 9223372036854775807}', "body") == {"n": 2 ** 63 - 1}
    with pytest.raises(BadInput, match="^n must be at most"):
        inputs.parse_json('{"n": 9223372036854775808}', "body")


def test_json_with_a_key_given_twice_is_refused_naming_the_key():
    with pytest.raises(BadInput, match="'title' twice"):
        inputs.parse_json('{"title": "a", "title": "b"}', "body")


def test_json_that_is_not_utf8_is_refused():
    with pytest.raises(BadInput, match="not valid UTF-8"):
        inputs.parse_json(b'{"title": "\xff"}', "body")


def test_a_refused_key_is_shown_escaped_never_raw():
    with pytest.raises(BadInput) as refused:
        inputs.parse_json('{"optional": {"\\ud800k": 1}}', "body")
    assert refused.value.field == "optional.\\ud800k"
    refused.value.message.encode("utf-8")  # safe to answer and to log


# --- REST: result code 5 naming the field, never 14 ---------------------------------------------

REST_POSTS = ["/2/rest/bill", "/2/rest/sandbox/bill", "/2/rest/offline/bill",
              "/2/rest/offline/bill/status", "/2/rest/coupon", "/1/rest/international/bill"]


@pytest.mark.parametrize("path", REST_POSTS)
def test_a_lone_surrogate_in_app_sign_is_param_invalid_on_every_rest_path(client, merchant,
                                                                          app_signed, path):
    body = {**app_signed(merchant), "app_sign": "\ud800"}
    answer = post_json(client, path, body)
    assert (answer["result_code"], answer["err_detail"].split()[0]) == (5, "app_sign")


def test_a_bill_whose_optional_holds_a_lone_surrogate_is_refused_and_never_stored(
        client, merchant, app_signed):
    body = bill_body(app_signed, merchant, optional={"k": "\ud800"})
    answer = post_json(client, "/2/rest/bill", body)
    assert (answer["result_code"], answer["err_detail"].split()[0]) == (5, "optional.k")
    count = para_get(client, "/2/rest/bills/count",
                     {**app_signed(merchant), "bill_no": body["bill_no"]})
    assert count["count"] == 0


def test_a_gateway_optional_over_its_size_is_refused(client, merchant, app_signed):
    big = {"k": "x" * bills.MAX_MAP_BYTES}
    answer = post_json(client, "/2/rest/bill", bill_body(app_signed, merchant, optional=big))
    assert answer["result_code"] == 5
    assert answer["err_detail"] == f"optional must be at most {bills.MAX_MAP_BYTES} bytes as JSON"


@pytest.mark.parametrize("name", ["skip", "created_before", "created_after", "limit_fee"])
def test_coupon_query_numbers_beyond_bigint_are_param_invalid(client, merchant, app_signed,
                                                              name):
    answer = para_get(client, "/2/rest/coupon", {**app_signed(merchant), name: 10 ** 30})
    assert (answer["result_code"], answer["err_detail"].split()[0]) == (5, name)


def test_an_offline_status_channel_that_is_a_list_is_channel_invalid(client, merchant,
                                                                     app_signed):
    body = app_signed(merchant, bill_no=new_bill_no(), channel=["WX_SCAN"])
    assert post_json(client, "/2/rest/offline/bill/status", body)["result_code"] == 3


def test_a_timestamp_of_digits_that_are_not_ascii_is_app_invalid(client, merchant, app_signed):
    body = {**bill_body(app_signed, merchant), "timestamp": "²"}
    assert post_json(client, "/2/rest/bill", body)["result_code"] == 1


def test_a_body_nested_a_thousand_deep_is_param_invalid(client):
    answer = post_json(client, "/2/rest/bill", b"[" * 1000 + b"]" * 1000)
    assert answer["result_code"] == 5
    assert "nested too deeply" in answer["err_detail"]


@pytest.mark.parametrize("path, code", [("/2/rest/bill/%00", 8), ("/2/rest/sandbox/bill/a%00", 8),
                                        ("/2/rest/coupon/%00", 5),
                                        ("/2/rest/coupon/template/%00", 5)])
def test_a_rest_path_holding_nul_is_simply_not_found(client, merchant, app_signed, path, code):
    answer = para_get(client, path, app_signed(merchant))
    assert answer["result_code"] == code
    assert "no such" in answer["err_detail"]


def test_an_unknown_rest_path_is_param_invalid_not_an_internal_error(client):
    answer = client.get("/2/rest/nothing-here").get_json()
    assert (answer["result_code"], answer["result_msg"]) == (5, "PARAM_INVALID")


def test_a_rest_path_called_with_the_wrong_method_is_param_invalid(client):
    answer = client.get("/2/rest/bill").get_json()
    assert answer["result_code"] == 5
    assert "does not answer GET" in answer["err_detail"]


# --- the checkout: its refusal page or {"ERROR"}, never a 500 ------------------------------------

def test_a_lone_surrogate_in_the_entrys_optional_is_refused_naming_it(client, merchant,
                                                                      button_order):
    order = button_order(merchant, optional={"k": "\ud800"})
    response = client.post("/pay", data=json.dumps(order), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["ERROR"].startswith("optional.k ")


def test_a_control_character_in_a_form_field_gets_the_refusal_page_naming_it(
        client, merchant, button_order):
    order = button_order(merchant, title="tea\x07")
    response = client.post("/pay", data=order, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert b'data-field="title"' in response.data
    assert b"Nothing was charged" in response.data


def test_the_refusal_page_speaks_chinese_to_a_chinese_shopper(client, merchant, button_order):
    order = button_order(merchant, title="tea\x07")
    response = client.post("/pay", data=order, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400
    assert "该订单无法支付".encode() in response.data


def test_a_page_refusal_speaks_chinese_to_a_chinese_shopper(client):
    response = client.get("/?q=a%01b", headers={"Accept-Language": "zh-CN"})
    assert "其中有信息无效（q）。".encode() in response.data


def test_a_page_refusal_speaks_english_to_an_english_shopper(client):
    response = client.get("/?q=a%01b", headers={"Accept-Language": "en"})
    assert b"Some information in it is not valid (q)." in response.data


def test_a_json_body_nested_a_thousand_deep_is_refused_by_the_button_entries(client):
    deep = b"[" * 1000 + b"]" * 1000
    for path in ("/pay", "/pay/jsapi"):
        response = client.post(path, data=deep, content_type="application/json")
        assert response.status_code == 400, path
        assert "nested too deeply" in response.get_json()["ERROR"]


def test_the_wechat_stand_in_refuses_a_deep_body_in_wechats_own_shape(client):
    response = client.post("/sandbox/wechat/pay", data=b"[" * 1000 + b"]" * 1000,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["err_msg"] == "get_brand_wcpay_request:fail"


@pytest.mark.parametrize("path", ["/pay/%00", "/pay/%00/status", "/pay/%00/return",
                                  "/pay/%00/card", "/pay/a%00b/channel/ALI_WEB",
                                  "/sandbox/paypal/%00", "/sandbox/cashier/%00",
                                  "/demo/return/%00"])
def test_a_page_path_holding_nul_is_not_found(client, path):
    assert client.get(path).status_code == 404


def test_a_page_form_holding_nul_is_refused_not_crashed(client):
    response = client.post("/sandbox/paypal/%00/approve", data={"x": "1"})
    assert response.status_code == 404
    response = client.post("/pay", data={"appId": "\x00"})
    assert response.status_code == 400


def test_a_query_value_holding_a_control_character_is_refused_with_its_name(client):
    response = client.get("/?lang=en&q=a%01b")
    assert response.status_code == 400
    assert b'data-field="q"' in response.data


def test_a_header_we_read_holding_a_control_character_is_refused(client):
    response = client.get("/", headers={"User-Agent": "bot\x01"})
    assert response.status_code == 400
