"""The demo shop (``checkout.demo``, ``/demo/…``, ``flask demo setup``) and the
whole sandbox journey in Chromium: storefront → Alipay sandbox cashier → Pay
→ return page → the webhook worker delivers → the shop shows the webhook."""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import urlsplit

import pytest

from checkout import demo, signing
from checkout.db import db
from checkout.models import Bill, DemoWebhook, Merchant, WebhookDelivery
from checkout.sandbox import settlement, webhooks

BASE = "http://127.0.0.1:5000"


@pytest.fixture
def shop(app):
    merchant, _created = demo.setup(BASE)
    return merchant


def signed_event(merchant, **overrides) -> dict:
    event = {"timestamp": 1, "channel_type": "ALI", "sub_channel_type": "ALI_WEB",
             "transaction_type": "PAY", "transaction_id": "demo1700000000000000001",
             "transaction_fee": 1999, "bill_fee": 1999, "discount": 0, "coupon_id": None,
             "trade_success": True, "message_detail": {}, "optional": {"product": "tea"}}
    event.update(overrides)
    event["signature"] = signing.webhook_signature(
        merchant.app_id, event["transaction_id"], event["transaction_type"],
        event["channel_type"], event["transaction_fee"], merchant.master_secret)
    return event


# --- setup ---------------------------------------------------------------------------

def test_setup_creates_the_demo_merchant_once(app):
    first, created = demo.setup(BASE)
    again, created_again = demo.setup(BASE)
    assert created and not created_again and first.app_id == again.app_id
    assert db.session.query(Merchant).count() == 1


def test_demo_merchant_has_web_channels_own_host_and_demo_receiver(shop):
    assert {"ALI_WEB", "WX_NATIVE", "ALI_WAP", "UN_WEB", "JD_WEB"} <= set(shop.channels)
    assert {"127.0.0.1:5000", "localhost:5000"} <= set(shop.return_hosts)
    assert shop.webhook_url == BASE + "/demo/webhook"


def test_cli_setup_prints_app_id_secrets_and_storefront(runner):
    result = runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:8123"])
    assert result.exit_code == 0, result.output
    merchant = demo.demo_merchant()
    assert merchant.app_id in result.output and merchant.app_secret in result.output
    assert "http://127.0.0.1:8123/demo/shop" in result.output
    again = runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:8123"])
    assert "already exists" in again.output and demo.demo_merchant().app_id == merchant.app_id


# --- storefront ----------------------------------------------------------------------

def test_storefront_lists_products_with_prices(client, shop):
    page = client.get("/demo/shop?lang=en").get_data(as_text=True)
    assert "Oolong tea" in page and "¥19.99" in page and "¥0.01" in page


def test_storefront_signs_each_order_on_the_server(client, shop):
    page = client.get("/demo/shop").get_data(as_text=True)
    order = demo.signed_order(shop, demo.product("tea"), BASE)
    assert signing.verify_button_sign(shop.app_id, order["title"], int(order["amount"]),
                                      order["out_trade_no"], shop.app_secret, order["sign"])
    assert shop.app_secret not in page and shop.master_secret not in page


def test_storefront_is_off_without_demo_setting_or_demo_merchant(app, client):
    app.config["DEMO"] = False
    assert client.get("/demo/shop").status_code == 404


def test_storefront_with_demo_on_sets_the_demo_merchant_up(client):
    assert client.get("/demo/shop").status_code == 200
    assert demo.demo_merchant().webhook_url == "http://localhost/demo/webhook"


def test_rest_api_path_hands_off_to_the_alipay_cashier(client, shop):
    page = client.get("/demo/shop").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/demo/shop/tea/alipay", data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="alipaysubmit"' in html
    csp = response.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'", csp)
    bill = db.session.execute(db.select(Bill)).scalar_one()
    assert (bill.channel, bill.total_fee, bill.optional) == ("ALI_WEB", 1999, {"product": "tea"})
    # Live, through the real Alipay connector, to the built-in simulator (issue 14).
    assert (bill.test_mode, bill.provider, bill.provider_ref) == (False, "alipay", bill.bill_no)
    assert 'action="http://localhost/simulators/alipay/gateway.do' in html
    assert 'name="method" value="alipay.trade.page.pay"' in html


