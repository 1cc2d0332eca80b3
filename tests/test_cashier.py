"""The simulated channel cashiers (``/sandbox/cashier/<token>``) and the
WeChat app stand-in (``POST /sandbox/wechat/pay``)."""

from __future__ import annotations

import re

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, WebhookDelivery
from checkout.sandbox import bills, settlement

_counter = iter(range(10 ** 6))


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Tea House")


def new_bill(merchant, channel="ALI_WEB", **fields) -> Bill:
    request = {"channel": channel, "total_fee": 1999, "title": "Oolong tea",
               "bill_no": f"C{now_ms()}{next(_counter):06d}",
               "return_url": "https://shop.example.com/back"}
    request.update(fields)
    if request.get("return_url") is None:
        request.pop("return_url")
    answer = bills.create_bill(merchant, request, test_mode=True)  # the simulated cashier's bills
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"])


def cashier_path(bill) -> str:
    return f"/sandbox/cashier/{bill.cashier_token}"


def csrf_token(client, bill) -> str:
    page = client.get(cashier_path(bill)).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def press(client, bill, action):
    token = csrf_token(client, bill)
    return client.post(f"{cashier_path(bill)}/{action}", data={"csrf_token": token})


def reload(bill) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill.id)


# --- the page ----------------------------------------------------------------------

def test_cashier_shows_sandbox_title_amount_and_payee(client, merchant):
    page = client.get(cashier_path(new_bill(merchant)) + "?lang=en").get_data(as_text=True)
    assert "SANDBOX" in page
    assert "Oolong tea" in page and "¥19.99" in page and "Tea House" in page
    assert 'data-testid="pay"' in page and 'data-testid="fail"' in page


@pytest.mark.parametrize("channel, family, brand", [
    ("ALI_WEB", "ali", "Alipay"), ("WX_NATIVE", "wx", "WeChat Pay"), ("UN_WEB", "un", "UnionPay"),
    ("JD_WEB", "jd", "JD Pay"), ("YEE_WEB", "yee", "Yeepay"), ("KUAIQIAN_WEB", "kuaiqian", "Kuaiqian"),
    ("BD_WEB", "bd", "Baidu Wallet"),
])
def test_each_channel_family_gets_its_own_look(client, merchant, channel, family, brand):
    page = client.get(cashier_path(new_bill(merchant, channel)) + "?lang=en").get_data(as_text=True)
    assert f"cashier-{family}" in page and brand in page and "<svg" in page


def test_the_html_handoff_form_opens_the_cashier(client, merchant):
    answer = bills.create_bill(merchant, {"channel": "ALI_WEB", "total_fee": 5, "title": "t",
                                          "bill_no": f"H{now_ms()}00001",
                                          "return_url": "https://shop.example.com/r"},
                               test_mode=True)
    action = re.search(r'action="([^"]+)"', answer["html"]).group(1)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', answer["html"]))
    path = action.split("//", 1)[1].split("/", 1)[1]
    response = client.get("/" + path, query_string=fields)
    assert response.status_code == 200 and "¥0.05" in response.get_data(as_text=True)


def test_cashier_page_is_csp_safe_and_cannot_be_framed(client, merchant):
    response = client.get(cashier_path(new_bill(merchant)))
    page = response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert " style=" not in page and "<style" not in page


def test_scanned_channels_show_their_own_url_as_a_qr_code(client, merchant):
    page = client.get(cashier_path(new_bill(merchant, "WX_NATIVE"))).get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page


def test_web_channels_show_no_qr_code(client, merchant):
    page = client.get(cashier_path(new_bill(merchant, "ALI_WEB"))).get_data(as_text=True)
    assert "data:image/svg+xml" not in page


