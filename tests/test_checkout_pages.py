"""The hosted checkout after the entry (issue 3 items 2-4): the chooser fitted
to the device, instant_channel, the hand-off by channel kind, live status, the
result page from the gateway's real status, and the pages' security."""

from __future__ import annotations

import re

import pytest

from checkout import chooser, devices, handoff
from checkout.channels import MOBILE, PC, WECHAT
from checkout.db import db
from checkout.models import Bill, CheckoutOrder
from checkout.sandbox import settlement

PC_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2148A) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/107.0 Mobile Safari/537.36 MicroMessenger/8.0.35.2360 "
             "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(frame_origins=["https://shop.example.com"])


@pytest.fixture
def open_order(client, merchant, button_order):
    """``open_order(**fields) -> (path, order)``: a checkout opened through /pay."""

    def make(user_agent=PC_UA, **fields):
        response = client.post("/pay", data=button_order(merchant, **fields),
                               headers={"User-Agent": user_agent})
        assert response.status_code == 303, response.data
        path = response.headers["Location"]
        return path, db.session.get(CheckoutOrder, path.rsplit("/", 1)[1])

    return make


def _channels(html: bytes) -> list[str]:
    return re.findall(r'data-testid="channel-(\w+)"', html.decode())


def _csrf(html: bytes) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html.decode()).group(1)


def _bills(order_id=None) -> list[Bill]:
    return db.session.execute(db.select(Bill)).scalars().all()


# --- devices ------------------------------------------------------------------------------

@pytest.mark.parametrize("user_agent,device", [
    (PC_UA, PC), (PHONE_UA, MOBILE), (WECHAT_UA, WECHAT), ("", PC),
    ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
     MOBILE),
])
def test_the_device_is_read_from_the_user_agent(user_agent, device):
    assert devices.device_of(user_agent) == device


# --- chooser ------------------------------------------------------------------------------------

def test_a_pc_sees_the_pc_channels_in_the_merchants_order(client, open_order):
    path, _ = open_order()
    page = client.get(path, headers={"User-Agent": PC_UA})
    assert _channels(page.data) == ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB"]


def test_a_phone_sees_the_mobile_channels(client, open_order):
    path, _ = open_order()
    page = client.get(path, headers={"User-Agent": PHONE_UA})
    assert _channels(page.data) == ["ALI_WAP", "WX_WAP", "UN_WAP", "JD_WAP"]


def test_wechat_sees_jsapi_first_and_alipay_behind_the_guide(client, open_order):
    path, _ = open_order()
    page = client.get(path, headers={"User-Agent": WECHAT_UA})
    assert _channels(page.data) == ["WX_JSAPI", "WX_NATIVE", "ALI_WAP", "UN_WAP"]


def test_wechat_without_the_alipay_guide_offers_no_alipay(client, open_order):
    path, _ = open_order(need_ali_guide="false")
    page = client.get(path, headers={"User-Agent": WECHAT_UA})
    assert "ALI_WAP" not in _channels(page.data)


def test_the_merchants_order_of_channels_is_kept(client, make_merchant, button_order):
    merchant = make_merchant("Reordered", channels=["UN_WEB", "WX_NATIVE", "ALI_WEB"])
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    assert _channels(client.get(path, headers={"User-Agent": PC_UA}).data) == \
        ["UN_WEB", "WX_NATIVE", "ALI_WEB"]


def test_the_chooser_shows_title_amount_in_yuan_and_merchant(client, open_order, merchant):
    path, _ = open_order(title="Oolong tea", amount="1")
    page = client.get(path, headers={"User-Agent": PC_UA}).get_data(as_text=True)
    assert "Oolong tea" in page and "¥0.01" in page and merchant.name in page


def test_a_device_without_channels_is_told_so(client, make_merchant, button_order):
    merchant = make_merchant("Phones only", channels=["ALI_WAP"])
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    page = client.get(path, headers={"User-Agent": PC_UA})
    assert b'data-testid="no-channels"' in page.data and b"<svg" in page.data


