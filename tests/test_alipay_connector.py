"""The Alipay connector (issue 14, Deliver 2 and 4) against Alipay's
documented wire rules, with fixed keys and a fixed clock.

- Requests: what python-alipay-sdk sends for each channel, checked field by
  field, and its ``sign`` checked against a signature this file computes
  itself with ``cryptography`` over the documented string to sign (every
  parameter but ``sign``, sorted, ``key=value`` joined with ``&``,
  SHA256withRSA PKCS#1 v1.5, base64).
- Answers: a real HTTP server stands in for ``gateway.do`` and answers what
  each test hands it, signed by this file's "Alipay" key the way Alipay signs
  (the exact JSON text of the ``<method>_response`` object). Tampered,
  unsigned, foreign-signed or malformed answers, a gateway that never answers
  and one that is not there are all ``ProviderUnreachable``.
- Notifications: Alipay's rule (``sign`` and ``sign_type`` left out, the rest
  sorted), every way one can be wrong is ``NotificationRejected``.

The end-to-end journey against the built-in simulator is in
``test_alipay_connector_simulator.py``.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from checkout.connectors import (CLOSED, OPEN, PAID, WAITING, ConnectorError,
                                 NotificationRejected, Payment, ProviderUnreachable)
from checkout.connectors.alipay import AlipayConnector
from checkout.connectors.alipay.connector import timeout_express


# --- fixed keys: generated once for this module ---------------------------------

def _key_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, private, public


APP_KEY, APP_PRIVATE_PEM, APP_PUBLIC_PEM = _key_pair()            # the merchant's app
ALIPAY_KEY, ALIPAY_PRIVATE_PEM, ALIPAY_PUBLIC_PEM = _key_pair()   # "Alipay"
FORGER_KEY, FORGER_PRIVATE_PEM, _ = _key_pair()                   # somebody else

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "2021000000000001"
GATEWAY = "https://openapi.alipay.com/gateway.do"
# 2026-12-04 07:00:00 UTC is 15:00:00 in Beijing (Alipay's timestamp is GMT+8).
FIXED_MS = int(datetime(2026, 12, 4, 7, 0, 0, tzinfo=timezone.utc).timestamp() * 1000)
FIXED_TIMESTAMP = "2026-12-04 15:00:00"
NOTIFY_URL = "https://pay.example.com/alipay/notify"
RETURN_URL = "https://pay.example.com/pay/o1/return"
KEY_FRAGMENTS = [pem.splitlines()[5] for pem in (APP_PRIVATE_PEM, ALIPAY_PRIVATE_PEM,
                                                 APP_PUBLIC_PEM, ALIPAY_PUBLIC_PEM)]


def credentials(**changes) -> dict:
    values = {"app_id": APP_ID, "app_private_key": APP_PRIVATE_PEM,
              "alipay_public_key": ALIPAY_PUBLIC_PEM, "gateway": GATEWAY}
    values.update(changes)
    return values


def payment(channel: str = "ALI_WEB", **changes) -> Payment:
    values = dict(bill_no="bc20261204001", channel=channel, title="Tea", total_fee=1234,
                  notify_url=NOTIFY_URL, return_url=RETURN_URL, timeout_seconds=900, params={})
    values.update(changes)
    return Payment(**values)


# --- the documented rules, computed here, independently of the library -----------

def string_to_sign(params: dict) -> str:
    """Alipay's request rule: every parameter but ``sign`` (and none empty),
    sorted by name, ``key=value`` joined with ``&``, values not encoded."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k])