def test_the_demo_merchant_is_live_with_alipay_credentials_on_the_simulator(shop):
    from checkout import credentials

    assert shop.checkout_mode == "live"
    assert credentials.load(shop.app_id, "alipay")["gateway"] == "simulator"


def test_without_simulators_the_demo_merchant_stays_in_test_mode(app):
    app.config["SIMULATORS"] = False
    merchant, _created = demo.setup(BASE)
    assert merchant.checkout_mode == "test"


def test_unknown_product_is_404(client, shop):
    page = client.get("/demo/shop").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/demo/shop/nope/alipay", data={"csrf_token": token}).status_code == 404


# --- the webhook receiver ------------------------------------------------------------

def test_receiver_accepts_a_signed_webhook_stores_it_and_answers_success(client, shop):
    response = client.post("/demo/webhook", data=json.dumps(signed_event(shop)),
                           content_type="application/json")
    assert response.get_data(as_text=True) == "success"
    stored = db.session.execute(db.select(DemoWebhook)).scalar_one()
    assert (stored.transaction_id, stored.transaction_fee, stored.fee_matches) == \
        ("demo1700000000000000001", 1999, True)


def test_receiver_refuses_a_bad_signature(client, shop):
    event = signed_event(shop)
    event["transaction_fee"] = 1  # tampered after signing
    response = client.post("/demo/webhook", json=event)
    assert response.status_code == 400 and response.get_data(as_text=True) != "success"
    assert db.session.query(DemoWebhook).count() == 0


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"transaction_id": "x"}'])
def test_receiver_refuses_garbage(client, shop, raw):
    response = client.post("/demo/webhook", data=raw, content_type="application/json")
    assert response.status_code == 400


def test_receiver_keeps_a_repeated_webhook_once_and_still_answers_success(client, shop):
    body = json.dumps(signed_event(shop))
    for _ in range(2):
        response = client.post("/demo/webhook", data=body, content_type="application/json")
        assert response.get_data(as_text=True) == "success"
    assert db.session.query(DemoWebhook).count() == 1


def test_receiver_flags_a_fee_that_does_not_match_the_price(client, shop):
    client.post("/demo/webhook", json=signed_event(shop, transaction_fee=1, bill_fee=1))
    assert db.session.execute(db.select(DemoWebhook)).scalar_one().fee_matches is False


def test_return_page_tells_whether_the_webhook_arrived(client, shop):
    waiting = client.get("/demo/return/demo1700000000000000001").get_data(as_text=True)
    assert 'data-testid="order-waiting"' in waiting
    client.post("/demo/webhook", json=signed_event(shop))
    paid = client.get("/demo/return/demo1700000000000000001").get_data(as_text=True)
    assert 'data-testid="order-paid"' in paid


