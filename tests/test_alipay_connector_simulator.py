"""The Alipay connector end to end against the built-in Alipay simulator
(issue 14: "pointing a connector's base URL at a simulator exercises the real
connector code"). The connector calls ``/simulators/alipay/gateway.do`` of a
live server over HTTP; the shopper's side (posting the hand-off form, the
SANDBOX cashier's Pay button) is played with the app's test client, as a
browser would; the simulator's own notification is read by the connector.

Nothing here is faked: the simulator verifies the connector's RSA2 signatures
with the app public key uploaded at its console, and the connector verifies
the simulator's answers and notification with the Alipay public key the
console gave back.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checkout.connectors import (CLOSED, OPEN, PAID, WAITING, ConnectorError,
                                 NotificationRejected, Payment, ProviderUnreachable)
from checkout.connectors.alipay import AlipayConnector
from checkout.simulators.alipay import console

GATEWAY_PATH = "/simulators/alipay/gateway.do"
PAYS_AT_ONCE = "281234567890123456"     # the simulator: codes starting 28 pay at once
NEEDS_PASSWORD = "251234567890123456"   # 25: waits for the buyer's password (10003)


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode(),
            key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode())


APP_PRIVATE_PEM, APP_PUBLIC_PEM = _pem_pair()
OTHER_PRIVATE_PEM, _ = _pem_pair()


@pytest.fixture
def opened(app):
    """The merchant's app, opened at the simulated console with its public key."""
    return console.open_app(APP_PUBLIC_PEM)


def connect(opened, live_server, private_pem=APP_PRIVATE_PEM, app_id=None) -> AlipayConnector:
    return AlipayConnector(
        {"app_id": app_id or opened["app_id"], "app_private_key": private_pem,
         "alipay_public_key": opened["alipay_public_key"], "gateway": "simulator"},
        gateway_url=live_server.url + GATEWAY_PATH)


@pytest.fixture
def connector(opened, live_server):
    return connect(opened, live_server)


def payment(channel: str, bill_no: str, *, notify_url: str = "http://127.0.0.1:9/notify",
            **params) -> Payment:
    return Payment(bill_no=bill_no, channel=channel, title="乌龙茶 Oolong", total_fee=300,
                   notify_url=notify_url, return_url="http://127.0.0.1:9/pay/o1/return",
                   timeout_seconds=900, params=params)