# (One language per test: the test app context outlives requests, and
# Flask-Babel keeps the first request's locale in ``g``.)
def test_page_speaks_english_when_asked(client, merchant):
    english = client.get(cashier_path(new_bill(merchant)) + "?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "Alipay" in english


def test_page_speaks_chinese_by_default(client, merchant):
    chinese = client.get(cashier_path(new_bill(merchant))).get_data(as_text=True)
    assert 'lang="zh-CN"' in chinese and "支付宝" in chinese


def test_unknown_token_is_a_friendly_404(client):
    response = client.get("/sandbox/cashier/no-such-token")
    assert response.status_code == 404 and "<html" in response.get_data(as_text=True)


def test_status_endpoint_follows_the_bill(client, merchant):
    bill = new_bill(merchant)
    assert client.get(cashier_path(bill) + "/status").get_json() == {"status": "open"}
    settlement.mark_paid(bill)
    response = client.get(cashier_path(bill) + "/status")
    assert response.get_json() == {"status": "paid"}
    assert response.headers["Cache-Control"] == "no-store"


# --- Pay / Fail / Cancel --------------------------------------------------------------

def test_pay_settles_the_bill_and_goes_back_to_the_return_url(client, merchant):
    bill = new_bill(merchant)
    response = press(client, bill, "pay")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://shop.example.com/back"
    assert reload(bill).status == Bill.PAID
    assert db.session.execute(db.select(WebhookDelivery)).scalar_one().bill_id == bill.id


def test_pay_without_return_url_shows_a_paid_page(client, merchant):
    bill = new_bill(merchant, "WX_NATIVE", return_url=None)
    response = press(client, bill, "pay")
    assert response.status_code == 200 and 'data-state="paid"' in response.get_data(as_text=True)


def test_pay_needs_the_csrf_token(client, merchant):
    bill = new_bill(merchant)
    response = client.post(cashier_path(bill) + "/pay")
    assert response.status_code == 400
    assert reload(bill).status == Bill.OPEN


def test_fail_marks_the_bill_failed_and_says_so(client, merchant):
    bill = new_bill(merchant)
    response = press(client, bill, "fail")
    assert 'data-state="failed"' in response.get_data(as_text=True)
    assert reload(bill).status == Bill.FAILED


def test_cancel_goes_back_to_the_shop_and_leaves_the_bill_open(client, merchant):
    bill = new_bill(merchant)
    response = press(client, bill, "cancel")
    assert response.headers["Location"] == "https://shop.example.com/back?cancelled=1"
    assert reload(bill).status == Bill.OPEN


def test_cancel_without_return_url_shows_a_cancelled_page(client, merchant):
    bill = new_bill(merchant, "WX_NATIVE", return_url=None)
    assert 'data-state="cancelled"' in press(client, bill, "cancel").get_data(as_text=True)


@pytest.mark.parametrize("settle, state", [
    (settlement.mark_paid, "paid"), (settlement.close_bill, "closed"),
    (settlement.mark_failed, "failed"),
])
def test_a_settled_bills_cashier_says_so_and_offers_no_pay_button(client, merchant, settle, state):
    bill = new_bill(merchant)
    settle(bill)
    page = client.get(cashier_path(bill)).get_data(as_text=True)
    assert f'data-state="{state}"' in page and 'data-testid="pay"' not in page


def test_an_expired_bills_cashier_says_so(client, merchant):
    bill = new_bill(merchant, "WX_NATIVE", bill_timeout=60)
    bill.expires_at = now_ms() - 1
    db.session.commit()
    page = client.get(cashier_path(bill)).get_data(as_text=True)
    assert 'data-state="expired"' in page and 'data-testid="pay"' not in page


def test_paying_a_bill_closed_meanwhile_is_refused(client, merchant):
    bill = new_bill(merchant)
    token = csrf_token(client, bill)  # the shopper has the page open …
    settlement.close_bill(bill)       # … while the order is paid another way
    response = client.post(cashier_path(bill) + "/pay", data={"csrf_token": token})
    assert response.status_code == 409 and 'data-state="closed"' in response.get_data(as_text=True)
    assert reload(bill).status == Bill.CLOSED


def test_paying_one_channel_closes_the_other_channels_cashier(client, merchant):
    alipay = new_bill(merchant, "ALI_WEB")
    wechat = new_bill(merchant, "WX_NATIVE", bill_no=alipay.bill_no)
    press(client, wechat, "pay")
    assert 'data-state="closed"' in client.get(cashier_path(alipay)).get_data(as_text=True)


# --- the WeChat app stand-in ------------------------------------------------------------

def jsapi_bill(merchant) -> tuple[Bill, str]:
    answer = bills.create_bill(merchant, {"channel": "WX_JSAPI", "total_fee": 1, "title": "t",
                                          "bill_no": f"J{now_ms()}{next(_counter):06d}",
                                          "openid": "o3kKrjlUsMnv__cK5DYZMl0JoAkY"},
                               test_mode=True)
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"]), answer["package"]


def test_wechat_app_pays_a_jsapi_bill_without_csrf_token(client, merchant):
    bill, package = jsapi_bill(merchant)
    response = client.post("/sandbox/wechat/pay", json={"package": package, "result": "ok"})
    assert response.get_json() == {"err_msg": "get_brand_wcpay_request:ok"}
    assert reload(bill).status == Bill.PAID
    assert reload(bill).message_detail["trade_type"] == "JSAPI"


def test_wechat_app_cancel_leaves_the_bill_open(client, merchant):
    bill, package = jsapi_bill(merchant)
    response = client.post("/sandbox/wechat/pay", json={"package": package, "result": "cancel"})
    assert response.get_json()["err_msg"] == "get_brand_wcpay_request:cancel"
    assert reload(bill).status == Bill.OPEN


def test_wechat_app_fail_fails_the_bill(client, merchant):
    bill, package = jsapi_bill(merchant)
    response = client.post("/sandbox/wechat/pay", json={"package": package, "result": "fail"})
    assert response.get_json()["err_msg"] == "get_brand_wcpay_request:fail"
    assert reload(bill).status == Bill.FAILED


def test_wechat_app_cannot_pay_twice(client, merchant):
    _bill, package = jsapi_bill(merchant)
    client.post("/sandbox/wechat/pay", json={"package": package, "result": "ok"})
    again = client.post("/sandbox/wechat/pay", json={"package": package, "result": "ok"})
    assert again.status_code == 409 and again.get_json()["err_msg"].endswith(":fail")


@pytest.mark.parametrize("body, status", [
    ({"package": "prepay_id=wxnope", "result": "ok"}, 404),
    ({"package": "nope", "result": "ok"}, 400),
    ({"package": "prepay_id=wx", "result": "maybe"}, 400),
    (["not", "a", "map"], 400),
])
def test_wechat_app_refuses_bad_requests(client, merchant, body, status):
    response = client.post("/sandbox/wechat/pay", json=body)
    assert response.status_code == status and response.get_json()["err_desc"]


def test_wechat_app_only_pays_jsapi_bills(client, merchant):
    bill = new_bill(merchant, "WX_NATIVE")
    response = client.post("/sandbox/wechat/pay",
                           json={"package": "prepay_id=wx" + bill.cashier_token, "result": "ok"})
    assert response.status_code == 404 and reload(bill).status == Bill.OPEN


def test_csrf_stays_on_for_the_cashier_forms(client, merchant):
    bill = new_bill(merchant)
    assert client.post(cashier_path(bill) + "/fail").status_code == 400


# --- how each family's cashier looks (Chromium; screenshots are looked at) ---------------

@pytest.mark.browser
@pytest.mark.parametrize("channel", ["ALI_WEB", "WX_NATIVE", "UN_WEB", "JD_WEB", "YEE_WEB",
                                     "KUAIQIAN_WEB", "BD_WEB"])
def test_family_cashier_renders_in_chromium(app, live_server, page, screenshot, merchant,
                                            channel):
    app.config["PUBLIC_URL"] = live_server.url
    bill = new_bill(merchant, channel)
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.goto(f"{live_server.url}{cashier_path(bill)}")
    assert page.get_by_test_id("pay").is_visible()
    assert page.locator("svg.logo").is_visible()
    screenshot(page, channel)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e]