def rsa2(private_key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(private_key.sign(content.encode(), padding.PKCS1v15(),
                                             hashes.SHA256())).decode()


def rsa1(private_key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(private_key.sign(content.encode(), padding.PKCS1v15(),
                                             hashes.SHA1())).decode()


def signed_answer(method: str, response: dict, key=ALIPAY_KEY) -> str:
    """A synchronous answer as Alipay writes it: the ``<method>_response``
    object's exact JSON text, and ``sign`` over that text."""
    content = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
    name = method.replace(".", "_") + "_response"
    return '{"%s":%s,"sign":"%s"}' % (name, content, rsa2(key, content))


def signed_notification(fields: dict, key=ALIPAY_KEY, sign_type: str = "RSA2") -> dict:
    """Alipay's async notify: ``sign`` over every field but sign/sign_type, sorted."""
    content = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    signature = rsa2(key, content) if sign_type == "RSA2" else rsa1(key, content)
    return {**fields, "sign_type": sign_type, "sign": signature}


def query_params(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True))


def assert_signed_by_app(params: dict) -> None:
    """The request's ``sign`` is exactly RSA2 of the documented string with the
    app's private key (PKCS#1 v1.5 is deterministic, so equality is exact)."""
    assert params["sign"] == rsa2(APP_KEY, string_to_sign(params))


class HandoffForm(HTMLParser):
    """What a browser would see in an ``html`` hand-off."""

    def __init__(self, html: str):
        super().__init__()
        self.forms, self.inputs, self.scripts, self.styled = [], [], [], []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "style" in attributes or tag == "style":
            self.styled.append(tag)
        if tag == "form":
            self.forms.append(attributes)
        elif tag == "input":
            self.inputs.append(attributes)
        elif tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


# --- fixtures ------------------------------------------------------------------------

@pytest.fixture
def frozen(clock):
    """Alipay's ``timestamp`` comes from the checkout clock, held at FIXED_MS."""
    clock.now = FIXED_MS
    return clock


class FakeGateway:
    """A real HTTP server at ``/gateway.do`` answering ``answer`` (a body, or
    ``(status, body)``) and recording each request's query parameters."""

    def __init__(self):
        self.answer: str | tuple[int, str] = ""
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/gateway.do"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @Request.application
    def wsgi(self, request):
        with self.lock:
            self.requests.append(dict(request.args.items()))
        status, body = self.answer if isinstance(self.answer, tuple) else (200, self.answer)
        return Response(body, status=status, content_type="text/html;charset=utf-8")

    @property
    def last(self) -> dict:
        return self.requests[-1]

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def gateway_server():
    fake = FakeGateway()
    yield fake
    fake.stop()


@pytest.fixture
def gateway(gateway_server):
    """The module's fake gateway, its answer and record cleared for each test."""
    gateway_server.answer = ""
    gateway_server.requests.clear()
    return gateway_server


@pytest.fixture
def connector(gateway):
    return AlipayConnector(credentials(), gateway_url=gateway.url, timeout=5)


# --- construction ----------------------------------------------------------------------

def test_the_connector_is_alipay_and_remembers_its_app():
    made = AlipayConnector(credentials(), gateway_url=GATEWAY)
    assert (made.provider, made.app_id, made.gateway_url, made.timeout) == \
        ("alipay", APP_ID, GATEWAY, 10.0)


@pytest.mark.parametrize("changes, field", [
    ({"app_private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"},
     "app_private_key"),
    ({"app_private_key": APP_PUBLIC_PEM}, "app_private_key"),
    ({"alipay_public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"}, "alipay_public_key"),
    ({"alipay_public_key": ""}, "alipay_public_key"),
    ({"app_id": ""}, "app_id"),
])
def test_bad_credentials_are_refused_without_echoing_a_key(changes, field):
    with pytest.raises(ConnectorError) as refused:
        AlipayConnector(credentials(**changes), gateway_url=GATEWAY)
    assert refused.value.code == "CREDENTIALS"
    assert field in refused.value.detail
    assert not any(fragment in refused.value.detail for fragment in KEY_FRAGMENTS)
    assert "BEGIN" not in refused.value.detail


def test_a_gateway_url_with_a_query_is_refused():
    with pytest.raises(ConnectorError):
        AlipayConnector(credentials(), gateway_url=GATEWAY + "?charset=utf-8")


def test_importing_the_library_leaves_the_applications_logging_alone(tmp_path):
    # python-alipay-sdk calls logging.config.dictConfig when imported, which
    # closes every handler already installed; our import must not.
    log = tmp_path / "app.log"
    script = (
        "import logging\n"
        f"handler = logging.FileHandler({str(log)!r})\n"
        "logging.getLogger().addHandler(handler)\n"
        "import checkout.connectors.alipay\n"
        # A closed FileHandler reopens its file on the next record, so look
        # before logging anything.
        "assert handler.stream is not None, 'the import closed the handler'\n"
        "assert not logging.getLogger('python-alipay-sdk').handlers\n"
        "logging.getLogger().warning('still logging')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "still logging" in log.read_text()


# --- requests built and signed (page pays: no network) -------------------------------

def test_web_pay_request_is_signed_by_the_documented_rule(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WEB"))
    params = query_params(started.fields["url"])
    assert set(params) == {"app_id", "method", "charset", "sign_type", "timestamp", "version",
                           "notify_url", "return_url", "biz_content", "sign"}
    assert {k: v for k, v in params.items() if k not in ("biz_content", "sign")} == {
        "app_id": APP_ID, "method": "alipay.trade.page.pay", "charset": "utf-8",
        "sign_type": "RSA2", "timestamp": FIXED_TIMESTAMP, "version": "1.0",
        "notify_url": NOTIFY_URL, "return_url": RETURN_URL}
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "bc20261204001", "subject": "Tea", "total_amount": "12.34",
        "product_code": "FAST_INSTANT_TRADE_PAY", "timeout_express": "15m"}
    assert params["sign"] == rsa2(APP_KEY, string_to_sign(params))


def test_the_string_to_sign_is_sorted_key_value_pairs_without_sign(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WEB"))
    params = query_params(started.fields["url"])
    expected = ("app_id=2021000000000001&biz_content=" + params["biz_content"]
                + "&charset=utf-8&method=alipay.trade.page.pay"
                + "&notify_url=https://pay.example.com/alipay/notify"
                + "&return_url=https://pay.example.com/pay/o1/return"
                + "&sign_type=RSA2&timestamp=2026-12-04 15:00:00&version=1.0")
    APP_KEY.public_key().verify(base64.b64decode(params["sign"]), expected.encode(),
                                padding.PKCS1v15(), hashes.SHA256())


def test_the_url_is_the_gateway_with_the_signed_query_string(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WEB"))
    url = started.fields["url"]
    assert url.startswith(GATEWAY + "?")
    assert_signed_by_app(query_params(url))
    assert (started.status, started.trade_no) == (OPEN, None)


def test_the_html_posts_the_same_signed_parameters_to_the_gateway(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WEB"))
    page = HandoffForm(started.fields["html"])
    assert len(page.forms) == 1
    form = page.forms[0]
    assert form["method"] == "post"
    assert form["accept-charset"] == "utf-8"
    assert form["action"] == GATEWAY + "?charset=utf-8"
    hidden = {i["name"]: i["value"] for i in page.inputs if i.get("type") == "hidden"}
    assert hidden == query_params(started.fields["url"])
    assert_signed_by_app(hidden)


def test_the_html_has_no_inline_style_and_no_script_but_the_submit(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WEB"))
    page = HandoffForm(started.fields["html"])
    assert page.styled == []
    assert page.scripts == ["document.forms['alipaysubmit'].submit();"]
    submit = [i for i in page.inputs if i.get("type") == "submit"]
    assert len(submit) == 1 and "hidden" in submit[0]


def test_a_chinese_title_and_odd_characters_survive_the_form(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_WEB", title='茶 "&<> 100%'))
    page = HandoffForm(started.fields["html"])
    hidden = {i["name"]: i["value"] for i in page.inputs if i.get("type") == "hidden"}
    assert json.loads(hidden["biz_content"])["subject"] == '茶 "&<> 100%'
    assert hidden == query_params(started.fields["url"])
    assert_signed_by_app(hidden)


@pytest.mark.parametrize("fen, yuan", [(1, "0.01"), (10, "0.10"), (100, "1.00"),
                                       (123456, "1234.56")])
def test_total_amount_is_yuan_with_two_decimals(frozen, fen, yuan):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_WEB", total_fee=fen))
    assert json.loads(query_params(started.fields["url"])["biz_content"])["total_amount"] == yuan


@pytest.mark.parametrize("seconds, express", [(1, "1m"), (60, "1m"), (61, "2m"), (360, "6m"),
                                              (900, "15m"), (7200, "120m"),
                                              (15 * 24 * 3600, "15d"), (30 * 24 * 3600, "15d")])
def test_bill_timeout_is_whole_minutes_rounded_up(seconds, express):
    assert timeout_express(seconds) == express


def test_no_bill_timeout_sends_no_timeout_express(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_WEB", timeout_seconds=None))
    assert "timeout_express" not in json.loads(query_params(started.fields["url"])["biz_content"])


def test_without_a_return_url_none_is_sent(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_WEB", return_url=None))
    assert "return_url" not in query_params(started.fields["url"])


def test_wap_pay_is_quick_wap_way_with_the_return_page_as_quit_url(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment("ALI_WAP"))
    params = query_params(started.fields["url"])
    assert params["method"] == "alipay.trade.wap.pay"
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "bc20261204001", "subject": "Tea", "total_amount": "12.34",
        "product_code": "QUICK_WAP_WAY", "quit_url": RETURN_URL, "timeout_express": "15m"}
    assert (params["return_url"], params["notify_url"]) == (RETURN_URL, NOTIFY_URL)
    assert_signed_by_app(params)
    hidden = {i["name"]: i["value"] for i in HandoffForm(started.fields["html"]).inputs
              if i.get("type") == "hidden"}
    assert hidden == params


@pytest.mark.parametrize("use_app", [True, False])
def test_wap_pay_use_app_is_alipays_default_which_cannot_be_switched_off(frozen, use_app):
    # Alipay open docs 203/107091: alipay.trade.wap.pay wakes the Alipay app
    # by default and offers no way to forbid it; the request is the same.
    connector = AlipayConnector(credentials(), gateway_url=GATEWAY)
    with_flag = connector.start(payment("ALI_WAP", params={"use_app": use_app}))
    without = connector.start(payment("ALI_WAP"))
    assert with_flag.fields == without.fields


def test_wap_pay_use_app_must_be_a_boolean():
    with pytest.raises(ConnectorError) as refused:
        AlipayConnector(credentials(), gateway_url=GATEWAY).start(
            payment("ALI_WAP", params={"use_app": "yes"}))
    assert "use_app" in refused.value.detail


@pytest.mark.parametrize("mode", ["0", "1", "3", 1])
def test_qrcode_pay_is_page_pay_with_qr_pay_mode(frozen, mode):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_QRCODE", params={"qr_pay_mode": mode}))
    params = query_params(started.fields["url"])
    assert params["method"] == "alipay.trade.page.pay"
    biz = json.loads(params["biz_content"])
    assert (biz["product_code"], biz["qr_pay_mode"]) == ("FAST_INSTANT_TRADE_PAY", str(mode))
    assert "qrcode_width" not in biz
    assert_signed_by_app(params)
    assert HandoffForm(started.fields["html"]).forms[0]["method"] == "post"


def test_qrcode_mode_4_carries_the_width(frozen):
    started = AlipayConnector(credentials(), gateway_url=GATEWAY).start(
        payment("ALI_QRCODE", params={"qr_pay_mode": "4", "qrcode_width": 200}))
    biz = json.loads(query_params(started.fields["url"])["biz_content"])
    assert (biz["qr_pay_mode"], biz["qrcode_width"]) == ("4", 200)


@pytest.mark.parametrize("params", [{}, {"qr_pay_mode": "5"}, {"qr_pay_mode": True},
                                    {"qr_pay_mode": "4"}, {"qr_pay_mode": "4", "qrcode_width": 0}])
def test_qrcode_pay_needs_a_valid_mode(params):
    with pytest.raises(ConnectorError) as refused:
        AlipayConnector(credentials(), gateway_url=GATEWAY).start(
            payment("ALI_QRCODE", params=params))
    assert refused.value.code == "PARAM"


@pytest.mark.parametrize("channel", ["WX_NATIVE", "UN_WEB", "ALI_APP"])
def test_channels_it_does_not_speak_are_refused(channel):
    with pytest.raises(ConnectorError) as refused:
        AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment(channel))
    assert refused.value.code == "CHANNEL"


@pytest.mark.parametrize("fee", [0, -1, True, 10_000_000_001])
def test_amounts_alipay_cannot_take_are_refused(fee):
    with pytest.raises(ConnectorError):
        AlipayConnector(credentials(), gateway_url=GATEWAY).start(payment(total_fee=fee))


# --- precreate (ALI_OFFLINE_QRCODE) -------------------------------------------------------

def test_precreate_answers_alipays_qr_code_as_code_url(frozen, gateway, connector):
    gateway.answer = signed_answer("alipay.trade.precreate", {
        "code": "10000", "msg": "Success", "out_trade_no": "bc20261204001",
        "qr_code": "https://qr.alipay.com/bax03431ljhokirwl38f00a7"})
    started = connector.start(payment("ALI_OFFLINE_QRCODE"))
    assert started.fields == {"code_url": "https://qr.alipay.com/bax03431ljhokirwl38f00a7"}
    assert started.status == OPEN
    sent = gateway.last
    assert (sent["method"], sent["notify_url"], sent["timestamp"]) == \
        ("alipay.trade.precreate", NOTIFY_URL, FIXED_TIMESTAMP)
    assert "return_url" not in sent
    assert json.loads(sent["biz_content"]) == {
        "out_trade_no": "bc20261204001", "subject": "Tea", "total_amount": "12.34",
        "timeout_express": "15m"}
    assert_signed_by_app(sent)


def test_precreate_refused_is_a_connector_error_with_alipays_code(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.precreate", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TOTAL_FEE_EXCEED",
        "sub_msg": "订单金额超过限额"})
    with pytest.raises(ConnectorError) as refused:
        connector.start(payment("ALI_OFFLINE_QRCODE"))
    assert not isinstance(refused.value, ProviderUnreachable)
    assert refused.value.code == "ACQ.TOTAL_FEE_EXCEED"
    assert "订单金额超过限额" in refused.value.detail


def test_precreate_without_a_qr_code_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.precreate", {
        "code": "10000", "msg": "Success", "out_trade_no": "bc20261204001"})
    with pytest.raises(ProviderUnreachable):
        connector.start(payment("ALI_OFFLINE_QRCODE"))


# --- barcode pay (ALI_SCAN) ---------------------------------------------------------------

def scan(**params) -> Payment:
    return payment("ALI_SCAN", params={"auth_code": "28763443825664394", **params})


def test_barcode_pay_paid_at_once(frozen, gateway, connector):
    answer = {"code": "10000", "msg": "Success", "trade_no": "2026120422001404070200176846",
              "out_trade_no": "bc20261204001", "total_amount": "12.34",
              "buyer_logon_id": "csq***@sandbox.com", "gmt_payment": "2026-12-04 15:00:01"}
    gateway.answer = signed_answer("alipay.trade.pay", answer)
    started = connector.start(scan())
    assert (started.status, started.trade_no) == (PAID, "2026120422001404070200176846")
    assert started.message_detail == answer
    sent = gateway.last
    assert sent["method"] == "alipay.trade.pay"
    assert json.loads(sent["biz_content"]) == {
        "out_trade_no": "bc20261204001", "scene": "bar_code", "auth_code": "28763443825664394",
        "subject": "Tea", "total_amount": "12.34", "timeout_express": "15m"}
    assert_signed_by_app(sent)


def test_barcode_pay_waiting_for_the_buyers_password(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.pay", {
        "code": "10003", "msg": " order success pay inprocess",
        "trade_no": "2026120422001404070200176847", "out_trade_no": "bc20261204001"})
    started = connector.start(scan())
    assert (started.status, started.trade_no) == (WAITING, "2026120422001404070200176847")


def test_barcode_pay_refused(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.pay", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.PAYMENT_AUTH_CODE_INVALID",
        "sub_msg": "支付失败，获取顾客账户信息失败"})
    with pytest.raises(ConnectorError) as refused:
        connector.start(scan())
    assert refused.value.code == "ACQ.PAYMENT_AUTH_CODE_INVALID"


def test_barcode_pay_with_an_unknown_outcome_is_unreachable(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.pay", {
        "code": "20000", "msg": "Service Currently Unavailable", "sub_code": "aop.unknow-error"})
    with pytest.raises(ProviderUnreachable):
        connector.start(scan())


def test_barcode_pay_paid_for_another_amount_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.pay", {
        "code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001",
        "total_amount": "0.01"})
    with pytest.raises(ProviderUnreachable):
        connector.start(scan())


