"""RemoteGateway: BeeCloud's REST wire over HTTP, and every way a gateway can
misbehave turned into GatewayUnavailable (safe to show) or GatewayError.

The misbehaving gateway is a real HTTP server in a thread (http.server); the
happy path runs against our own embedded REST API through ``live_server``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from checkout.gateway import GatewayError, GatewayUnavailable, get_gateway
from checkout.gateway.remote import RemoteGateway
from checkout.signing import app_sign


def new_bill_no() -> str:
    return "R" + uuid.uuid4().hex[:20]


def ali_web_request(**fields) -> dict:
    request = {"channel": "ALI_WEB", "total_fee": 1, "bill_no": new_bill_no(),
               "title": "白开水", "return_url": "http://shop.example.com/back"}
    request.update(fields)
    return request


# --- a gateway that misbehaves on purpose -----------------------------------------

class MisbehavingGateway:
    """Answers every request the way ``behaviour`` says and records what it got.

    behaviours: "ok" (a BeeCloud bill answer), "code" (result code 5),
    "hang" (never answers until the test ends), "html", "garbage", "truncated",
    "http500", "http404", "redirect", "not_beecloud", "bare_ok" (result code 0
    and nothing else), "huge" (3 MB), "drop" (closes the socket).
    """

    def __init__(self):
        self.behaviour = "ok"
        self.requests: list[dict] = []
        self.release = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                self._answer(b"")

            def do_POST(self):
                self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            do_PUT = do_POST  # PUT /2/rest/refund (approval)

            def _answer(self, body: bytes):
                gateway.requests.append({"method": self.command, "path": self.path,
                                         "headers": dict(self.headers), "body": body})
                kind = gateway.behaviour
                if kind == "hang":
                    gateway.release.wait(10)
                    return self._send(200, b'{"result_code":0}')
                if kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                answers = {
                    "ok": (200, json.dumps({"result_code": 0, "result_msg": "OK",
                                            "err_detail": "", "id": "bill-1", "url": "u",
                                            "pay": {"id": "bill-1"}, "bills": [],
                                            "refund": {"id": "refund-1"},
                                            "refunds": []}).encode()),
                    "code": (200, json.dumps({"result_code": 5, "result_msg": "PARAM_INVALID",
                                              "err_detail": "total_fee must be > 0"}).encode()),
                    "html": (200, b"<html><body>502 Bad Gateway</body></html>"),
                    "garbage": (200, b"\x00\xff\xfe not json"),
                    "truncated": (200, b'{"result_code": 0, "result_msg": "O'),
                    "http500": (500, b'{"result_code": 14, "result_msg": "RUNTIME_ERROR"}'),
                    "http404": (404, b"<h1>Not Found</h1>"),
                    "redirect": (302, b""),
                    "not_beecloud": (200, b'{"status": "ok"}'),
                    "bare_ok": (200, b'{"result_code": 0, "result_msg": "OK", "err_detail": ""}'),
                    "huge": (200, b'{"result_code": 0, "id": "' + b"x" * (3 * 1024 * 1024)
                             + b'"}'),
                }
                status, payload = answers[kind]
                self._send(status, payload)

            def _send(self, status, payload):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake():
    server = MisbehavingGateway()
    yield server
    server.stop()


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def remote(url: str, **kwargs) -> RemoteGateway:
    kwargs.setdefault("connect_timeout", 1.0)
    kwargs.setdefault("read_timeout", 0.3)
    return RemoteGateway(url, **kwargs)


def closed_port() -> int:
    """A port of 127.0.0.1 nobody listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingTransport(httpx.HTTPTransport):
    """A real transport that counts how many times a request was sent."""

    def __init__(self):
        super().__init__()
        self.sent = 0

    def handle_request(self, request):
        self.sent += 1
        return super().handle_request(request)


# --- the wire -----------------------------------------------------------------------