def pay_at_the_alipay_simulator(client, handoff_url: str) -> None:
    """What the shopper does: open Alipay's page (the hand-off ``url``), press Pay."""
    parts = urlsplit(handoff_url)
    cashier = client.get(f"{parts.path}?{parts.query}", follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', cashier.get_data(as_text=True))
    pay_path = re.search(r'formaction="([^"]+/pay)"', cashier.get_data(as_text=True)).group(1)
    client.post(pay_path, data={"csrf_token": token.group(1) if token else ""})


def test_worker_delivers_a_real_payment_to_the_demo_receiver(app, client, simulator_server):
    merchant, _ = demo.setup(simulator_server.url)
    with app.test_request_context("/?lang=en"):  # a product's name is in the shopper's language
        answer = demo.alipay_bill(merchant, demo.product("water"), simulator_server.url)
    bill = db.session.get(Bill, answer["id"])
    # Paid at the simulator, whose signed notification reaches our notify URL.
    pay_at_the_alipay_simulator(client, answer["url"])
    db.session.refresh(bill)
    assert bill.status == Bill.PAID and bill.message_detail["trade_status"] == "TRADE_SUCCESS"
    assert webhooks.work_once() == 1
    db.session.expire_all()
    assert db.session.execute(db.select(WebhookDelivery)).scalar_one().status == \
        WebhookDelivery.DELIVERED
    assert demo.webhook_for(merchant, bill.bill_no).fee_matches is True


# --- the whole journey in Chromium ---------------------------------------------------

@pytest.mark.browser
def test_storefront_to_alipay_cashier_to_return_page_and_webhook(app, simulator_server, page,
                                                                  screenshot):
    live_server = simulator_server
    demo.setup(live_server.url)
    page.goto(f"{live_server.url}/demo/shop?lang=en")
    screenshot(page, "storefront")
    page.get_by_test_id("buy-alipay-tea").click()
    # The real Alipay connector's form, to the built-in Alipay simulator's cashier.
    page.wait_for_url(re.compile(r".*/simulators/alipay/cashier/.*"))
    assert "SANDBOX" in page.get_by_test_id("sandbox-ribbon").inner_text()
    assert page.get_by_test_id("trade-amount").inner_text() == "¥19.99"
    screenshot(page, "alipay-cashier")
    page.get_by_test_id("pay").click()
    page.wait_for_url(re.compile(r".*/demo/return/demo\d+"))
    assert page.get_by_test_id("demo-return").is_visible()
    screenshot(page, "return")

    stop = threading.Event()

    def worker():  # the webhook worker, in a thread, as `webhooks work` runs it
        with app.app_context():
            while not stop.is_set():
                if not webhooks.work_once():
                    stop.wait(0.2)
            db.session.remove()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            page.reload()
            if page.get_by_test_id("order-paid").count():
                break
            assert time.monotonic() < deadline, "the webhook never reached the demo shop"
            page.wait_for_timeout(300)
    finally:
        stop.set()
        thread.join(timeout=10)
    page.goto(f"{live_server.url}/demo/shop?lang=en")
    rows = page.get_by_test_id("webhook-row")
    assert rows.count() == 1 and "ALI_WEB" in rows.first.inner_text()
    assert "matches" in rows.first.inner_text()
    screenshot(page, "storefront-with-webhook")


@pytest.mark.browser
def test_wechat_qr_cashier_on_a_phone(app, live_server, phone_page, screenshot):
    app.config["PUBLIC_URL"] = live_server.url  # links made outside a request
    merchant, _ = demo.setup(live_server.url)
    from checkout.sandbox import bills

    # The sandbox's WeChat cashier: WeChat has no live connector yet (issue 14).
    answer = bills.create_bill(merchant, {"channel": "WX_NATIVE", "total_fee": 1,
                                          "title": "Spring water", "bill_no": "phoneqr00000001"},
                               test_mode=True)
    phone_page.goto(answer["code_url"] + "?lang=en")  # what scanning the QR code opens
    assert phone_page.get_by_test_id("pay").is_visible()
    screenshot(phone_page, "wechat-cashier-phone")
    phone_page.get_by_test_id("pay").click()
    assert phone_page.get_by_test_id("cashier-state").get_attribute("data-state") == "paid"
    screenshot(phone_page, "wechat-paid-phone")


@pytest.mark.browser
def test_pc_qr_cashier_moves_on_when_the_phone_pays(app, live_server, page, screenshot):
    app.config["PUBLIC_URL"] = live_server.url  # links made outside a request
    merchant, _ = demo.setup(live_server.url)
    from checkout.sandbox import bills

    answer = bills.create_bill(merchant, {"channel": "WX_NATIVE", "total_fee": 1999,
                                          "title": "Oolong tea", "bill_no": "pcqr0000000001"},
                               test_mode=True)
    page.goto(answer["code_url"] + "?lang=en")
    screenshot(page, "wechat-cashier-pc")
    bill = db.session.get(Bill, answer["id"])
    settlement.mark_paid(bill)  # the phone paid
    page.get_by_test_id("cashier-state").wait_for(timeout=15_000)
    assert page.get_by_test_id("cashier-state").get_attribute("data-state") == "paid"
