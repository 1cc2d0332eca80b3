"""The Alipay simulator (issue 14, "Simulators"): a stand-in for Alipay's
OpenAPI ``gateway.do`` that knows only the wire. These tests read as its
specification: python-alipay-sdk 3.4.0, configured as a merchant configures
it (its app private key, the simulator's Alipay public key, the gateway URL
pointed at the simulator), signs the requests and verifies every answer,
return and notification unchanged."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from checkout.connectors.alipay.sdk import AliPay  # its guard against the library's logging set-up first
from checkout.connectors.alipay.sdk import AliPayException

from checkout.db import db
from checkout.simulators.alipay import console, notify, signing
from checkout.simulators.alipay.models import SimNotify, SimTrade

GATEWAY = "/simulators/alipay/gateway.do"
PACKAGE = Path(__file__).resolve().parent.parent / "checkout" / "simulators"


# --- the merchant's side ---------------------------------------------------------------

@pytest.fixture(scope="module")
def merchant_keys():
    """The merchant's app key pair (private PEM, public PEM)."""
    return signing.new_key_pair()


@pytest.fixture
def opened(app, merchant_keys):
    """An app opened on the simulated platform with the merchant's public key."""
    return console.open_app(merchant_keys[1])


def sdk(opened, private_key, gateway: str | None = None) -> AliPay:
    client = AliPay(appid=opened["app_id"], app_private_key_string=private_key,
                    alipay_public_key_string=opened["alipay_public_key"], sign_type="RSA2")
    if gateway:
        # python-alipay-sdk 3.4.0 has no gateway argument: the URL lives in _gateway.
        client._gateway = gateway
    return client


@pytest.fixture
def alipay(opened, merchant_keys):
    """The SDK as the merchant configures it (requests signed; not sent)."""
    return sdk(opened, merchant_keys[0])


@pytest.fixture
def remote(opened, merchant_keys, live_server):
    """The SDK calling the simulator over HTTP, its answer checks on."""
    return sdk(opened, merchant_keys[0], live_server.url + GATEWAY)


def signed(alipay: AliPay, method: str, biz: dict, **common) -> dict:
    """A request's parameters as the SDK signs them."""
    return dict(parse_qsl(alipay.sign_data(alipay.build_body(method, biz, **common))))


def call(client, alipay: AliPay, params: dict, method: str) -> dict:
    """POST the parameters, check the answer's signature as the SDK does, and
    return the response object."""
    raw = client.post(GATEWAY, data=params).get_data(as_text=True)
    return alipay._verify_and_return_sync_response(raw, method.replace(".", "_") + "_response")


def raw_answer(client, params: dict) -> dict:
    return json.loads(client.post(GATEWAY, data=params).get_data(as_text=True))


def trade_of(out_trade_no: str) -> SimTrade:
    db.session.expire_all()
    return db.session.query(SimTrade).filter_by(out_trade_no=out_trade_no).one()


def press(client, cashier_path: str, action: str):
    page = client.get(cashier_path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"{cashier_path}/{action}", data={"csrf_token": token})


def page_pay(client, alipay, out_trade_no="P1", amount="3.00", subject="Oolong tea", **extra):
    query = alipay.api_alipay_trade_page_pay(subject=subject, out_trade_no=out_trade_no,
                                             total_amount=amount, **extra)
    return client.get(f"{GATEWAY}?{query}")


# --- the console ----------------------------------------------------------------------------