def test_create_bill_posts_the_request_signed_for_the_merchant(fake, merchant):
    answer = remote(fake.url).create_bill(merchant, ali_web_request(bill_no="abc12345678"))

    assert answer["id"] == "bill-1"
    sent = fake.requests[-1]
    assert (sent["method"], sent["path"]) == ("POST", "/2/rest/bill")
    assert sent["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(sent["body"].decode("utf-8"))
    assert body["bill_no"] == "abc12345678" and body["title"] == "白开水"
    assert body["app_id"] == merchant.app_id
    assert isinstance(body["timestamp"], int)
    assert body["app_sign"] == app_sign(merchant.app_id, body["timestamp"], merchant.app_secret)


def test_test_mode_uses_the_sandbox_path_and_the_test_secret(fake, merchant):
    remote(fake.url, test_mode=True).create_bill(merchant, ali_web_request())

    sent = fake.requests[-1]
    body = json.loads(sent["body"])
    assert sent["path"] == "/2/rest/sandbox/bill"
    assert body["app_sign"] == app_sign(merchant.app_id, body["timestamp"], merchant.test_secret)


def test_get_bill_sends_para_as_url_encoded_json(fake, merchant):
    pay = remote(fake.url).get_bill(merchant, "bill-1")

    assert pay == {"id": "bill-1"}
    url = urlsplit(fake.requests[-1]["path"])
    assert url.path == "/2/rest/bill/bill-1"
    para = json.loads(parse_qs(url.query)["para"][0])
    assert para["app_id"] == merchant.app_id
    assert para["app_sign"] == app_sign(merchant.app_id, para["timestamp"], merchant.app_secret)


def test_get_bill_keeps_an_odd_id_inside_one_path_segment(fake, merchant):
    remote(fake.url).get_bill(merchant, "../bills?x=1")

    assert urlsplit(fake.requests[-1]["path"]).path == "/2/rest/bill/..%2Fbills%3Fx%3D1"


def test_query_bills_sends_the_filters_in_para(fake, merchant):
    assert remote(fake.url).query_bills(merchant, {"bill_no": "abc12345678", "limit": 5}) == []

    url = urlsplit(fake.requests[-1]["path"])
    assert url.path == "/2/rest/bills"
    para = json.loads(parse_qs(url.query)["para"][0])
    assert (para["bill_no"], para["limit"]) == ("abc12345678", 5)


# --- result codes --------------------------------------------------------------------

def test_a_result_code_becomes_gateway_error(fake, merchant):
    fake.behaviour = "code"

    with pytest.raises(GatewayError) as refused:
        remote(fake.url).create_bill(merchant, ali_web_request())

    assert (refused.value.result_code, refused.value.result_msg) == (5, "PARAM_INVALID")
    assert refused.value.err_detail == "total_fee must be > 0"


# --- misbehaviour ------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["html", "garbage", "truncated", "http500", "http404",
                                       "redirect", "not_beecloud", "drop"])
def test_an_answer_that_is_not_a_beecloud_result_is_unavailable(fake, merchant, behaviour):
    fake.behaviour = behaviour

    with pytest.raises(GatewayUnavailable):
        remote(fake.url).create_bill(merchant, ali_web_request())


@pytest.mark.parametrize("call", [
    lambda gateway, merchant: gateway.create_bill(merchant, ali_web_request()),
    lambda gateway, merchant: gateway.get_bill(merchant, "bill-1"),
    lambda gateway, merchant: gateway.query_bills(merchant, {}),
    lambda gateway, merchant: gateway.refund(merchant, {"bill_no": "b", "refund_fee": 1}),
    lambda gateway, merchant: gateway.query_refunds(merchant, {}),
    lambda gateway, merchant: gateway.get_refund(merchant, "refund-1"),
], ids=["create_bill", "get_bill", "query_bills", "refund", "query_refunds", "get_refund"])
def test_a_success_without_its_documented_fields_is_unavailable(fake, merchant, call):
    fake.behaviour = "bare_ok"  # no id / pay / bills

    with pytest.raises(GatewayUnavailable):
        call(remote(fake.url), merchant)


def test_an_answer_too_big_to_be_beecloud_is_unavailable(fake, merchant):
    fake.behaviour = "huge"

    with pytest.raises(GatewayUnavailable, match="cannot read"):
        remote(fake.url, read_timeout=5).create_bill(merchant, ali_web_request())


def test_a_gateway_slower_than_the_read_timeout_is_unavailable(fake, merchant):
    fake.behaviour = "hang"

    with pytest.raises(GatewayUnavailable, match="did not answer in time"):
        remote(fake.url, read_timeout=0.2).create_bill(merchant, ali_web_request())