@pytest.mark.parametrize("instant,device,expected", [
    ("ali", PC, "ALI_WEB"), ("ali", MOBILE, "ALI_WAP"), ("bcali", PC, "ALI_WEB"),
    ("wxmp", PC, "WX_NATIVE"), ("wx", WECHAT, "WX_JSAPI"), ("wx", PC, "WX_NATIVE"),
    ("un", PC, "UN_WEB"), ("unwap", MOBILE, "UN_WAP"), ("un", MOBILE, "UN_WAP"),
    ("wxwap", MOBILE, "WX_WAP"), ("bcaliqr", PC, "ALI_QRCODE"), ("bckj", PC, "UN_WEB"),
])
def test_instant_channel_maps_to_the_channel_for_the_device(merchant, instant, device,
                                                            expected):
    order = CheckoutOrder(currency="CNY", need_ali_guide=True)
    choices = chooser.channel_choices(merchant, order, device)
    assert chooser.instant_choice(choices, instant, device).code == expected


def test_instant_channel_skips_the_chooser(client, open_order):
    path, _ = open_order(instant_channel="wxmp")
    response = client.get(path, headers={"User-Agent": PC_UA})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/channel/WX_NATIVE")


def test_an_instant_channel_the_merchant_lacks_shows_the_chooser_with_a_notice(
        client, make_merchant, button_order):
    merchant = make_merchant("No UnionPay", channels=["ALI_WEB"])
    path = client.post("/pay", data=button_order(merchant, instant_channel="un")) \
        .headers["Location"]
    page = client.get(path, headers={"User-Agent": PC_UA})
    assert page.status_code == 200 and b'data-testid="chooser-notice"' in page.data


# --- hand-off ---------------------------------------------------------------------------------

def _start(client, path, channel, user_agent=PC_UA):
    page = client.get(path, headers={"User-Agent": user_agent})
    response = client.post(path + "/start", data={"csrf_token": _csrf(page.data),
                                                  "channel": channel},
                           headers={"User-Agent": user_agent})
    assert response.status_code == 303
    return client.get(response.headers["Location"], headers={"User-Agent": user_agent})


def test_a_form_channel_renders_the_gateways_auto_submit_form(client, open_order):
    path, order = open_order()
    page = _start(client, path, "ALI_WEB")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="alipaysubmit"' in text and 'form="alipaysubmit"' in text  # visible button too
    assert "'sha256-" in page.headers["Content-Security-Policy"]


def test_the_bill_goes_back_to_our_result_page_not_the_merchant(client, open_order):
    path, order = open_order(return_url="https://shop.example.com/done")
    _start(client, path, "ALI_WEB")
    (bill,) = _bills()
    assert bill.return_url.endswith(f"/pay/{order.id}/return")
    assert bill.total_fee == 199 and bill.bill_no == order.bill_no


def test_a_url_channel_redirects_to_the_channel(client, make_merchant, button_order):
    merchant = make_merchant("Yee", channels=["YEE_WEB"])
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    page = client.get(path + "/channel/YEE_WEB", headers={"User-Agent": PC_UA})
    assert page.status_code == 303 and "/sandbox/cashier/" in page.headers["Location"]


def test_a_qr_channel_shows_an_inline_svg_qr_with_expiry_and_status(client, open_order):
    path, order = open_order()
    page = _start(client, path, "WX_NATIVE").get_data(as_text=True)
    assert "<svg" in page and "data-expires=" in page and f"/pay/{order.id}/status" in page
    (bill,) = _bills()
    assert bill.bill_timeout == handoff.QR_BILL_TIMEOUT_SECONDS


def test_alipay_qrcode_embeds_the_channel_page_at_the_size_of_its_mode(client, open_order):
    path, _ = open_order()
    page = _start(client, path, "ALI_QRCODE")
    assert b'width="600" height="300"' in page.data
    assert "frame-src http://localhost" in page.headers["Content-Security-Policy"]
    (bill,) = _bills()
    assert bill.channel_params["qr_pay_mode"] == "0"


def test_wx_wap_sends_the_shoppers_ip_in_analysis(client, open_order):
    path, _ = open_order(user_agent=PHONE_UA)
    client.get(path + "/channel/WX_WAP", headers={"User-Agent": PHONE_UA},
               environ_base={"REMOTE_ADDR": "78.110.32.35"})
    (bill,) = _bills()
    assert bill.analysis == {"ip": "78.110.32.35"}