def local(url: str) -> str:
    """The path and query of a live-server URL, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def press(client, cashier_url: str, action: str = "pay"):
    """The shopper opens the SANDBOX cashier and presses a button."""
    path = local(cashier_url)
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"{path}/{action}", data={"csrf_token": token})


class Form(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.action, self.method, self.fields = "", "", {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.action, self.method = attributes["action"], attributes["method"]
        elif tag == "input" and attributes.get("type") == "hidden":
            self.fields[attributes["name"]] = attributes["value"]


def submit(client, html: str):
    """What the browser does with the ``html`` hand-off: POST its form."""
    form = Form(html)
    assert form.method == "post"
    return client.post(local(form.action), data=form.fields)


# --- offline QR (precreate) ----------------------------------------------------------------------

def test_a_precreated_qr_code_is_open_until_paid_at_the_cashier_then_paid(client, connector):
    started = connector.start(payment("ALI_OFFLINE_QRCODE", "E2EQR1"))
    code_url = started.fields["code_url"]
    assert "/simulators/alipay/cashier/" in code_url
    # Alipay creates a precreated trade only when a buyer scans it: until then
    # the query finds none, which the connector reads as open.
    assert connector.query("E2EQR1").status == OPEN
    press(client, code_url)
    trade = connector.query("E2EQR1")
    assert (trade.bill_no, trade.status, trade.total_fee) == ("E2EQR1", PAID, 300)
    assert trade.trade_no and trade.message_detail["trade_status"] == "TRADE_SUCCESS"


def test_the_simulators_notification_is_believed_and_a_tampered_one_is_not(
        client, connector, receiver, opened):
    started = connector.start(payment("ALI_OFFLINE_QRCODE", "E2EQR2", notify_url=receiver.url))
    press(client, started.fields["code_url"])
    [body] = receiver.bodies
    fields = dict(parse_qsl(body, keep_blank_values=True))
    trade = connector.parse_notification(fields)
    assert (trade.bill_no, trade.status, trade.total_fee, trade.provider_app_id) == \
        ("E2EQR2", PAID, 300, opened["app_id"])
    assert trade.trade_no == connector.query("E2EQR2").trade_no
    with pytest.raises(NotificationRejected):
        connector.parse_notification({**fields, "total_amount": "0.01"})


# --- page pays: the hand-off form, the cashier, the way back -------------------------------------

def test_a_web_pay_form_is_accepted_by_the_gateway_and_paid_at_its_cashier(client, connector):
    started = connector.start(payment("ALI_WEB", "E2EWEB1"))
    arrived = submit(client, started.fields["html"])
    assert arrived.status_code == 303
    cashier = arrived.headers["Location"]
    assert "/simulators/alipay/cashier/" in cashier
    assert connector.query("E2EWEB1").status == OPEN
    back = press(client, cashier)
    assert back.status_code == 303
    assert back.headers["Location"].startswith("http://127.0.0.1:9/pay/o1/return?")
    trade = connector.query("E2EWEB1")
    assert (trade.status, trade.total_fee) == (PAID, 300)


def test_the_web_pay_url_is_accepted_as_a_get_too(client, connector):
    started = connector.start(payment("ALI_WEB", "E2EWEB2"))
    arrived = client.get(local(started.fields["url"]))
    assert arrived.status_code == 303
    assert "/simulators/alipay/cashier/" in arrived.headers["Location"]


def test_a_wap_pay_form_is_accepted_and_paid(client, connector):
    started = connector.start(payment("ALI_WAP", "E2EWAP1", use_app=True))
    arrived = submit(client, started.fields["html"])
    assert arrived.status_code == 303
    press(client, arrived.headers["Location"])
    assert connector.query("E2EWAP1").status == PAID


def test_a_qrcode_pay_opens_the_qr_frame_of_its_mode(client, connector):
    started = connector.start(payment("ALI_QRCODE", "E2EQRC1", qr_pay_mode="0"))
    arrived = submit(client, started.fields["html"])
    assert arrived.status_code == 303
    assert "/simulators/alipay/qr/" in arrived.headers["Location"]
    frame = client.get(arrived.headers["Location"]).get_data(as_text=True)
    assert "SANDBOX" in frame


# --- barcode -------------------------------------------------------------------------------------

def test_a_barcode_payment_is_paid_at_once(connector):
    started = connector.start(payment("ALI_SCAN", "E2ESCAN1", auth_code=PAYS_AT_ONCE))
    assert started.status == PAID and started.trade_no
    assert started.message_detail["total_amount"] == "3.00"
    assert connector.query("E2ESCAN1").status == PAID


def test_a_barcode_payment_waiting_for_the_password_is_open_until_confirmed(client, connector,
                                                                            opened):
    started = connector.start(payment("ALI_SCAN", "E2ESCAN2", auth_code=NEEDS_PASSWORD))
    assert started.status == WAITING
    assert connector.query("E2ESCAN2").status == OPEN
    press(client, console.cashier_url(opened["app_id"], "E2ESCAN2"))
    assert connector.query("E2ESCAN2").status == PAID


def test_an_invalid_payment_code_is_refused_with_alipays_code(connector):
    with pytest.raises(ConnectorError) as refused:
        connector.start(payment("ALI_SCAN", "E2ESCAN3", auth_code="1234567890123456"))
    assert refused.value.code == "ACQ.PAYMENT_AUTH_CODE_INVALID"


# --- close and cancel ----------------------------------------------------------------------------

def test_close_closes_an_opened_trade(client, connector):
    started = connector.start(payment("ALI_OFFLINE_QRCODE", "E2ECLOSE1"))
    client.get(local(started.fields["code_url"]))   # scanned: the trade exists now
    assert connector.query("E2ECLOSE1").status == OPEN
    connector.close("E2ECLOSE1")
    assert connector.query("E2ECLOSE1").status == CLOSED


def test_closing_a_trade_no_buyer_opened_is_fine(connector):
    connector.start(payment("ALI_OFFLINE_QRCODE", "E2ECLOSE2"))
    assert connector.close("E2ECLOSE2") is None


def test_closing_a_paid_trade_is_refused(connector):
    connector.start(payment("ALI_SCAN", "E2ECLOSE3", auth_code=PAYS_AT_ONCE))
    with pytest.raises(ConnectorError) as refused:
        connector.close("E2ECLOSE3")
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"


def test_cancel_reverts_a_paid_barcode_payment(connector):
    connector.start(payment("ALI_SCAN", "E2ECANCEL1", auth_code=PAYS_AT_ONCE))
    assert connector.cancel("E2ECANCEL1") is None
    assert connector.query("E2ECANCEL1").status == CLOSED
    assert connector.cancel("E2ECANCEL1") is None   # asked again: the same answer


def test_cancel_closes_a_payment_still_waiting_for_the_password(connector):
    connector.start(payment("ALI_SCAN", "E2ECANCEL2", auth_code=NEEDS_PASSWORD))
    connector.cancel("E2ECANCEL2")
    assert connector.query("E2ECANCEL2").status == CLOSED


# --- refunds -------------------------------------------------------------------------------------

def test_a_partial_refund_and_its_query(connector):
    connector.start(payment("ALI_SCAN", "E2EREF1", auth_code=PAYS_AT_ONCE))
    done = connector.refund("E2EREF1", "E2EREF1R1", 100, "one cup short")
    assert (done.refund_no, done.done, done.refund_fee) == ("E2EREF1R1", True, 100)
    found = connector.refund_query("E2EREF1", "E2EREF1R1")
    assert (found.done, found.refund_fee) == (True, 100)
    assert connector.query("E2EREF1").status == PAID   # 2 yuan of 3 still paid


def test_the_same_refund_no_refunds_once(connector):
    connector.start(payment("ALI_SCAN", "E2EREF2", auth_code=PAYS_AT_ONCE))
    connector.refund("E2EREF2", "E2EREF2R1", 300)
    again = connector.refund("E2EREF2", "E2EREF2R1", 300)
    assert again.done and again.message_detail["fund_change"] == "N"
    assert connector.query("E2EREF2").status == CLOSED   # refunded in full


def test_a_refund_over_what_was_paid_is_refused(connector):
    connector.start(payment("ALI_SCAN", "E2EREF3", auth_code=PAYS_AT_ONCE))
    with pytest.raises(ConnectorError) as refused:
        connector.refund("E2EREF3", "E2EREF3R1", 301)
    assert refused.value.code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


def test_the_query_of_a_refund_never_made_is_not_done(connector):
    connector.start(payment("ALI_SCAN", "E2EREF4", auth_code=PAYS_AT_ONCE))
    found = connector.refund_query("E2EREF4", "E2EREF4R9")
    assert (found.done, found.refund_fee) == (False, None)


# --- wrong credentials ---------------------------------------------------------------------------

def test_an_app_the_gateway_does_not_know_is_answered_unsigned_and_not_believed(
        opened, live_server):
    stranger = connect(opened, live_server, app_id="2021999999999999")
    with pytest.raises(ProviderUnreachable) as unbelieved:
        stranger.query("E2EANY")
    assert "not signed" in unbelieved.value.detail


def test_requests_signed_with_another_key_are_refused_as_an_invalid_signature(
        opened, live_server):
    impostor = connect(opened, live_server, private_pem=OTHER_PRIVATE_PEM)
    with pytest.raises(ConnectorError) as refused:
        impostor.start(payment("ALI_SCAN", "E2EKEY1", auth_code=PAYS_AT_ONCE))
    assert refused.value.code == "isv.invalid-signature"