def test_a_timed_out_bill_creation_is_not_sent_again(fake, merchant):
    fake.behaviour = "hang"

    with pytest.raises(GatewayUnavailable):
        remote(fake.url, read_timeout=0.2).create_bill(merchant, ali_web_request())

    assert len(fake.requests) == 1


def test_a_refused_connection_is_tried_once_more_then_unavailable(merchant):
    transport = CountingTransport()
    gateway = remote(f"http://127.0.0.1:{closed_port()}", transport=transport)

    with pytest.raises(GatewayUnavailable, match="cannot be reached"):
        gateway.create_bill(merchant, ali_web_request())

    assert transport.sent == 2


def test_a_retried_bill_creation_sends_the_same_body(merchant):
    class RefuseFirst(httpx.HTTPTransport):
        bodies: list[bytes] = []

        def handle_request(self, request):
            self.bodies.append(request.read())
            if len(self.bodies) == 1:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(200, json={"result_code": 0, "result_msg": "OK",
                                             "err_detail": "", "id": "bill-9"})

    transport = RefuseFirst()
    answer = remote("http://gateway.invalid", transport=transport).create_bill(
        merchant, ali_web_request())

    assert answer["id"] == "bill-9"
    assert len(transport.bodies) == 2 and transport.bodies[0] == transport.bodies[1]


def test_unavailable_messages_never_carry_secrets_or_the_url(fake, merchant):
    messages = []
    for behaviour in ("html", "http500", "hang", "drop"):
        fake.behaviour = behaviour
        with pytest.raises(GatewayUnavailable) as failure:
            remote(fake.url, read_timeout=0.2).create_bill(merchant, ali_web_request())
        messages.append(str(failure.value))

    for message in messages:
        for secret in (merchant.app_secret, merchant.master_secret, merchant.test_secret,
                       fake.url, "app_sign"):
            assert secret not in message


def test_secrets_and_signatures_are_never_logged(fake, merchant, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = remote(fake.url, read_timeout=0.2)
    gateway.get_bill(merchant, "bill-1")
    gateway.query_bills(merchant, {})
    for behaviour in ("http500", "hang", "garbage"):
        fake.behaviour = behaviour
        with pytest.raises(GatewayUnavailable):
            gateway.get_bill(merchant, "bill-1")

    sent_signs = [json.loads(parse_qs(urlsplit(r["path"]).query)["para"][0])["app_sign"]
                  for r in fake.requests]
    assert "HTTP Request" in caplog.text  # httpx did log the requests ...
    for secret in (merchant.app_secret, merchant.test_secret, merchant.master_secret,
                   *sent_signs):
        assert secret not in caplog.text  # ... without their para


def test_settings_build_the_gateway(app, fake):
    app.config.update(GATEWAY="remote", GATEWAY_URL=fake.url + "/",
                      GATEWAY_CONNECT_TIMEOUT=1.5, GATEWAY_READ_TIMEOUT=4)
    app.extensions.pop("checkout.gateway", None)

    gateway = get_gateway(app)

    assert isinstance(gateway, RemoteGateway)
    assert gateway.base_url == fake.url
    assert (gateway.timeout.connect, gateway.timeout.read) == (1.5, 4.0)


def test_a_remote_gateway_without_a_url_is_a_setting_error():
    with pytest.raises(ValueError, match="GATEWAY_URL"):
        RemoteGateway.from_config({"GATEWAY_URL": ""})


# --- against our own embedded REST API -------------------------------------------------
#
# On its sandbox twins (test_mode=True: /2/rest/sandbox/…, the test secret) with
# a test-mode merchant's bills: live bills now go to their provider's connector
# (issue 14); the live paths' wire is specified against the fake above.

def test_bills_round_trip_through_the_embedded_rest_api(live_server, merchant):
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)
    request = ali_web_request()

    created = gateway.create_bill(merchant, request)
    pay = gateway.get_bill(merchant, created["id"])
    found = gateway.query_bills(merchant, {"bill_no": request["bill_no"]})

    assert created["html"] and created["url"]
    assert (pay["bill_no"], pay["total_fee"], pay["spay_result"]) == (request["bill_no"], 1, False)
    assert [bill["id"] for bill in found] == [created["id"]]