@pytest.fixture
def behind_one_proxy(app_config):
    app_config["PROXY_HOPS"] = 1


def _wx_wap_ip(client, open_order, remote_addr: str, forwarded_for: str) -> str:
    """The ``analysis.ip`` a WX_WAP bill gets for this request."""
    path, _ = open_order(user_agent=PHONE_UA)
    client.get(path + "/channel/WX_WAP", headers={"User-Agent": PHONE_UA,
                                                  "X-Forwarded-For": forwarded_for},
               environ_base={"REMOTE_ADDR": remote_addr})
    (bill,) = _bills()
    return bill.analysis["ip"]


def test_behind_a_proxy_wx_wap_sends_the_forwarded_shopper_ip(behind_one_proxy, client,
                                                              open_order):
    assert _wx_wap_ip(client, open_order, "10.0.0.2", "78.110.32.35") == "78.110.32.35"


def test_without_a_proxy_a_forwarded_ip_header_is_not_believed(client, open_order):
    assert _wx_wap_ip(client, open_order, "78.110.32.35", "1.2.3.4") == "78.110.32.35"


def test_wechat_jsapi_with_the_merchants_openid_shows_the_bridge_page(client, open_order):
    path, _ = open_order(user_agent=WECHAT_UA, openid="o_shopper_1")
    page = client.get(path + "/channel/WX_JSAPI", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200 and b"data-jsapi=" in page.data and b"paySign" in page.data
    (bill,) = _bills()
    assert bill.channel_params["openid"] == "o_shopper_1"


def test_wechat_jsapi_without_an_openid_starts_wechat_oauth(client, open_order):
    path, _ = open_order(user_agent=WECHAT_UA)
    page = client.get(path + "/channel/WX_JSAPI", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 303 and page.headers["Location"].endswith("/wechat/login")
    assert _bills() == []


def test_alipay_inside_wechat_shows_the_guide_and_the_link_to_copy(client, open_order):
    path, _ = open_order(user_agent=WECHAT_UA)
    page = client.get(path + "/channel/ALI_WAP", headers={"User-Agent": WECHAT_UA})
    assert b'data-testid="ali-guide"' in page.data
    assert f"http://localhost{path}/channel/ALI_WAP".encode() in page.data
    assert _bills() == []


def test_a_channel_not_offered_on_the_device_goes_back_to_the_chooser(client, open_order):
    path, _ = open_order()
    page = client.get(path + "/channel/ALI_WAP", headers={"User-Agent": PC_UA})
    assert page.status_code == 303 and "notice=not_offered" in page.headers["Location"]


def test_choosing_twice_opens_one_bill(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    _start(client, path, "ALI_WEB")
    assert len(_bills()) == 1


def test_two_channels_of_one_order_share_the_bill_no_and_the_first_paid_wins(client,
                                                                            open_order):
    path, order = open_order()
    _start(client, path, "ALI_WEB")
    _start(client, path, "WX_NATIVE")
    ali, wx = sorted(_bills(), key=lambda bill: bill.channel)
    assert ali.bill_no == wx.bill_no == order.bill_no
    assert settlement.mark_paid(wx)
    db.session.refresh(ali)
    assert ali.status == Bill.CLOSED
    again = client.get(path + "/channel/ALI_WEB", headers={"User-Agent": PC_UA})
    assert again.status_code == 303 and again.headers["Location"].endswith("/return")


def test_a_start_without_the_orders_csrf_token_is_refused(client, open_order):
    path, _ = open_order()
    response = client.post(path + "/start", data={"channel": "ALI_WEB"})
    assert response.status_code == 400 and b'data-testid="expired"' in response.data
    assert _bills() == []


def test_a_csrf_token_of_another_order_is_refused(client, open_order):
    first, _ = open_order()
    second, _ = open_order()
    token = _csrf(client.get(first, headers={"User-Agent": PC_UA}).data)
    response = client.post(second + "/start", data={"csrf_token": token, "channel": "ALI_WEB"})
    assert response.status_code == 400


def test_the_csrf_token_works_without_any_cookie(app, open_order):
    """Inside a cross-site iframe the browser may send no cookie at all."""
    path, _ = open_order()
    reader = app.test_client(use_cookies=False)
    token = _csrf(reader.get(path, headers={"User-Agent": PC_UA}).data)
    starter = app.test_client(use_cookies=False)
    response = starter.post(path + "/start", data={"csrf_token": token, "channel": "ALI_WEB"})
    assert response.status_code == 303


def test_checkout_pages_set_no_cookie(app, open_order):
    path, _ = open_order()
    page = app.test_client().get(path, headers={"User-Agent": PC_UA})
    assert b'name="csrf_token"' in page.data and "Set-Cookie" not in page.headers


def test_an_unknown_order_token_is_a_404_page(client):
    assert client.get("/pay/not-a-real-order").status_code == 404


# --- result ------------------------------------------------------------------------------------

def _result(client, path):
    page = client.get(path + "/return")
    return re.search(r'data-status="(\w+)"', page.get_data(as_text=True)).group(1), page


def test_the_result_is_pending_before_payment(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    status, page = _result(client, path)
    assert status == "pending"


def test_a_pending_result_never_reloads_itself_and_offers_check_again(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    _, page = _result(client, path)
    assert b'http-equiv="refresh"' not in page.data  # scripts poll; no WCAG 2.2.1 self-reload
    assert f'href="{path}/return?n=1"'.encode() in page.data


def test_the_result_page_never_trusts_query_parameters(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    page = client.get(path + "/return?result=approved&spay_result=true&wx=ok")
    assert b'data-status="pending"' in page.data


def test_back_from_a_cancelled_cashier_the_open_order_says_cancelled(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    page = client.get(path + "/return?cancelled=1")
    assert b'data-status="pending"' in page.data and b'data-testid="cancelled"' in page.data
    assert b'http-equiv="refresh"' not in page.data  # nothing to wait for


def test_a_cancelled_hint_cannot_hide_a_payment(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    settlement.mark_paid(_bills()[0])
    page = client.get(path + "/return?cancelled=1")
    assert b'data-status="paid"' in page.data and b'data-testid="cancelled"' not in page.data


def test_a_paid_order_forwards_to_the_merchants_return_url(client, open_order):
    path, order = open_order(return_url="https://shop.example.com/done")
    _start(client, path, "ALI_WEB")
    settlement.mark_paid(_bills()[0])
    status, page = _result(client, path)
    assert status == "paid" and b'http-equiv="refresh"' not in page.data
    assert b'data-forward="https://shop.example.com/done"' in page.data  # the script's countdown
    assert b'href="https://shop.example.com/done" data-testid="back-to-shop"' in page.data
    db.session.refresh(order)
    assert order.status == "PAID"


def test_a_paid_order_without_return_url_shows_our_finished_page(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    settlement.mark_paid(_bills()[0])
    status, page = _result(client, path)
    assert status == "paid" and b'http-equiv="refresh"' not in page.data


def test_a_failed_payment_says_so_and_offers_another_way(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    settlement.mark_failed(_bills()[0])
    status, page = _result(client, path)
    assert status == "failed" and b'data-testid="choose-another"' in page.data


def test_a_paid_order_opens_on_its_result_page(client, open_order, merchant, button_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    settlement.mark_paid(_bills()[0])
    client.get(path + "/return")
    page = client.get(path)
    assert page.status_code == 303 and page.headers["Location"].endswith("/return")


def test_a_pending_result_stops_polling_after_many_checks(client, open_order):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    page = client.get(path + "/return?n=12")
    assert b"data-status-url" not in page.data and b'data-testid="check-again"' in page.data


def test_the_status_endpoint_reports_the_gateways_state(client, open_order):
    path, _ = open_order()
    assert client.get(path + "/status").get_json() == {"status": "pending"}
    _start(client, path, "WX_NATIVE")
    settlement.mark_paid(_bills()[0])
    response = client.get(path + "/status")
    assert response.get_json() == {"status": "paid"}
    assert response.headers["Cache-Control"] == "no-store"


# --- security of the pages ----------------------------------------------------------------------

def test_checkout_pages_may_be_framed_only_by_the_merchants_origins(client, open_order):
    path, _ = open_order()
    csp = client.get(path, headers={"User-Agent": PC_UA}).headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors https://shop.example.com")


def test_a_merchant_without_frame_origins_cannot_be_framed(client, make_merchant,
                                                          button_order):
    merchant = make_merchant("No frames")
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    assert "frame-ancestors 'none'" in client.get(path).headers["Content-Security-Policy"]


def test_checkout_pages_are_not_cached(client, open_order):
    path, _ = open_order()
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_a_framed_checkout_names_its_parent_for_messages(client, open_order):
    path, _ = open_order(embed="1", parent_origin="https://shop.example.com")
    page = client.get(path, headers={"User-Agent": PC_UA})
    assert b'data-bc-parent="https://shop.example.com"' in page.data
    assert b"/static/js/embed.js" in page.data
    # Channels whose cashier cannot be framed open in a new window.
    assert b'value="ALI_WEB" class="pay-channel" data-testid="channel-ALI_WEB" ' \
           b'formtarget="_blank"' in page.data


def test_the_order_token_is_the_only_key_and_is_unguessable(open_order):
    _, order = open_order()
    assert len(order.id) >= 32


# --- races: two tabs, double clicks -------------------------------------------------------------

def test_racing_openings_of_one_order_make_one_checkout(app, merchant, button_order, race):
    fields = button_order(merchant)
    locations = race(6, lambda _i: app.test_client().post("/pay", data=fields)
                     .headers["Location"])
    assert len(set(locations)) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(CheckoutOrder)) == 1


def test_racing_double_clicks_on_a_channel_open_one_bill(app, open_order, race):
    path, _ = open_order()
    race(6, lambda _i: app.test_client().get(path + "/channel/WX_NATIVE",
                                             headers={"User-Agent": PC_UA}).status_code)
    assert len(_bills()) == 1


def test_racing_payments_of_two_tabs_charge_once(app, client, open_order, race):
    path, _ = open_order()
    _start(client, path, "ALI_WEB")
    _start(client, path, "WX_NATIVE")
    ids = [bill.id for bill in _bills()] * 3
    paid = race(len(ids), lambda i: settlement.mark_paid(db.session.get(Bill, ids[i])))
    assert paid.count(True) == 1
    assert [bill.status for bill in _bills()].count(Bill.PAID) == 1


# --- PayPal in the chooser (issue 5 item 2) -------------------------------------------------------

@pytest.fixture
def paypal_merchant(make_merchant):
    return make_merchant("Global tea", channels=["ALI_WEB", "PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                         default_currency="USD")


def test_an_order_in_a_paypal_currency_offers_the_paypal_channels(client, paypal_merchant,
                                                                  button_order):
    path = client.post("/pay", data=button_order(paypal_merchant, amount="1999")) \
        .headers["Location"]
    page = client.get(path, headers={"User-Agent": PC_UA})
    assert _channels(page.data) == ["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"]
    assert "$19.99" in page.get_data(as_text=True)


def test_a_cny_order_of_the_same_merchant_offers_the_domestic_channels(client, paypal_merchant,
                                                                       button_order):
    path = client.post("/pay", data=button_order(paypal_merchant, currency="CNY")) \
        .headers["Location"]
    assert _channels(client.get(path, headers={"User-Agent": PC_UA}).data) == ["ALI_WEB"]


def test_choosing_paypal_goes_to_paypals_approval_page(client, paypal_merchant, button_order):
    path = client.post("/pay", data=button_order(paypal_merchant, amount="500",
                                                  currency="JPY")).headers["Location"]
    page = _start(client, path, "PAYPAL_PAYPAL")
    assert page.status_code == 303 and "/sandbox/paypal/" in page.headers["Location"]
    bill = _bills()[0]
    assert (bill.currency, bill.total_fee) == ("JPY", 500)


def test_choosing_a_card_opens_the_card_form(client, paypal_merchant, button_order):
    path = client.post("/pay", data=button_order(paypal_merchant)).headers["Location"]
    page = _start(client, path, "PAYPAL_CREDITCARD")
    assert page.status_code == 303 and page.headers["Location"].endswith("/card")


def test_an_unsupported_currency_is_refused_at_the_entry(client, paypal_merchant, button_order):
    response = client.post("/pay", data=button_order(paypal_merchant, currency="XYZ"))
    assert response.status_code == 400