@pytest.mark.parametrize("params", [{}, {"auth_code": ""}, {"auth_code": "abc"},
                                    {"auth_code": 28763443825664394}])
def test_barcode_pay_needs_the_buyers_payment_code(gateway, connector, params):
    with pytest.raises(ConnectorError) as refused:
        connector.start(payment("ALI_SCAN", params=params))
    assert refused.value.code == "PARAM"
    assert gateway.requests == []


# --- query ---------------------------------------------------------------------------------

@pytest.mark.parametrize("trade_status, status", [
    ("WAIT_BUYER_PAY", OPEN), ("TRADE_SUCCESS", PAID), ("TRADE_FINISHED", PAID),
    ("TRADE_CLOSED", CLOSED)])
def test_query_reads_the_trade_status(frozen, gateway, connector, trade_status, status):
    answer = {"code": "10000", "msg": "Success", "trade_no": "2026120422001404070200176844",
              "out_trade_no": "bc20261204001", "trade_status": trade_status,
              "total_amount": "12.34", "buyer_logon_id": "csq***@sandbox.com"}
    gateway.answer = signed_answer("alipay.trade.query", answer)
    trade = connector.query("bc20261204001")
    assert (trade.bill_no, trade.status, trade.total_fee, trade.trade_no, trade.provider_app_id) \
        == ("bc20261204001", status, 1234, "2026120422001404070200176844", APP_ID)
    assert trade.message_detail == answer
    sent = gateway.last
    assert (sent["method"], json.loads(sent["biz_content"])) == \
        ("alipay.trade.query", {"out_trade_no": "bc20261204001"})
    assert_signed_by_app(sent)