def test_opening_an_app_gives_a_16_digit_app_id_and_alipays_public_key(opened):
    assert re.fullmatch(r"2021\d{12}", opened["app_id"])
    assert opened["alipay_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert set(opened) == {"app_id", "alipay_public_key"}


def test_each_app_gets_its_own_alipay_key_pair(app, merchant_keys):
    first, second = console.open_app(merchant_keys[1]), console.open_app(merchant_keys[1])
    assert first["app_id"] != second["app_id"]
    assert first["alipay_public_key"] != second["alipay_public_key"]


def test_the_console_takes_the_bare_base64_key_alipays_key_tool_prints(app, merchant_keys):
    bare = "".join(merchant_keys[1].strip().splitlines()[1:-1])
    assert re.fullmatch(r"2021\d{12}", console.open_app(bare)["app_id"])


@pytest.mark.parametrize("key, message", [
    ("not a key", "not an RSA public key"),
    ("", "empty"),
])
def test_a_key_that_does_not_parse_is_refused_clearly(app, key, message):
    with pytest.raises(console.BadKey, match=message):
        console.open_app(key)


def test_a_1024_bit_key_is_refused_because_rsa2_needs_2048(app):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = small.public_bytes(serialization.Encoding.PEM,
                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(console.BadKey, match="1024 bits"):
        console.open_app(pem)


# --- the common checks ------------------------------------------------------------------------

def test_a_request_signed_by_the_sdk_is_accepted_and_the_answer_verifies(client, alipay):
    answer = call(client, alipay, signed(alipay, "alipay.trade.query", {"out_trade_no": "NONE"}),
                  "alipay.trade.query")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_the_request_string_includes_sign_type_as_alipay_signs_requests(alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    content = signing.request_content(params)
    assert "sign_type=RSA2" in content and "sign=" not in content
    assert signing.verify(signing.normalized_public_key(
        alipay.app_private_key.publickey().export_key().decode()), content, params["sign"])


def test_a_tampered_parameter_is_an_invalid_signature(client, alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    params["biz_content"] = '{"out_trade_no":"B"}'
    answer = call(client, alipay, params, "alipay.trade.query")
    assert (answer["code"], answer["msg"], answer["sub_code"]) == \
        ("40002", "Invalid Arguments", "isv.invalid-signature")


def test_a_request_signed_with_another_key_is_an_invalid_signature(client, opened):
    stranger = sdk(opened, signing.new_key_pair()[0])
    answer = call(client, stranger, signed(stranger, "alipay.trade.query", {"out_trade_no": "A"}),
                  "alipay.trade.query")
    assert answer["sub_code"] == "isv.invalid-signature"


def test_an_rsa_signature_is_refused_for_an_rsa2_app(client, opened, merchant_keys):
    rsa1 = AliPay(appid=opened["app_id"], app_private_key_string=merchant_keys[0],
                  alipay_public_key_string=opened["alipay_public_key"], sign_type="RSA")
    params = signed(rsa1, "alipay.trade.query", {"out_trade_no": "A"})
    answer = raw_answer(client, params)["alipay_trade_query_response"]
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")
    assert "签名算法" in answer["sub_msg"]


def test_an_unknown_app_id_is_refused_unsigned(client, alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    params["app_id"] = "2021000000000000"
    body = raw_answer(client, params)
    assert "sign" not in body
    assert body["alipay_trade_query_response"]["sub_code"] == "isv.invalid-app-id"
    with pytest.raises(AliPayException):  # the SDK refuses an unsigned answer
        call(client, alipay, params, "alipay.trade.query")


@pytest.mark.parametrize("name, sub_code", [("sign", "isv.missing-signature"),
                                            ("timestamp", "isv.missing-timestamp"),
                                            ("sign_type", "isv.missing-signature-type")])
def test_a_missing_common_parameter_is_40001(client, alipay, name, sub_code):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    del params[name]
    answer = raw_answer(client, params)["alipay_trade_query_response"]
    assert (answer["code"], answer["msg"], answer["sub_code"]) == \
        ("40001", "Missing Required Arguments", sub_code)


def test_a_missing_method_is_an_error_response(client, alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    del params["method"]
    assert raw_answer(client, params)["error_response"]["sub_code"] == "isv.missing-method"


def test_an_unknown_method_is_an_error_response(client, alipay):
    params = signed(alipay, "alipay.trade.unheard.of", {"out_trade_no": "A"})
    assert raw_answer(client, params)["error_response"]["sub_code"] == "isv.invalid-method"


def test_a_timestamp_in_another_format_is_refused(client, alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"},
                    timestamp="2026/12/04 10:00")
    assert raw_answer(client, params)["alipay_trade_query_response"]["sub_code"] == \
        "isv.invalid-timestamp"


def test_the_gateway_takes_get_as_well_as_post(client, alipay):
    query = alipay.sign_data(alipay.build_body("alipay.trade.query", {"out_trade_no": "A"}))
    raw = client.get(f"{GATEWAY}?{query}").get_data(as_text=True)
    answer = alipay._verify_and_return_sync_response(raw, "alipay_trade_query_response")
    assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_an_answer_is_the_response_objects_exact_text_signed_with_alipays_key(client, alipay,
                                                                               opened):
    raw = client.post(GATEWAY, data=signed(alipay, "alipay.trade.query",
                                           {"out_trade_no": "A"})).get_data(as_text=True)
    match = re.fullmatch(r'\{"alipay_trade_query_response":(\{.*\}),"sign":"([^"]+)"\}', raw)
    assert signing.verify(opened["alipay_public_key"], match.group(1), match.group(2))


# --- server-to-server methods through the SDK over HTTP ------------------------------------------

def test_precreate_answers_a_qr_code_url_of_the_trades_cashier(remote, client, live_server):
    answer = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q1",
                                               total_amount="1.50")
    assert answer["code"] == "10000" and answer["out_trade_no"] == "Q1"
    assert answer["qr_code"].startswith(live_server.url + "/simulators/alipay/cashier/")


def test_a_precreated_trade_does_not_exist_until_its_qr_code_is_scanned(remote, client):
    answer = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q2",
                                               total_amount="1.50")
    assert remote.api_alipay_trade_query(out_trade_no="Q2")["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    client.get(urlsplit(answer["qr_code"]).path)
    query = remote.api_alipay_trade_query(out_trade_no="Q2")
    assert (query["trade_status"], query["total_amount"]) == ("WAIT_BUYER_PAY", "1.50")


def test_paying_a_precreated_trade_at_its_cashier_makes_it_trade_success(remote, client):
    answer = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q3",
                                               total_amount="1.50")
    press(client, urlsplit(answer["qr_code"]).path, "pay")
    query = remote.api_alipay_trade_query(out_trade_no="Q3")
    assert query["trade_status"] == "TRADE_SUCCESS"
    assert re.fullmatch(r"2\d{27}", query["trade_no"]) and query["buyer_logon_id"]


def test_an_amount_with_three_decimals_is_an_invalid_parameter(remote):
    answer = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q4",
                                               total_amount="1.999")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_a_payment_code_starting_28_pays_at_once(remote):
    answer = remote.api_alipay_trade_pay(out_trade_no="B1", scene="bar_code",
                                         auth_code="281234567890123456", subject="Tea",
                                         total_amount="2.00")
    assert (answer["code"], answer["total_amount"]) == ("10000", "2.00")
    assert answer["trade_no"] and answer["gmt_payment"] and answer["buyer_logon_id"]
    assert remote.api_alipay_trade_query(out_trade_no="B1")["trade_status"] == "TRADE_SUCCESS"


def test_another_payment_code_waits_for_the_buyers_password(remote, client, opened):
    answer = remote.api_alipay_trade_pay(out_trade_no="B2", scene="bar_code",
                                         auth_code="261234567890123456", subject="Tea",
                                         total_amount="2.00")
    assert (answer["code"], answer["msg"]) == ("10003", "order success pay inprocess")
    assert remote.api_alipay_trade_query(out_trade_no="B2")["trade_status"] == "WAIT_BUYER_PAY"
    press(client, urlsplit(console.cashier_url(opened["app_id"], "B2")).path, "pay")
    assert remote.api_alipay_trade_query(out_trade_no="B2")["trade_status"] == "TRADE_SUCCESS"


@pytest.mark.parametrize("code", ["1234", "131234567890123456", "28123"])
def test_a_code_that_is_no_alipay_payment_code_is_refused(remote, code):
    answer = remote.api_alipay_trade_pay(out_trade_no="B3", scene="bar_code", auth_code=code,
                                         subject="Tea", total_amount="2.00")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID")


def test_close_closes_a_waiting_trade(remote):
    remote.api_alipay_trade_pay(out_trade_no="C1", scene="bar_code",
                                auth_code="261234567890123456", subject="Tea", total_amount="2.00")
    assert remote.api_alipay_trade_close(out_trade_no="C1")["code"] == "10000"
    assert remote.api_alipay_trade_query(out_trade_no="C1")["trade_status"] == "TRADE_CLOSED"


def test_close_refuses_a_paid_trade(remote):
    remote.api_alipay_trade_pay(out_trade_no="C2", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    assert remote.api_alipay_trade_close(out_trade_no="C2")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


def test_close_of_an_unknown_trade_is_trade_not_exist(remote):
    assert remote.api_alipay_trade_close(out_trade_no="NOPE")["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_cancel_closes_an_unpaid_trade(remote):
    remote.api_alipay_trade_pay(out_trade_no="X1", scene="bar_code",
                                auth_code="261234567890123456", subject="Tea", total_amount="2.00")
    answer = remote.api_alipay_trade_cancel(out_trade_no="X1")
    assert (answer["code"], answer["action"], answer["retry_flag"]) == ("10000", "close", "N")
    assert remote.api_alipay_trade_query(out_trade_no="X1")["trade_status"] == "TRADE_CLOSED"


def test_cancel_refunds_a_paid_trade_and_answers_the_same_when_asked_again(remote):
    remote.api_alipay_trade_pay(out_trade_no="X2", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    first = remote.api_alipay_trade_cancel(out_trade_no="X2")
    assert (first["action"], first["retry_flag"]) == ("refund", "N")
    assert remote.api_alipay_trade_cancel(out_trade_no="X2")["action"] == "refund"
    assert remote.api_alipay_trade_query(out_trade_no="X2")["trade_status"] == "TRADE_CLOSED"


def test_refunds_may_be_partial_and_add_up_to_what_was_paid(remote):
    remote.api_alipay_trade_pay(out_trade_no="R1", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    first = remote.api_alipay_trade_refund("0.50", out_trade_no="R1", out_request_no="r1")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "0.50")
    rest = remote.api_alipay_trade_refund("1.50", out_trade_no="R1", out_request_no="r2")
    assert rest["refund_fee"] == "2.00"
    assert remote.api_alipay_trade_query(out_trade_no="R1")["trade_status"] == "TRADE_CLOSED"


def test_a_refund_over_what_is_left_is_refused(remote):
    remote.api_alipay_trade_pay(out_trade_no="R2", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    remote.api_alipay_trade_refund("1.50", out_trade_no="R2", out_request_no="r1")
    answer = remote.api_alipay_trade_refund("0.51", out_trade_no="R2", out_request_no="r2")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")


def test_the_same_out_request_no_refunds_once(remote):
    remote.api_alipay_trade_pay(out_trade_no="R3", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    remote.api_alipay_trade_refund("0.50", out_trade_no="R3", out_request_no="r1")
    again = remote.api_alipay_trade_refund("0.50", out_trade_no="R3", out_request_no="r1")
    assert (again["code"], again["fund_change"], again["refund_fee"]) == ("10000", "N", "0.50")


def test_a_refund_of_an_unpaid_trade_is_refused(remote):
    remote.api_alipay_trade_pay(out_trade_no="R4", scene="bar_code",
                                auth_code="261234567890123456", subject="Tea", total_amount="2.00")
    answer = remote.api_alipay_trade_refund("0.50", out_trade_no="R4", out_request_no="r1")
    assert answer["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


def test_the_refund_query_reads_a_refund_by_out_request_no(remote):
    remote.api_alipay_trade_pay(out_trade_no="R5", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    remote.api_alipay_trade_refund("0.70", out_trade_no="R5", out_request_no="r1")
    answer = remote.api_alipay_trade_fastpay_refund_query("r1", out_trade_no="R5")
    assert (answer["refund_amount"], answer["refund_status"], answer["total_amount"]) == \
        ("0.70", "REFUND_SUCCESS", "2.00")


def test_the_refund_query_of_an_unknown_request_has_no_refund_amount(remote):
    remote.api_alipay_trade_pay(out_trade_no="R6", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    answer = remote.api_alipay_trade_fastpay_refund_query("r9", out_trade_no="R6")
    assert answer["code"] == "10000" and "refund_amount" not in answer


def test_an_unpaid_trade_closes_at_its_timeout_express(remote, clock):
    remote.api_alipay_trade_pay(out_trade_no="T1", scene="bar_code",
                                auth_code="261234567890123456", subject="Tea", total_amount="2.00",
                                timeout_express="15m")
    clock.now += 14 * 60_000
    assert remote.api_alipay_trade_query(out_trade_no="T1")["trade_status"] == "WAIT_BUYER_PAY"
    clock.now += 60_000
    assert remote.api_alipay_trade_query(out_trade_no="T1")["trade_status"] == "TRADE_CLOSED"


# --- page methods: the shopper's browser ----------------------------------------------------------

def test_page_pay_shows_the_sandbox_cashier_with_subject_and_amount(client, alipay):
    response = page_pay(client, alipay, subject="乌龙茶", amount="3.00")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SANDBOX · 支付宝模拟器 / Alipay simulator" in page
    assert "乌龙茶" in page and "¥3.00" in page


def test_wap_pay_shows_the_cashier_too(client, alipay):
    query = alipay.api_alipay_trade_wap_pay(subject="Tea", out_trade_no="W1", total_amount="0.01")
    response = client.get(f"{GATEWAY}?{query}")
    assert "/simulators/alipay/cashier/" in response.headers["Location"]


def test_page_pay_with_a_bad_signature_shows_alipays_error_page(client, alipay):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no="P9", total_amount="1.00")
    page = client.get(f"{GATEWAY}?{query.replace('P9', 'P8')}").get_data(as_text=True)
    assert 'data-sub-code="isv.invalid-signature"' in page


def test_the_same_out_trade_no_with_another_amount_is_context_inconsistent(client, alipay):
    page_pay(client, alipay, out_trade_no="P2", amount="3.00")
    page = page_pay(client, alipay, out_trade_no="P2", amount="4.00").get_data(as_text=True)
    assert 'data-sub-code="ACQ.CONTEXT_INCONSISTENT"' in page


def test_a_paid_out_trade_no_shows_trade_has_been_paid(client, alipay):
    cashier = page_pay(client, alipay, out_trade_no="P3").headers["Location"]
    press(client, cashier, "pay")
    page = page_pay(client, alipay, out_trade_no="P3").get_data(as_text=True)
    assert 'data-sub-code="ACQ.TRADE_HAS_SUCCESS"' in page


def test_pay_sends_the_browser_to_return_url_with_parameters_the_sdk_verifies(client, alipay,
                                                                               opened):
    cashier = page_pay(client, alipay, out_trade_no="P4", amount="3.00",
                       return_url="https://shop.example/return").headers["Location"]
    response = press(client, cashier, "pay")
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("shop.example", "/return")
    params = dict(parse_qsl(target.query))
    assert (params["method"], params["out_trade_no"], params["total_amount"], params["app_id"]) \
        == ("alipay.trade.page.pay.return", "P4", "3.00", opened["app_id"])
    sign = params.pop("sign")
    assert alipay.verify(params, sign)


def test_fail_shows_a_failure_and_the_trade_can_still_be_paid(client, alipay):
    cashier = page_pay(client, alipay, out_trade_no="P5").headers["Location"]
    page = press(client, cashier, "fail").get_data(as_text=True)
    assert 'data-state="failed"' in page
    assert trade_of("P5").status == "WAIT_BUYER_PAY"
    press(client, cashier, "pay")
    assert trade_of("P5").status == "TRADE_SUCCESS"


def test_cancel_shows_that_the_buyer_left_with_a_way_back(client, alipay):
    cashier = page_pay(client, alipay, out_trade_no="P6",
                       return_url="https://shop.example/return").headers["Location"]
    page = press(client, cashier, "cancel").get_data(as_text=True)
    assert 'data-state="left"' in page and 'href="https://shop.example/return"' in page
    assert trade_of("P6").status == "WAIT_BUYER_PAY"


def test_the_cashier_of_an_expired_trade_says_it_is_closed(client, alipay, clock):
    cashier = page_pay(client, alipay, out_trade_no="P7", timeout_express="1m").headers["Location"]
    clock.now += 61_000
    page = client.get(cashier).get_data(as_text=True)
    assert 'data-state="closed"' in page and 'data-testid="pay"' not in page
    assert trade_of("P7").status == "TRADE_CLOSED"


def test_pay_on_the_cashier_needs_its_csrf_token(client, alipay):
    cashier = page_pay(client, alipay, out_trade_no="P10").headers["Location"]
    assert client.post(f"{cashier}/pay").status_code == 400
    assert trade_of("P10").status == "WAIT_BUYER_PAY"


@pytest.mark.parametrize("mode, size", [("0", 'width="260"'), ("1", 'width="260"'),
                                        ("3", 'width="75"')])
def test_a_qr_pay_mode_frame_shows_only_the_qr_code_of_the_cashier(client, alipay, mode, size):
    response = page_pay(client, alipay, out_trade_no="F" + mode, qr_pay_mode=mode)
    assert response.headers["Location"].startswith("/simulators/alipay/qr/")
    frame = client.get(response.headers["Location"])
    page = frame.get_data(as_text=True)
    assert 'alt="用支付宝扫码 / Scan with Alipay"' in page and size in page
    assert 'data-testid="pay"' not in page
    assert "frame-ancestors http: https:" in frame.headers["Content-Security-Policy"]


def test_qr_pay_mode_4_is_as_wide_as_qrcode_width(client, alipay):
    response = page_pay(client, alipay, out_trade_no="F4", qr_pay_mode="4", qrcode_width="120")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'width="120"' in page


def test_the_frames_status_leads_to_return_url_once_the_phone_paid(client, alipay):
    response = page_pay(client, alipay, out_trade_no="F5", qr_pay_mode="1",
                        return_url="https://shop.example/return")
    token = response.headers["Location"].rsplit("/", 1)[1]
    status_url = f"/simulators/alipay/cashier/{token}/status"
    assert client.get(status_url).get_json()["state"] == "open"
    phone = press(client, f"/simulators/alipay/cashier/{token}", "pay")
    assert 'data-state="paid"' in phone.get_data(as_text=True)  # the phone stays
    status = client.get(status_url).get_json()
    assert status["trade_status"] == "TRADE_SUCCESS"
    assert status["next"].startswith("https://shop.example/return?")


# --- the async notification ---------------------------------------------------------------------

def paid_with_notify(client, alipay, receiver, out_trade_no="N1"):
    cashier = page_pay(client, alipay, out_trade_no=out_trade_no,
                       notify_url=receiver.url).headers["Location"]
    press(client, cashier, "pay")
    return cashier


def test_paying_sends_a_notify_the_sdk_verifies_unchanged(client, alipay, receiver, opened):
    paid_with_notify(client, alipay, receiver)
    [request] = receiver.received
    assert request["content_type"].startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(request["body"]))
    assert (params["notify_type"], params["trade_status"], params["out_trade_no"],
            params["total_amount"], params["app_id"], params["sign_type"]) == \
        ("trade_status_sync", "TRADE_SUCCESS", "N1", "3.00", opened["app_id"], "RSA2")
    sign = params.pop("sign")
    assert alipay.verify(params, sign)


def test_a_notify_answered_success_is_delivered(client, alipay, receiver):
    paid_with_notify(client, alipay, receiver)
    row = db.session.query(SimNotify).one()
    assert (row.status, row.attempts) == ("delivered", 1)


def test_a_notify_not_answered_success_is_retried_on_alipays_schedule(client, alipay, receiver,
                                                                      clock):
    receiver.reply = "fail"
    paid_with_notify(client, alipay, receiver)
    start = clock.now
    for minutes in (4, 14, 24, 84, 204, 564, 1464):
        assert notify.send_due(start + minutes * 60_000 - 1) == 0
        assert notify.send_due(start + minutes * 60_000) == 1
    assert len(receiver.received) == 8
    assert len({body for body in receiver.bodies}) == 1  # the same notify_id every time
    row = db.session.query(SimNotify).one()
    assert (row.status, row.next_attempt_at) == ("abandoned", None)


def test_a_retried_notify_stops_once_answered_success(client, alipay, receiver, clock):
    receiver.reply = "fail"
    paid_with_notify(client, alipay, receiver)
    receiver.reply = "success"
    assert notify.send_due(clock.now + 4 * 60_000) == 1
    assert notify.send_due(clock.now + 30 * 24 * 3600_000) == 0
    assert db.session.query(SimNotify).one().status == "delivered"


def test_the_operator_can_send_a_notify_again(client, alipay, receiver):
    cashier = paid_with_notify(client, alipay, receiver)
    press(client, cashier, "notify")
    assert len(receiver.received) == 2 and receiver.bodies[0] == receiver.bodies[1]


def test_a_barcode_payment_notifies_too(remote, receiver):
    remote.api_alipay_trade_pay(out_trade_no="NB", scene="bar_code", notify_url=receiver.url,
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")
    assert dict(parse_qsl(receiver.bodies[0]))["out_trade_no"] == "NB"


# --- where it is served, what it imports -----------------------------------------------------------

def test_the_simulator_is_not_served_when_simulators_is_off(app_config, tmp_path, monkeypatch):
    from checkout import create_app

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "off"))
    off = create_app({**app_config, "SIMULATORS": False})
    assert "alipay_sim" not in off.blueprints
    assert off.test_client().get(GATEWAY).status_code == 404


CORE = ("checkout.sandbox", "checkout.models", "checkout.gateway", "checkout.handoff",
        "checkout.orders", "checkout.connectors", "checkout.credentials")


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level]
    return ".".join(base + ([node.module] if node.module else []))


def test_the_simulators_never_import_the_gateway_core():
    imported = []
    for path in PACKAGE.rglob("*.py"):
        module = "checkout." + ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if path.name == "__init__.py":
            module += ".__init__"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, node)
                imported += [target] + [f"{target}.{alias.name}" for alias in node.names]
    assert "checkout.db" in imported, "relative imports are not resolved: the walk is broken"
    offending = sorted({name for name in imported
                        if any(name == core or name.startswith(core + ".") for core in CORE)})
    assert offending == []
    from_app = {name for name in imported if name.startswith("checkout.")
                and not name.startswith("checkout.simulators")}
    assert {name.split(".")[1] for name in from_app} <= {"db", "clock", "links"}


def test_biz_content_that_is_not_a_json_object_is_an_invalid_parameter(client, alipay):
    for raw in ("[1]", "{", "[" * 5_000):
        params = signed(alipay, "alipay.trade.query", {})
        params["biz_content"] = raw
        params["sign"] = alipay._sign(signing.request_content(params))
        answer = call(client, alipay, params, "alipay.trade.query")
        assert answer["sub_code"] == "ACQ.INVALID_PARAMETER", raw[:5]


def test_precreate_again_with_the_same_order_answers_the_same_qr_code(remote):
    first = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q5",
                                              total_amount="1.50")
    again = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="Q5",
                                              total_amount="1.50")
    assert again["qr_code"] == first["qr_code"]


def test_the_console_names_the_gateway_url_under_public_url(app):
    app.config["PUBLIC_URL"] = "https://pay.example"
    assert console.gateway_url() == "https://pay.example" + GATEWAY


def test_a_value_the_input_boundary_refuses_gets_alipays_invalid_parameter_answer(client, alipay):
    params = signed(alipay, "alipay.trade.query", {"out_trade_no": "A"})
    params["biz_content"] = "[" * 20_000  # more than the 16K characters the boundary allows a value
    answer = raw_answer(client, params)
    assert "sign" not in answer
    assert (answer["alipay_trade_query_response"]["code"],
            answer["alipay_trade_query_response"]["sub_code"]) == ("40002", "isv.invalid-parameter")


# --- at the same moment ---------------------------------------------------------------------------

def test_two_pay_presses_at_once_pay_the_trade_once(client, alipay, race):
    from checkout.clock import now_ms
    from checkout.simulators.alipay import trades

    page_pay(client, alipay, out_trade_no="RACE1")
    trade_id = trade_of("RACE1").id

    def press_pay(_):
        return trades.pay(db.session.get(SimTrade, trade_id), now_ms())

    assert sorted(race(4, press_pay)) == [False, False, False, True]


def test_refunds_at_once_never_refund_more_than_was_paid(remote, race, opened, merchant_keys,
                                                         live_server):
    remote.api_alipay_trade_pay(out_trade_no="RACE2", scene="bar_code",
                                auth_code="281234567890123456", subject="Tea", total_amount="2.00")

    def refund(i):
        client = sdk(opened, merchant_keys[0], live_server.url + GATEWAY)
        return client.api_alipay_trade_refund("1.50", out_trade_no="RACE2",
                                              out_request_no=f"r{i}")["code"]

    assert sorted(race(3, refund)) == ["10000", "40004", "40004"]
    assert trade_of("RACE2").refunded_fen == 150


def test_time_expire_closes_the_trade_at_that_beijing_time(remote, clock):
    from checkout.simulators.alipay.trades import alipay_time

    remote.api_alipay_trade_pay(out_trade_no="T2", scene="bar_code",
                                auth_code="261234567890123456", subject="Tea", total_amount="2.00",
                                time_expire=alipay_time(clock.now + 10 * 60_000),
                                timeout_express="1d")
    clock.now += 11 * 60_000
    assert remote.api_alipay_trade_query(out_trade_no="T2")["trade_status"] == "TRADE_CLOSED"


def test_a_time_expire_in_the_past_is_an_invalid_parameter(remote, clock):
    from checkout.simulators.alipay.trades import alipay_time

    answer = remote.api_alipay_trade_precreate(subject="Tea", out_trade_no="T3",
                                               total_amount="1.00",
                                               time_expire=alipay_time(clock.now - 60_000))
    assert answer["sub_code"] == "ACQ.INVALID_PARAMETER"


def test_trade_no_wins_over_out_trade_no_when_both_are_given(remote):
    paid = remote.api_alipay_trade_pay(out_trade_no="TN1", scene="bar_code",
                                       auth_code="281234567890123456", subject="Tea",
                                       total_amount="2.00")
    answer = remote.api_alipay_trade_query(out_trade_no="OTHER", trade_no=paid["trade_no"])
    assert (answer["out_trade_no"], answer["trade_status"]) == ("TN1", "TRADE_SUCCESS")


def test_a_page_methods_error_page_may_be_framed_like_the_qr_frame(client, alipay):
    query = alipay.api_alipay_trade_page_pay(subject="Tea", out_trade_no="FE", total_amount="1.00",
                                             qr_pay_mode="0")
    response = client.get(f"{GATEWAY}?{query.replace('FE', 'FF')}")
    assert 'data-sub-code="isv.invalid-signature"' in response.get_data(as_text=True)
    assert "frame-ancestors http: https:" in response.headers["Content-Security-Policy"]