def test_the_same_bill_no_twice_is_the_same_bill_through_the_rest_api(live_server, merchant):
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)
    request = ali_web_request()

    assert gateway.create_bill(merchant, request)["id"] == \
        gateway.create_bill(merchant, request)["id"]


def test_test_mode_bills_round_trip_through_the_sandbox_paths(live_server, merchant):
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    created = gateway.create_bill(merchant, ali_web_request())

    assert gateway.get_bill(merchant, created["id"])["id"] == created["id"]
    assert remote(live_server.url, read_timeout=10).query_bills(
        merchant, {"bill_no": gateway.get_bill(merchant, created["id"])["bill_no"]}) == []


def test_the_embedded_rest_api_refusal_is_a_gateway_error(live_server, merchant):
    with pytest.raises(GatewayError) as refused:
        remote(live_server.url, read_timeout=10).create_bill(
            merchant, ali_web_request(channel="NOT_A_CHANNEL"))

    assert refused.value.result_code == 3


# --- the hosted checkout through a RemoteGateway (issue 3 item 3) ----------------------------

PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def _checkout_channel_page(app, client, merchant, button_order, gateway, channel="ALI_WEB"):
    app.extensions["checkout.gateway"] = gateway
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    return path, client.get(f"{path}/channel/{channel}", headers={"User-Agent": PC_UA})


@pytest.mark.parametrize("behaviour", ["hang", "garbage", "html", "http500", "not_beecloud",
                                       "bare_ok", "drop"])
def test_the_checkout_shows_channel_unavailable_when_the_gateway_misbehaves(
        app, client, fake, merchant, button_order, behaviour):
    fake.behaviour = behaviour
    _, page = _checkout_channel_page(app, client, merchant, button_order, remote(fake.url))
    assert page.status_code == 503
    assert b'data-testid="channel-problem"' in page.data
    assert b'data-testid="choose-another"' in page.data
    assert merchant.app_secret.encode() not in page.data


def test_the_checkout_shows_channel_unavailable_when_the_gateway_is_down(
        app, client, merchant, button_order):
    gateway = remote(f"http://127.0.0.1:{closed_port()}")
    _, page = _checkout_channel_page(app, client, merchant, button_order, gateway)
    assert page.status_code == 503


def test_a_gateway_refusal_is_a_friendly_page_not_an_error(app, client, fake, merchant,
                                                            button_order):
    fake.behaviour = "code"
    _, page = _checkout_channel_page(app, client, merchant, button_order, remote(fake.url))
    assert page.status_code == 409 and b'data-testid="channel-problem"' in page.data


def test_the_checkout_pays_through_a_remote_gateway_over_real_http(
        app, client, live_server, merchant, button_order):
    from checkout.db import db
    from checkout.models import Bill
    from checkout.sandbox import settlement

    gateway = remote(live_server.url, read_timeout=5.0, test_mode=True)
    path, page = _checkout_channel_page(app, client, merchant, button_order, gateway)
    assert page.status_code == 200 and b'id="alipaysubmit"' in page.data
    (bill,) = db.session.execute(db.select(Bill)).scalars().all()
    assert settlement.mark_paid(bill)
    result = client.get(path + "/return")
    assert b'data-status="paid"' in result.data


# --- refunds (issue 13): the wire, then against the embedded REST API -------------------

def body_of(sent) -> dict:
    return json.loads(sent["body"].decode("utf-8"))


def para_of(sent) -> dict:
    return json.loads(parse_qs(urlsplit(sent["path"]).query)["para"][0])


def test_refund_posts_the_request_signed_with_the_master_secret(fake, merchant):
    answer = remote(fake.url).refund(merchant, {"bill_no": "abc12345678",
                                                "refund_no": "20261201001x", "refund_fee": 1})

    assert answer["id"] == "bill-1"
    sent = fake.requests[-1]
    assert (sent["method"], sent["path"]) == ("POST", "/2/rest/refund")
    body = body_of(sent)
    assert (body["bill_no"], body["refund_no"], body["refund_fee"]) == \
        ("abc12345678", "20261201001x", 1)
    assert body["app_sign"] == app_sign(merchant.app_id, body["timestamp"],
                                        merchant.master_secret)