def test_query_of_a_trade_alipay_has_not_created_yet_is_open(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.query", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
        "sub_msg": "交易不存在"})
    trade = connector.query("bc20261204001")
    assert (trade.status, trade.total_fee, trade.trade_no) == (OPEN, None, None)


@pytest.mark.parametrize("total_amount", ["12.345", "abc", "", "1e3", "-12.34", "12.", ".5",
                                          " 12.34", "0x10", 12.34, None])
def test_query_with_a_malformed_amount_is_not_believed(gateway, connector, total_amount):
    answer = {"code": "10000", "msg": "Success", "trade_no": "1",
              "out_trade_no": "bc20261204001", "trade_status": "TRADE_SUCCESS"}
    if total_amount is not None:
        answer["total_amount"] = total_amount
    gateway.answer = signed_answer("alipay.trade.query", answer)
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


def test_query_about_another_trade_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.query", {
        "code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc-other",
        "trade_status": "TRADE_SUCCESS", "total_amount": "12.34"})
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


def test_query_with_an_unknown_trade_status_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.query", {
        "code": "10000", "msg": "Success", "out_trade_no": "bc20261204001",
        "trade_status": "TRADE_PENDING", "total_amount": "12.34"})
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


# --- answers that cannot be believed ------------------------------------------------------

