"""The hosted checkout's entry (issue 3 item 1): the BC.click fields of seed 003
lines 333-359, the sign rule, one checkout per order, clear refusals."""

from __future__ import annotations

import pytest

from checkout import orders, signing
from checkout.db import db
from checkout.models import CheckoutOrder

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def _orders():
    return db.session.execute(db.select(CheckoutOrder)).scalars().all()


def _refused(client, fields, *, json_caller=False):
    headers = {"Accept": "application/json"} if json_caller else {}
    return client.post("/pay", data=fields, headers=headers)


# --- sign ------------------------------------------------------------------------------

def test_a_signed_order_opens_its_chooser(client, merchant, button_order):
    response = client.post("/pay", data=button_order(merchant))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/pay/")
    assert len(_orders()) == 1


def test_the_entry_also_takes_a_get_link(client, merchant, button_order):
    response = client.get("/pay", query_string=button_order(merchant))
    assert response.status_code == 303


def test_the_entry_takes_a_json_body(client, merchant, button_order):
    fields = button_order(merchant, amount=199)
    response = client.post("/pay", json=fields)
    assert response.status_code == 303


def test_a_wrong_sign_is_refused_and_nothing_is_created(client, merchant, button_order):
    fields = button_order(merchant, sign="0" * 32)
    response = _refused(client, fields)
    assert response.status_code == 400
    assert b'data-testid="refused"' in response.data
    assert _orders() == []


def test_the_sign_is_compared_case_insensitively(client, merchant, button_order):
    fields = button_order(merchant)
    fields["sign"] = fields["sign"].upper()
    assert client.post("/pay", data=fields).status_code == 303


def test_amount_as_number_and_as_string_sign_alike(client, merchant, button_order):
    as_string = button_order(merchant, amount="5", out_trade_no="sameno01")
    as_number = dict(as_string, amount=5)
    assert client.post("/pay", json=as_number).status_code == 303
    assert client.post("/pay", data=as_string).status_code == 303
    assert len(_orders()) == 1


def test_a_utf8_title_is_signed_over_its_utf8_bytes(client, merchant, button_order):
    fields = button_order(merchant, title="中文 node.js water")
    expected = signing.md5_hex(f"{merchant.app_id}中文 node.js water199"
                               f"{fields['out_trade_no']}{merchant.app_secret}")
    assert fields["sign"] == expected
    assert client.post("/pay", data=fields).status_code == 303


def test_a_sign_made_with_another_secret_is_refused(client, merchant, make_merchant,
                                                      button_order):
    other = make_merchant("Other")
    fields = button_order(other)
    fields["appId"] = merchant.app_id
    assert _refused(client, fields).status_code == 400


def test_a_json_caller_gets_beeclouds_error_shape(client, merchant, button_order):
    response = _refused(client, button_order(merchant, sign="f" * 32), json_caller=True)
    assert response.status_code == 400
    assert set(response.get_json()) == {"ERROR"}
    assert "sign" in response.get_json()["ERROR"]


def test_a_refusal_never_shows_the_app_secret(client, merchant, button_order):
    response = _refused(client, button_order(merchant, sign="a" * 32))
    assert merchant.app_secret.encode() not in response.data


def test_app_id_is_accepted_as_an_alias_of_appId(client, merchant, button_order):
    fields = button_order(merchant)
    fields["app_id"] = fields.pop("appId")
    assert client.post("/pay", data=fields).status_code == 303


# --- every field rule (OrderRefused.reason, checked through the page) ----------------------

def _reason(merchant, button_order, **fields):
    with pytest.raises(orders.OrderRefused) as refused:
        orders.read_order(button_order(merchant, **fields))
    return refused.value.reason


def _reason_signed_as(merchant, button_order, sign_fields, **fields):
    """A refusal for a field value that cannot be signed with the factory."""
    order = button_order(merchant, **sign_fields)
    order.update(fields)
    with pytest.raises(orders.OrderRefused) as refused:
        orders.read_order(order)
    return refused.value.reason


@pytest.mark.parametrize("missing", ["title", "amount", "out_trade_no", "sign", "appId"])
def test_each_required_field_is_required(merchant, button_order, missing):
    order = button_order(merchant)
    del order[missing]
    with pytest.raises(orders.OrderRefused) as refused:
        orders.read_order(order)
    assert refused.value.field == missing


def test_an_unknown_app_is_refused(merchant, button_order):
    order = button_order(merchant)
    order["appId"] = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(orders.OrderRefused) as refused:
        orders.read_order(order)
    assert refused.value.reason == "unknown_app"


@pytest.mark.parametrize("title", ["Tom's tea", 'the "best" tea'])
def test_a_title_with_quotes_is_refused(merchant, button_order, title):
    assert _reason(merchant, button_order, title=title) == "title_quotes"


def test_sixteen_chinese_characters_are_a_valid_title(merchant, button_order):
    assert orders.read_order(button_order(merchant, title="一二三四五六七八九十一二三四五六"))


def test_seventeen_chinese_characters_are_too_long(merchant, button_order):
    assert _reason(merchant, button_order, title="一二三四五六七八九十一二三四五六七") \
        == "title_long"


def test_thirty_two_latin_characters_are_a_valid_title_and_thirty_three_are_not(
        merchant, button_order):
    assert orders.read_order(button_order(merchant, title="a" * 32))
    assert _reason(merchant, button_order, title="a" * 33) == "title_long"


def test_a_mixed_title_counts_chinese_characters_twice(merchant, button_order):
    assert orders.read_order(button_order(merchant, title="茶" * 10 + "a" * 12))
    assert _reason(merchant, button_order, title="茶" * 10 + "a" * 13) == "title_long"