def test_review_refunds_puts_the_batch_signed_with_the_master_secret(fake, merchant):
    remote(fake.url).review_refunds(merchant, {"ids": ["a", "b"], "agree": False,
                                               "deny_reason": "no"})

    sent = fake.requests[-1]
    assert (sent["method"], sent["path"]) == ("PUT", "/2/rest/refund")
    body = body_of(sent)
    assert (body["ids"], body["agree"], body["deny_reason"]) == (["a", "b"], False, "no")
    assert body["app_sign"] == app_sign(merchant.app_id, body["timestamp"],
                                        merchant.master_secret)


def test_test_mode_refunds_use_the_sandbox_path_and_the_test_secret(fake, merchant):
    gateway = remote(fake.url, test_mode=True)
    gateway.refund(merchant, {"bill_no": "abc12345678", "refund_fee": 1})
    gateway.query_refunds(merchant, {})
    gateway.get_refund(merchant, "refund-1")

    posted, listed, one = fake.requests[-3:]
    assert posted["path"] == "/2/rest/sandbox/refund"
    assert body_of(posted)["app_sign"] == app_sign(merchant.app_id, body_of(posted)["timestamp"],
                                                   merchant.test_secret)
    assert urlsplit(listed["path"]).path == "/2/rest/sandbox/refunds"
    assert urlsplit(one["path"]).path == "/2/rest/sandbox/refund/refund-1"
    assert para_of(one)["app_sign"] == app_sign(merchant.app_id, para_of(one)["timestamp"],
                                                merchant.test_secret)


def test_query_refunds_sends_the_filters_in_para_signed_with_the_app_secret(fake, merchant):
    assert remote(fake.url).query_refunds(merchant, {"refund_no": "20261201001x",
                                                     "need_approval": True}) == []

    sent = fake.requests[-1]
    assert urlsplit(sent["path"]).path == "/2/rest/refunds"
    para = para_of(sent)
    assert (para["refund_no"], para["need_approval"]) == ("20261201001x", True)
    assert para["app_sign"] == app_sign(merchant.app_id, para["timestamp"], merchant.app_secret)


def test_get_refund_keeps_an_odd_id_inside_one_path_segment(fake, merchant):
    assert remote(fake.url).get_refund(merchant, "../refunds?x=1") == {"id": "refund-1"}

    assert urlsplit(fake.requests[-1]["path"]).path == "/2/rest/refund/..%2Frefunds%3Fx%3D1"


def test_a_refund_refusal_is_a_gateway_error(fake, merchant):
    fake.behaviour = "code"

    with pytest.raises(GatewayError) as refused:
        remote(fake.url).refund(merchant, {"bill_no": "abc12345678", "refund_fee": 1})

    assert refused.value.result_code == 5


def test_a_timed_out_refund_is_not_sent_again(fake, merchant):
    fake.behaviour = "hang"

    with pytest.raises(GatewayUnavailable):
        remote(fake.url, read_timeout=0.2).refund(merchant, {"bill_no": "b", "refund_fee": 1})

    assert len(fake.requests) == 1


def _paid_bill_with_refunds(merchant, fees, *, test_mode=True, statuses=None):
    from checkout.clock import now_ms
    from checkout.db import db
    from checkout.models import Bill, Refund
    from checkout.sandbox import bills, settlement

    created = bills.create_bill(merchant, ali_web_request(total_fee=1000), test_mode=test_mode)
    bill = db.session.get(Bill, created["id"])
    assert settlement.mark_paid(bill)
    made = []
    for i, fee in enumerate(fees):
        status = (statuses or {}).get(i, Refund.SUCCESS)
        made.append(Refund(id=str(uuid.uuid4()), app_id=merchant.app_id, test_mode=test_mode,
                           bill_id=bill.id, bill_no=bill.bill_no, channel=bill.channel,
                           refund_no=f"20261201x{uuid.uuid4().hex[:10]}", refund_fee=fee,
                           need_approval=False, status=status, create_time=now_ms() + i))
        if status == Refund.SUCCESS:
            bill.refunded_fee += fee
            bill.refund_result = True
    db.session.add_all(made)
    db.session.commit()
    return bill, made