PAID_QUERY = {"code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001",
              "trade_status": "TRADE_SUCCESS", "total_amount": "12.34"}


def test_a_tampered_answer_is_not_believed(gateway, connector):
    honest = signed_answer("alipay.trade.query", {**PAID_QUERY, "trade_status": "WAIT_BUYER_PAY"})
    gateway.answer = honest.replace("WAIT_BUYER_PAY", "TRADE_SUCCESS")
    with pytest.raises(ProviderUnreachable) as unbelieved:
        connector.query("bc20261204001")
    assert "signature" in unbelieved.value.detail


def test_an_unsigned_answer_is_not_believed(gateway, connector):
    gateway.answer = json.dumps({"alipay_trade_query_response": PAID_QUERY})
    with pytest.raises(ProviderUnreachable) as unbelieved:
        connector.query("bc20261204001")
    assert "not signed" in unbelieved.value.detail


def test_an_answer_signed_by_another_key_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.query", PAID_QUERY, key=FORGER_KEY)
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


def test_an_answer_signed_with_rsa_sha1_is_not_believed(gateway, connector):
    content = json.dumps(PAID_QUERY, separators=(",", ":"))
    gateway.answer = '{"alipay_trade_query_response":%s,"sign":"%s"}' % (
        content, rsa1(ALIPAY_KEY, content))
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


