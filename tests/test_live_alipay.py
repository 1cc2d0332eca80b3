"""Live mode through the Alipay connector (issue 14): the gateway core's side.

A live-mode merchant's bills go to Alipay with its own credentials (支付要素),
here on the built-in Alipay simulator (``make_live_merchant``); the simulator
keeps its own trades and signs as Alipay does. What is specified here is what
the gateway core does with Alipay's word: PAY_FACTOR_NOT_SET, notifications
believed only when signed and of the right amount (paid once, however often
replayed), late notifications found by asking, bills closed or cancelled at
Alipay when they end here, refunds sent to Alipay.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from checkout import connectors
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, Refund, WebhookDelivery
from checkout.sandbox import bills, jobs, live_channels, offline, refunds, settlement
from checkout.simulators.alipay import signing as alipay_signing
from checkout.simulators.alipay import trades as alipay_trades
from checkout.simulators.alipay.models import SimApp, SimTrade

RETURN_URL = "http://shop.example.com/done"


@pytest.fixture
def merchant(make_live_merchant):
    return make_live_merchant(channels=["ALI_WEB", "ALI_WAP", "ALI_QRCODE", "WX_NATIVE", "UN_WEB"])


def live_bill(merchant, channel="ALI_WEB", bill_no="live0000001", total_fee=1999, **fields):
    request = {"channel": channel, "total_fee": total_fee, "bill_no": bill_no,
               "title": "Oolong tea", **fields}
    if channel in ("ALI_WEB", "ALI_QRCODE"):
        request.setdefault("return_url", RETURN_URL)
    if channel == "ALI_QRCODE":
        request.setdefault("qr_pay_mode", "0")
    return bills.create_bill(merchant, request)


def bill_of(answer) -> Bill:
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"])


def open_at_alipay(client, answer) -> SimTrade:
    """The shopper's browser follows the hand-off ``url`` to Alipay's page."""
    parts = urlsplit(answer["url"])
    assert client.get(f"{parts.path}?{parts.query}").status_code == 303
    trade = db.session.execute(db.select(SimTrade).where(
        SimTrade.out_trade_no == bill_of(answer).provider_ref)).scalar_one()
    alipay_trades.open_trade(trade, now_ms())  # the buyer logged in at the cashier
    return trade


def paid_at_alipay_without_notice(trade: SimTrade) -> None:
    """The buyer paid at Alipay, and the notification was lost on the way."""
    assert alipay_trades.pay(trade, now_ms())


def notification(trade: SimTrade, **changes) -> dict:
    """Alipay's asynchronous notification of ``trade``, signed with the
    simulated Alipay key of the trade's app, with ``changes`` applied before
    signing (a forger with the key could do that; without it, see below)."""
    from checkout.simulators.alipay import notify

    app = db.session.get(SimApp, trade.app_id)
    fields = notify.params_of(trade, app, now_ms())
    fields.update(changes)
    fields.pop("sign")
    fields["sign"] = alipay_signing.sign(app.alipay_private_key,
                                         alipay_signing.notify_content(fields))
    return fields


def post_notice(client, merchant, fields) -> str:
    response = client.post(f"/notify/alipay/{merchant.app_id}", data=fields)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def webhooks_of(bill) -> list[WebhookDelivery]:
    return list(db.session.execute(db.select(WebhookDelivery)
                                   .where(WebhookDelivery.bill_id == bill.id)).scalars())


# --- PAY_FACTOR_NOT_SET -----------------------------------------------------------------

def test_a_live_alipay_bill_without_credentials_answers_pay_factor_not_set(make_merchant):
    answer = live_bill(make_merchant(checkout_mode="live"))
    assert (answer["result_code"], answer["result_msg"]) == (2, "PAY_FACTOR_NOT_SET")
    assert "Alipay" in answer["err_detail"]
    assert db.session.query(Bill).count() == 0  # nothing written


def test_a_live_bill_in_a_channel_without_a_connector_answers_pay_factor_not_set(merchant):
    answer = live_bill(merchant, "WX_NATIVE")
    assert (answer["result_code"], answer["result_msg"]) == (2, "PAY_FACTOR_NOT_SET")
    assert "WX_NATIVE" in answer["err_detail"]


def test_the_same_channel_in_test_mode_keeps_the_simulated_cashier(merchant):
    answer = bills.create_bill(merchant, {"channel": "WX_NATIVE", "total_fee": 1,
                                          "bill_no": "sandbox0001", "title": "t"},
                               test_mode=True)
    assert answer["result_code"] == 0 and "/sandbox/cashier/" in answer["code_url"]


def test_credentials_pointing_at_the_simulator_need_the_simulators_on(app, merchant):
    app.config["SIMULATORS"] = False
    answer = live_bill(merchant)
    assert answer["result_code"] == 2 and "simulator" in answer["err_detail"]


# --- the hand-off ---------------------------------------------------------------------------

def test_a_live_ali_web_bill_hands_off_to_alipay_with_our_notify_url(merchant):
    answer = live_bill(merchant)
    bill = bill_of(answer)
    assert (bill.provider, bill.provider_ref, bill.test_mode) == ("alipay", bill.bill_no, False)
    query = dict(parse_qsl(urlsplit(answer["url"]).query))
    assert query["method"] == "alipay.trade.page.pay" and query["sign_type"] == "RSA2"
    assert query["notify_url"].endswith(f"/notify/alipay/{merchant.app_id}")
    assert query["return_url"] == RETURN_URL
    assert 'id="alipaysubmit"' in answer["html"]


def test_asking_again_for_the_same_live_bill_answers_the_same_bill(merchant):
    first, again = live_bill(merchant), live_bill(merchant)
    assert first["id"] == again["id"] and db.session.query(Bill).count() == 1


def test_the_offline_qr_code_is_alipays_precreate_code(client, make_live_merchant,
                                                       simulator_server):
    merchant = make_live_merchant()
    answer = offline.create_offline_bill(merchant, {
        "channel": "ALI_OFFLINE_QRCODE", "total_fee": 100, "bill_no": "offline0001",
        "title": "t"})
    assert answer["result_code"] == 0, answer
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert trade.method == "alipay.trade.precreate" and trade.total_fen == 100
    assert answer["code_url"].startswith(simulator_server.url + "/simulators/alipay/")


def test_a_barcode_pays_at_once_through_settlement(make_live_merchant, simulator_server):
    merchant = make_live_merchant()
    answer = offline.create_offline_bill(merchant, {
        "channel": "ALI_SCAN", "total_fee": 100, "bill_no": "scan000001", "title": "t",
        "auth_code": "281234567890123456"})
    assert (answer["result_code"], answer["pay_result"]) == (0, True), answer
    bill = db.session.get(Bill, answer["id"])
    assert bill.status == Bill.PAID and bill.trade_no
    assert "auth_code" not in (bill.channel_params or {})  # never stored


# --- notifications ------------------------------------------------------------------------

def test_a_signed_notification_of_the_right_amount_pays_the_bill_once(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    fields = notification(trade)
    assert post_notice(client, merchant, fields) == "success"
    bill = bill_of(answer)
    assert bill.status == Bill.PAID and bill.trade_no == trade.trade_no
    assert bill.message_detail["trade_status"] == "TRADE_SUCCESS"
    assert bill.message_detail["out_trade_no"] == bill.bill_no
    [webhook] = webhooks_of(bill)
    assert '"channel_type": "ALI"' in webhook.body or '"channel_type":"ALI"' in webhook.body


def test_a_replayed_notification_pays_nothing_twice_and_sends_no_second_webhook(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    fields = notification(trade)
    assert post_notice(client, merchant, fields) == "success"
    assert post_notice(client, merchant, fields) == "success"  # Alipay stops sending
    assert len(webhooks_of(bill_of(answer))) == 1


def test_a_notification_with_a_forged_signature_changes_nothing(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    fields = notification(trade)
    fields["sign"] = fields["sign"][:-8] + "AAAAAAA="
    assert post_notice(client, merchant, fields) == "failure"
    assert bill_of(answer).status == Bill.OPEN


def test_a_notification_changed_after_signing_changes_nothing(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    fields = notification(trade)
    fields["total_amount"] = "0.01"
    assert post_notice(client, merchant, fields) == "failure"
    assert bill_of(answer).status == Bill.OPEN


def test_a_signed_notification_of_another_amount_changes_nothing(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    assert post_notice(client, merchant, notification(trade, total_amount="0.01")) == "failure"
    assert bill_of(answer).status == Bill.OPEN and not webhooks_of(bill_of(answer))


def test_a_notification_signed_for_another_app_changes_nothing(client, merchant,
                                                               make_live_merchant):
    other = make_live_merchant("Other Shop")
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    # Posted to the other app's notify URL: its key and its app id do not match.
    assert post_notice(client, other, notification(trade)) == "failure"
    assert bill_of(answer).status == Bill.OPEN


def test_a_notification_of_an_unknown_trade_changes_nothing(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    assert post_notice(client, merchant,
                       notification(trade, out_trade_no="nosuchtrade01")) == "failure"
    assert bill_of(answer).status == Bill.OPEN


def test_a_trade_closed_notification_changes_nothing(client, merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    assert post_notice(client, merchant,
                       notification(trade, trade_status="TRADE_CLOSED")) == "failure"
    assert bill_of(answer).status == Bill.OPEN


def test_a_notification_for_an_app_without_credentials_changes_nothing(client, merchant,
                                                                       make_merchant):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    plain = make_merchant("No credentials")
    assert post_notice(client, plain, notification(trade)) == "failure"
    assert bill_of(answer).status == Bill.OPEN


# --- when the notification is late ----------------------------------------------------------

def test_the_worker_finds_a_payment_whose_notification_was_lost(client, merchant,
                                                                 simulator_server, clock):
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    clock.now += live_channels.FIRST_CHECK_MS
    jobs.run_due()
    bill = bill_of(answer)
    db.session.refresh(bill)
    assert bill.status == Bill.PAID and len(webhooks_of(bill)) == 1


def test_the_worker_does_not_ask_before_the_first_check_is_due(client, merchant,
                                                               simulator_server):
    answer = live_bill(merchant)
    paid_at_alipay_without_notice(open_at_alipay(client, answer))
    live_channels.check_due(now_ms())
    assert bill_of(answer).status == Bill.OPEN


def test_a_rest_query_of_an_open_live_bill_asks_alipay(client, merchant, simulator_server):
    answer = live_bill(merchant)
    paid_at_alipay_without_notice(open_at_alipay(client, answer))
    queried = bills.get_bill(merchant, answer["id"])
    assert queried["pay"]["spay_result"] is True


def test_an_unreachable_alipay_changes_nothing_on_a_query(app, client, merchant):
    answer = live_bill(merchant)
    paid_at_alipay_without_notice(open_at_alipay(client, answer))
    app.config["PUBLIC_URL"] = "http://127.0.0.1:9"  # nobody listens there
    assert bills.get_bill(merchant, answer["id"])["pay"]["spay_result"] is False


# --- closing and cancelling at Alipay -------------------------------------------------------

def test_an_expired_live_bill_is_closed_at_alipay(client, merchant, simulator_server, clock):
    answer = live_bill(merchant, bill_timeout=120)
    trade = open_at_alipay(client, answer)
    clock.now += 121_000
    jobs.run_due()  # closes it here (expiry) …
    clock.now += live_channels.RETRY_MS
    jobs.run_due()  # … and there
    db.session.refresh(trade)
    bill = bill_of(answer)
    assert bill.status == Bill.CLOSED and bill.provider_closed
    assert trade.status == alipay_trades.CLOSED


def test_paying_another_channel_closes_the_open_alipay_bill_at_alipay(client, merchant,
                                                                       simulator_server):
    web = live_bill(merchant, "ALI_WEB")
    qr = live_bill(merchant, "ALI_QRCODE")
    qr_trade = open_at_alipay(client, qr)
    web_trade = open_at_alipay(client, web)
    paid_at_alipay_without_notice(web_trade)
    assert post_notice(client, merchant, notification(web_trade)) == "success"
    jobs.run_due()
    db.session.refresh(qr_trade)
    assert bill_of(qr).status == Bill.CLOSED and qr_trade.status == alipay_trades.CLOSED


def test_a_payment_at_alipay_after_the_order_was_paid_elsewhere_is_given_back(
        client, merchant, simulator_server):
    web = live_bill(merchant, "ALI_WEB")
    qr = live_bill(merchant, "ALI_QRCODE")
    web_trade, qr_trade = open_at_alipay(client, web), open_at_alipay(client, qr)
    paid_at_alipay_without_notice(web_trade)
    paid_at_alipay_without_notice(qr_trade)  # both, before either notification
    assert post_notice(client, merchant, notification(web_trade)) == "success"
    assert post_notice(client, merchant, notification(qr_trade)) == "success"
    db.session.refresh(qr_trade)
    assert bill_of(web).status == Bill.PAID and bill_of(qr).status == Bill.CLOSED
    assert qr_trade.refunded_fen == qr_trade.total_fen  # cancelled = refunded at Alipay


def test_reverting_an_offline_live_bill_cancels_it_at_alipay(make_live_merchant,
                                                             simulator_server):
    merchant = make_live_merchant()
    answer = offline.create_offline_bill(merchant, {
        "channel": "ALI_OFFLINE_QRCODE", "total_fee": 100, "bill_no": "revert0001",
        "title": "t"})
    reverted = offline.revert_bill(merchant, "revert0001", {"method": "REVERT"})
    assert reverted == {"result_code": 0, "result_msg": "OK", "err_detail": "",
                        "revert_status": True}
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert trade.status == alipay_trades.CLOSED
    assert db.session.get(Bill, answer["id"]).provider_closed


# --- refunds -----------------------------------------------------------------------------------

def paid_live_bill(client, merchant) -> Bill:
    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    assert post_notice(client, merchant, notification(trade)) == "success"
    return bill_of(answer)


def test_a_refund_of_a_live_bill_is_made_at_alipay(client, merchant, simulator_server):
    bill = paid_live_bill(client, merchant)
    answer = refunds.create_refund(merchant, {
        "bill_no": bill.bill_no, "refund_no": refunds.china_day(now_ms()) + "001",
        "refund_fee": 500}, test_mode=False)
    assert answer["result_code"] == 0 and "url" not in answer  # no page to confirm on
    refund = db.session.get(Refund, answer["id"])
    assert refund.status == Refund.SUCCESS and refund.message_detail["fund_change"] == "Y"
    trade = db.session.execute(db.select(SimTrade)).scalar_one()
    assert trade.refunded_fen == 500
    db.session.refresh(bill)
    assert bill.refunded_fee == 500


def test_a_refund_alipay_cannot_be_reached_for_is_sent_again_by_the_worker(
        app, client, merchant, simulator_server, clock):
    bill = paid_live_bill(client, merchant)
    app.config["PUBLIC_URL"] = "http://127.0.0.1:9"
    answer = refunds.create_refund(merchant, {
        "bill_no": bill.bill_no, "refund_no": refunds.china_day(now_ms()) + "002",
        "refund_fee": 300}, test_mode=False)
    assert db.session.get(Refund, answer["id"]).status == Refund.PROCESSING
    app.config["PUBLIC_URL"] = simulator_server.url
    clock.now += refunds.LIVE_REFUND_CHECK_MS
    jobs.run_due()
    db.session.expire_all()
    assert db.session.get(Refund, answer["id"]).status == Refund.SUCCESS
    assert db.session.execute(db.select(SimTrade)).scalar_one().refunded_fen == 300


# --- the hosted checkout in live mode ------------------------------------------------------

def test_a_live_checkout_offers_only_channels_its_credentials_pay(merchant):
    from checkout.gateway import get_gateway

    offered = get_gateway().payable_channels(merchant, list(merchant.channels))
    assert offered == ["ALI_WEB", "ALI_WAP", "ALI_QRCODE"]


def test_a_test_mode_checkout_offers_every_channel(make_merchant):
    from checkout.gateway import get_gateway

    merchant = make_merchant()
    assert get_gateway().payable_channels(merchant, list(merchant.channels)) == \
        list(merchant.channels)


def test_connectors_report_providers_they_serve():
    assert live_channels.provider_of("ALI_WAP") == "alipay"
    assert live_channels.provider_of("WX_NATIVE") is None
    assert issubclass(connectors.ProviderUnreachable, connectors.ConnectorError)


def test_a_re_opened_live_bill_gets_its_own_trade_number_and_its_predecessor_closes_at_alipay(
        client, merchant, simulator_server, clock):
    from checkout.gateway.embedded import EmbeddedGateway

    request = {"channel": "ALI_QRCODE", "total_fee": 1999, "bill_no": "reopen00001",
               "title": "Oolong tea", "return_url": RETURN_URL, "qr_pay_mode": "0",
               "bill_timeout": 900}
    gateway = EmbeddedGateway()
    first = gateway.create_bill(merchant, request)
    first_trade = open_at_alipay(client, first)
    clock.now += 901_000
    again = gateway.reopen_bill(merchant, request)  # the shopper chose the channel again
    assert again["id"] != first["id"]
    renewed = bill_of(again)
    assert renewed.provider_ref.startswith("reopen00001_") and renewed.status == Bill.OPEN
    jobs.run_due()
    db.session.refresh(first_trade)
    assert bill_of(first).provider_closed and first_trade.status == alipay_trades.CLOSED


def test_the_worker_also_retries_the_simulators_notifications(app, client, runner, merchant,
                                                              simulator_server, clock):
    from checkout.simulators.alipay import notify
    from checkout.simulators.alipay.models import SimNotify

    answer = live_bill(merchant)
    trade = open_at_alipay(client, answer)
    paid_at_alipay_without_notice(trade)
    real_url = trade.notify_url
    trade.notify_url = "http://127.0.0.1:9/nobody"  # the first attempt finds nobody
    db.session.commit()
    notify.start(trade, clock.now)
    row = db.session.execute(db.select(SimNotify)).scalar_one()
    assert row.status == SimNotify.PENDING
    row.url = real_url  # our notify URL answers again
    db.session.commit()
    clock.now += 4 * 60_000  # Alipay's first retry
    result = runner.invoke(args=["webhooks", "work", "--once"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    row = db.session.get(SimNotify, row.id)
    assert row.status == SimNotify.DELIVERED, (row.attempts, row.last_answer, row.next_attempt_at, clock.now)
    assert bill_of(answer).status == Bill.PAID


def test_credentials_saved_under_another_key_answer_pay_factor_not_set(app, merchant):
    from cryptography.fernet import Fernet

    app.config["CREDENTIALS_KEY"] = Fernet.generate_key().decode()  # not the one they were saved with
    answer = live_bill(merchant)
    assert answer["result_code"] == 2 and "cannot be read" in answer["err_detail"]
    assert db.session.query(Bill).count() == 0


def test_credentials_the_connector_cannot_use_answer_pay_factor_not_set(monkeypatch, merchant):
    from checkout import credentials

    stored = credentials.load(merchant.app_id, "alipay")
    monkeypatch.setattr(credentials, "load", lambda app_id, provider: {
        **stored, "alipay_public_key": "not a key"})
    answer = live_bill(merchant)
    assert answer["result_code"] == 2 and "cannot be used" in answer["err_detail"]
    assert "not a key" not in answer["err_detail"]