@pytest.mark.parametrize("amount", ["0", "-1", "1.5", "abc", "1e3", " 1", "１"])
def test_an_amount_that_is_not_a_positive_whole_number_is_refused(merchant, button_order,
                                                                    amount):
    assert _reason_signed_as(merchant, button_order, {}, amount=amount) == "amount_invalid"


def test_a_boolean_amount_is_refused(merchant, button_order):
    assert _reason_signed_as(merchant, button_order, {}, amount=True) == "amount_invalid"


def test_an_amount_above_the_gateway_limit_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, amount=str(10 ** 10 + 1)) == "amount_invalid"


@pytest.mark.parametrize("number", ["no-dash", "with space", "中文", "a" * 65, "semi;colon"])
def test_an_out_trade_no_outside_letters_digits_underscore_is_refused(merchant, button_order,
                                                                       number):
    assert _reason(merchant, button_order, out_trade_no=number) == "out_trade_no_invalid"


@pytest.mark.parametrize("number", ["a", "order_1", "A1b2C3d4", "x" * 64])
def test_out_trade_no_of_letters_digits_and_underscores_is_accepted(merchant, button_order,
                                                                    number):
    assert orders.read_order(button_order(merchant, out_trade_no=number)).out_trade_no == number


@pytest.mark.parametrize("url,reason", [
    ("ftp://shop.example.com/done", "return_url_invalid"),
    ("shop.example.com/done", "return_url_invalid"),
    ("https://shop.example.com/done?order=1", "return_url_query"),
    ("https://shop.example.com/done#top", "return_url_query"),
    ("https://evil.example.net/done", "return_url_host"),
    ("https://shop.example.com.evil.net/done", "return_url_host"),
    ("https://shop.example.com@evil.net/done", "return_url_invalid"),
])
def test_a_bad_return_url_is_refused(merchant, button_order, url, reason):
    assert _reason(merchant, button_order, return_url=url) == reason


def test_a_return_url_on_a_merchant_host_is_accepted(merchant, button_order):
    order = orders.read_order(button_order(merchant, return_url="https://shop.example.com/ok"))
    assert order.return_url == "https://shop.example.com/ok"


def test_a_flat_optional_object_is_accepted(merchant, button_order):
    order = orders.read_order(button_order(merchant, optional='{"test": "willreturn", "n": 1}'))
    assert order.optional == {"test": "willreturn", "n": 1}


def test_a_nested_optional_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, optional='{"a": {"b": 1}}') == "optional_nested"


@pytest.mark.parametrize("value", ["[1, 2]", "not json", "3"])
def test_an_optional_that_is_not_an_object_is_refused(merchant, button_order, value):
    assert _reason(merchant, button_order, optional=value) == "json_invalid"


def test_an_unknown_instant_channel_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, instant_channel="bitcoin") == "instant_invalid"


def test_a_flag_that_is_not_true_or_false_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, need_ali_guide="maybe") == "invalid"


def test_an_embed_from_an_origin_the_merchant_did_not_allow_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, embed="1",
                   parent_origin="https://evil.example.net") == "frame_origin"


def test_a_control_character_in_a_field_is_refused(merchant, button_order):
    assert _reason(merchant, button_order, buyer_id="a\x00b") == "invalid"


def test_every_refusal_page_is_a_friendly_400_never_a_500(client, merchant, button_order):
    for fields in (button_order(merchant, title="a'b"), {"appId": merchant.app_id},
                   {"amount": "x"}, button_order(merchant, optional="{"),
                   button_order(merchant, return_url="https://x.example.net/")):
        assert client.post("/pay", data=fields).status_code == 400


def test_a_malformed_json_body_is_refused_as_json(client):
    response = client.post("/pay", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "ERROR" in response.get_json()


# --- one order, one checkout ----------------------------------------------------------------

def test_the_same_order_opened_twice_is_the_same_checkout(client, merchant, button_order):
    fields = button_order(merchant)
    first = client.post("/pay", data=fields).headers["Location"]
    again = client.post("/pay", data=fields).headers["Location"]
    assert first == again
    assert len(_orders()) == 1


def test_the_same_order_number_with_another_amount_is_refused(client, merchant, button_order):
    fields = button_order(merchant, out_trade_no="dup000001")
    client.post("/pay", data=fields)
    other = button_order(merchant, out_trade_no="dup000001", amount="200")
    response = _refused(client, other, json_caller=True)
    assert response.status_code == 400
    assert "another amount" in response.get_json()["ERROR"]


def test_a_letters_and_digits_order_number_is_the_bill_no():
    assert orders.bill_no_for("order20261124") == "order20261124"


@pytest.mark.parametrize("number", ["a_b", "short", "x" * 40])
def test_other_order_numbers_map_to_a_stable_valid_bill_no(number):
    bill_no = orders.bill_no_for(number)
    assert bill_no == orders.bill_no_for(number)
    assert orders.BILL_NO.fullmatch(bill_no)
    assert bill_no != orders.bill_no_for(number + "1")


def test_a_long_chinese_title_is_cut_to_the_gateways_32_bytes():
    title = "一二三四五六七八九十一二三四五六"
    cut = orders.bill_title(title)
    assert len(cut.encode("utf-8")) <= 32 and cut.endswith("…") and title.startswith(cut[:-1])


def test_a_short_title_goes_to_the_gateway_unchanged():
    assert orders.bill_title("Oolong tea") == "Oolong tea"