@pytest.mark.parametrize("answer", [
    "<html>502 Bad Gateway</html>", "", "[]", '{"sign":"abc"}',
    '{"alipay_trade_query_response":{"code":"10000"},"sign":"%%%not base64"}',
    (500, "internal error"), (404, "not found")])
def test_a_malformed_answer_is_not_believed(gateway, connector, answer):
    gateway.answer = answer
    with pytest.raises(ProviderUnreachable):
        connector.query("bc20261204001")


def test_an_implausibly_large_answer_is_not_read(gateway, connector):
    gateway.answer = "x" * (2 << 20)
    with pytest.raises(ProviderUnreachable) as unbelieved:
        connector.query("bc20261204001")
    assert "large" in unbelieved.value.detail


def test_a_gateway_that_never_answers_times_out_cleanly():
    # A listening socket: the kernel accepts the connection, nobody answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        connector = AlipayConnector(
            credentials(), gateway_url=f"http://127.0.0.1:{silent.getsockname()[1]}/gateway.do",
            timeout=0.3)
        with pytest.raises(ProviderUnreachable) as unreachable:
            connector.query("bc20261204001")
        assert "did not answer within 0.3 s" in unreachable.value.detail
        with pytest.raises(ProviderUnreachable):
            connector.close("bc20261204001")
    finally:
        silent.close()


def test_a_gateway_that_is_not_there_is_unreachable():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on the port now: connection refused
    connector = AlipayConnector(credentials(),
                                gateway_url=f"http://127.0.0.1:{port}/gateway.do", timeout=2)
    with pytest.raises(ProviderUnreachable) as unreachable:
        connector.start(scan())
    assert "could not be reached" in unreachable.value.detail
    assert "sign=" not in unreachable.value.detail


# --- close and cancel -----------------------------------------------------------------------

def test_close_closes_the_trade(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.close", {
        "code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001"})
    assert connector.close("bc20261204001") is None
    sent = gateway.last
    assert (sent["method"], json.loads(sent["biz_content"])) == \
        ("alipay.trade.close", {"out_trade_no": "bc20261204001"})
    assert_signed_by_app(sent)


def test_closing_a_trade_alipay_never_created_is_fine(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.close", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
        "sub_msg": "交易不存在"})
    assert connector.close("bc20261204001") is None


def test_closing_a_paid_trade_is_refused(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.close", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR",
        "sub_msg": "交易状态不合法"})
    with pytest.raises(ConnectorError) as refused:
        connector.close("bc20261204001")
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"