def test_refunds_are_read_through_the_embedded_rest_api(live_server, merchant):
    bill, (first, second) = _paid_bill_with_refunds(merchant, [100, 250])
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    listed = gateway.query_refunds(merchant, {"bill_no": bill.bill_no})
    one = gateway.get_refund(merchant, first.id)

    assert [refund["id"] for refund in listed] == [second.id, first.id]
    assert (one["refund_fee"], one["result"], one["total_fee"]) == (100, True, 1000)
    with pytest.raises(GatewayError) as unknown:
        gateway.get_refund(merchant, "no-such-refund")
    assert unknown.value.result_code == 13


def test_test_mode_refunds_are_read_through_the_sandbox_paths(live_server, make_live_merchant):
    merchant = make_live_merchant()  # its live ALI_WEB bill: Alipay's page pay, no network
    _paid_bill_with_refunds(merchant, [100], test_mode=False)
    _, (test,) = _paid_bill_with_refunds(merchant, [200], test_mode=True)

    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    assert [refund["id"] for refund in gateway.query_refunds(merchant, {})] == [test.id]
    assert gateway.get_refund(merchant, test.id)["refund_fee"] == 200


def test_refunded_fee_sums_the_successful_refunds_over_the_rest_api(live_server, merchant):
    from checkout.models import Refund

    bill, _ = _paid_bill_with_refunds(merchant, [100, 250, 300],
                                      statuses={2: Refund.PROCESSING})
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    assert gateway.refunded_fee(merchant, gateway.get_bill(merchant, bill.id)) == 350


def test_refunded_fee_reads_every_page_of_refunds(live_server, merchant):
    bill, _ = _paid_bill_with_refunds(merchant, [1] * 51)
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    assert gateway.refunded_fee(merchant, gateway.get_bill(merchant, bill.id)) == 51


def test_a_bill_without_a_refund_asks_no_refund_list(fake, merchant):
    assert remote(fake.url).refunded_fee(merchant, {"bill_no": "b", "refund_result": False}) == 0
    assert fake.requests == []


def test_the_embedded_gateway_reads_the_refunded_fee_from_the_bill(app, merchant):
    from checkout.gateway.embedded import EmbeddedGateway

    bill, _ = _paid_bill_with_refunds(merchant, [100, 250])
    gateway = EmbeddedGateway()

    assert gateway.refunded_fee(merchant, gateway.get_bill(merchant, bill.id)) == 350
    assert [r["refund_fee"] for r in gateway.query_refunds(merchant, {})] == [250, 100]



def _today_refund_no() -> str:
    from checkout.clock import now_ms
    from checkout.sandbox.refunds import china_day

    return china_day(now_ms()) + uuid.uuid4().hex[:10]


def _paid_ali_bill(merchant, total_fee=1000):
    from checkout.db import db
    from checkout.models import Bill
    from checkout.sandbox import bills, settlement

    created = bills.create_bill(merchant, ali_web_request(total_fee=total_fee), test_mode=True)
    bill = db.session.get(Bill, created["id"])
    assert settlement.mark_paid(bill)
    return bill


def test_a_refund_and_its_approval_go_through_the_embedded_rest_api(live_server, merchant):
    bill = _paid_ali_bill(merchant)
    gateway = remote(live_server.url, read_timeout=10, test_mode=True)

    direct = gateway.refund(merchant, {"bill_no": bill.bill_no, "refund_no": _today_refund_no(),
                                       "refund_fee": 300})
    pre = gateway.refund(merchant, {"bill_no": bill.bill_no, "refund_no": _today_refund_no(),
                                    "refund_fee": 700, "need_approval": True})
    reviewed = gateway.review_refunds(merchant, {"channel": "ALI", "ids": [pre["id"]],
                                                 "agree": True})

    assert reviewed["result_map"] == {pre["id"]: "OK"}
    assert gateway.get_refund(merchant, direct["id"])["result"] is True
    assert gateway.refunded_fee(merchant, gateway.get_bill(merchant, bill.id)) == 1000


def test_a_refund_over_what_was_paid_is_a_gateway_error_through_the_rest_api(live_server,
                                                                              merchant):
    bill = _paid_ali_bill(merchant, total_fee=100)
    with pytest.raises(GatewayError) as refused:
        remote(live_server.url, read_timeout=10, test_mode=True).refund(
            merchant, {"bill_no": bill.bill_no, "refund_no": _today_refund_no(),
                       "refund_fee": 101})
    assert refused.value.result_code == 12