def test_cancel_cancels_the_trade(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.cancel", {
        "code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001",
        "retry_flag": "N", "action": "refund"})
    assert connector.cancel("bc20261204001") is None
    sent = gateway.last
    assert (sent["method"], json.loads(sent["biz_content"])) == \
        ("alipay.trade.cancel", {"out_trade_no": "bc20261204001"})
    assert_signed_by_app(sent)


def test_a_cancel_alipay_asks_to_retry_is_unreachable(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.cancel", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR",
        "retry_flag": "Y"})
    with pytest.raises(ProviderUnreachable):
        connector.cancel("bc20261204001")


def test_a_refused_cancel_is_a_connector_error(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.cancel", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REASON_TRADE_BEEN_FREEZEN",
        "sub_msg": "当前交易被冻结，不允许进行撤销", "retry_flag": "N"})
    with pytest.raises(ConnectorError) as refused:
        connector.cancel("bc20261204001")
    assert not isinstance(refused.value, ProviderUnreachable)


# --- refunds -----------------------------------------------------------------------------------

def test_refund_sends_out_request_no_and_yuan(frozen, gateway, connector):
    answer = {"code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001",
              "buyer_logon_id": "csq***@sandbox.com", "fund_change": "Y", "refund_fee": "5.00"}
    gateway.answer = signed_answer("alipay.trade.refund", answer)
    result = connector.refund("bc20261204001", "20261204001001", 500, "damaged")
    assert (result.refund_no, result.done, result.refund_fee) == ("20261204001001", True, 500)
    assert result.message_detail == answer
    sent = gateway.last
    assert sent["method"] == "alipay.trade.refund"
    assert json.loads(sent["biz_content"]) == {
        "refund_amount": "5.00", "out_trade_no": "bc20261204001",
        "out_request_no": "20261204001001", "refund_reason": "damaged"}
    assert_signed_by_app(sent)


@pytest.mark.parametrize("answer", [
    {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
    {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"}])
def test_a_refund_with_an_unknown_outcome_is_unreachable(gateway, connector, answer):
    gateway.answer = signed_answer("alipay.trade.refund", answer)
    with pytest.raises(ProviderUnreachable):
        connector.refund("bc20261204001", "20261204001001", 500)


def test_a_refused_refund_is_a_connector_error(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.refund", {
        "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "sub_msg": "退款金额超限"})
    with pytest.raises(ConnectorError) as refused:
        connector.refund("bc20261204001", "20261204001001", 999999)
    assert refused.value.code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


@pytest.mark.parametrize("fee", [0, -5, True, "5.00"])
def test_a_refund_of_no_money_is_refused_before_asking(gateway, connector, fee):
    with pytest.raises(ConnectorError):
        connector.refund("bc20261204001", "20261204001001", fee)
    assert gateway.requests == []


def test_refund_query_finds_a_done_refund(gateway, connector):
    answer = {"code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": "bc20261204001",
              "out_request_no": "20261204001001", "total_amount": "12.34",
              "refund_amount": "5.00", "refund_status": "REFUND_SUCCESS"}
    gateway.answer = signed_answer("alipay.trade.fastpay.refund.query", answer)
    result = connector.refund_query("bc20261204001", "20261204001001")
    assert (result.refund_no, result.done, result.refund_fee) == ("20261204001001", True, 500)
    sent = gateway.last
    assert sent["method"] == "alipay.trade.fastpay.refund.query"
    assert json.loads(sent["biz_content"]) == {"out_request_no": "20261204001001",
                                               "out_trade_no": "bc20261204001"}
    assert_signed_by_app(sent)


def test_refund_query_of_a_refund_alipay_does_not_have_is_not_done(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.fastpay.refund.query", {
        "code": "10000", "msg": "Success"})
    result = connector.refund_query("bc20261204001", "20261204001001")
    assert (result.done, result.refund_fee) == (False, None)


def test_refund_query_about_another_refund_is_not_believed(gateway, connector):
    gateway.answer = signed_answer("alipay.trade.fastpay.refund.query", {
        "code": "10000", "msg": "Success", "out_trade_no": "bc20261204001",
        "out_request_no": "other", "refund_amount": "5.00"})
    with pytest.raises(ProviderUnreachable):
        connector.refund_query("bc20261204001", "20261204001001")


# --- notifications -------------------------------------------------------------------------------

NOTIFY = {"gmt_create": "2026-12-04 15:00:01", "charset": "utf-8",
          "gmt_payment": "2026-12-04 15:00:05", "notify_time": "2026-12-04 15:00:06",
          "subject": "茶", "buyer_id": "2088102169481075", "invoice_amount": "12.34",
          "version": "1.0", "notify_id": "2026120400222150005081251420556742",
          "fund_bill_list": '[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]',
          "notify_type": "trade_status_sync", "out_trade_no": "bc20261204001",
          "total_amount": "12.34", "trade_status": "TRADE_SUCCESS",
          "trade_no": "2026120422001481071418590011", "auth_app_id": APP_ID,
          "receipt_amount": "12.34", "point_amount": "0.00", "app_id": APP_ID,
          "buyer_pay_amount": "12.34", "seller_id": "2088102176044281"}


def test_a_good_notification_is_a_trade():
    fields = signed_notification(NOTIFY)
    trade = AlipayConnector(credentials(), gateway_url=GATEWAY).parse_notification(fields)
    assert (trade.bill_no, trade.status, trade.total_fee, trade.trade_no, trade.provider_app_id) \
        == ("bc20261204001", PAID, 1234, "2026120422001481071418590011", APP_ID)
    assert trade.message_detail == {**NOTIFY, "sign_type": "RSA2"}
    assert "sign" not in trade.message_detail


@pytest.mark.parametrize("trade_status, status", [
    ("TRADE_FINISHED", PAID), ("TRADE_CLOSED", CLOSED), ("WAIT_BUYER_PAY", OPEN)])
def test_a_notification_reports_each_trade_status(trade_status, status):
    fields = signed_notification({**NOTIFY, "trade_status": trade_status})
    assert AlipayConnector(credentials(), gateway_url=GATEWAY).parse_notification(fields).status \
        == status


def forged_signature():
    return signed_notification(NOTIFY, key=FORGER_KEY)


def tampered_amount():
    return {**signed_notification(NOTIFY), "total_amount": "1234.00"}


def tampered_status():
    return {**signed_notification({**NOTIFY, "trade_status": "WAIT_BUYER_PAY"}),
            "trade_status": "TRADE_SUCCESS"}


def other_app():
    return signed_notification({**NOTIFY, "app_id": "2021000000000002"})


def missing_sign():
    return {k: v for k, v in signed_notification(NOTIFY).items() if k != "sign"}


def empty_sign():
    return {**signed_notification(NOTIFY), "sign": ""}


def rsa_not_rsa2():
    return signed_notification(NOTIFY, sign_type="RSA")


def rsa2_signature_labelled_rsa():
    return {**signed_notification(NOTIFY), "sign_type": "RSA"}


def missing_sign_type():
    return {k: v for k, v in signed_notification(NOTIFY).items() if k != "sign_type"}


def garbage_sign():
    return {**signed_notification(NOTIFY), "sign": "%%% not base64 %%%"}


def unknown_status():
    return signed_notification({**NOTIFY, "trade_status": "TRADE_PENDING"})


def no_out_trade_no():
    return signed_notification({k: v for k, v in NOTIFY.items() if k != "out_trade_no"})


def no_app_id():
    return signed_notification({k: v for k, v in NOTIFY.items() if k != "app_id"})


def amount(value):
    return lambda: signed_notification({**NOTIFY, "total_amount": value})


REJECTED = {
    "forged signature": forged_signature, "tampered amount": tampered_amount,
    "tampered status": tampered_status, "other app_id": other_app, "no app_id": no_app_id,
    "missing sign": missing_sign, "empty sign": empty_sign, "RSA instead of RSA2": rsa_not_rsa2,
    "RSA2 signature labelled RSA": rsa2_signature_labelled_rsa,
    "missing sign_type": missing_sign_type, "sign not base64": garbage_sign,
    "unknown trade_status": unknown_status, "no out_trade_no": no_out_trade_no,
    "amount with three decimals": amount("12.345"), "amount not a number": amount("twelve"),
    "amount in exponent form": amount("1.234e1"), "negative amount": amount("-12.34"),
    "empty amount": amount(""),
}


@pytest.mark.parametrize("make", REJECTED.values(), ids=REJECTED.keys())
def test_a_bad_notification_is_rejected_without_key_material(make):
    connector = AlipayConnector(credentials(), gateway_url=GATEWAY)
    with pytest.raises(NotificationRejected) as rejected:
        connector.parse_notification(make())
    reason = str(rejected.value)
    assert reason
    assert not any(fragment in reason for fragment in KEY_FRAGMENTS)
    assert "BEGIN" not in reason


def test_a_notification_that_is_not_text_is_rejected():
    connector = AlipayConnector(credentials(), gateway_url=GATEWAY)
    with pytest.raises(NotificationRejected):
        connector.parse_notification({**signed_notification(NOTIFY), "total_amount": 12.34})
    with pytest.raises(NotificationRejected):
        connector.parse_notification(None)
