"""Expired and failed bills re-open (issue 15, deliverable 2): a shopper who
chooses a channel whose bill expired or failed gets a NEW bill of that channel
for the same order (a new cashier token, so a new QR code), with the same
guarantees as before: never two open bills of one channel for one order (also
under racing requests), a paid order stays paid, the same bill_no with another
fee or title is still refused.

Only the hosted checkout re-opens (``expiry.reopening`` around its create-bill
call). BeeCloud's REST API keeps one bill per bill_no and channel (seed 003
line 39: "同一订单号不可重复提交"): a merchant re-creating an expired bill still
gets 7 ORDERCLOSED and uses a new bill_no. Time is moved with the conftest's
hand-moved clock, never waited for."""

from __future__ import annotations

import json
import re
import secrets
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from checkout.db import db
from checkout.models import Bill, WebhookDelivery
from checkout.sandbox import bills, expiry, settlement

TIMEOUT_S = 360  # seed 001 line 51's example
PC_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36")


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(webhook_url="http://127.0.0.1:9/merchant-hook")


def request_for(bill_no=None, channel="WX_NATIVE", **fields) -> dict:
    request = {"channel": channel, "total_fee": 1999, "title": "Oolong tea",
               "bill_no": bill_no or f"R{uuid.uuid4().hex[:20]}", "bill_timeout": TIMEOUT_S,
               "return_url": "https://shop.example.com/back"}
    request.update(fields)
    return request


def create(merchant, request, *, reopen: bool) -> dict:
    """The sandbox's create-bill call, as the hosted checkout makes it
    (``reopen``: inside ``expiry.reopening``) or as a REST merchant does."""
    if reopen:
        with expiry.reopening():
            return bills.create_bill(merchant, request, test_mode=True)
    return bills.create_bill(merchant, request, test_mode=True)


def created(merchant, request, *, reopen: bool = True) -> Bill:
    answer = create(merchant, request, reopen=reopen)
    assert answer["result_code"] == 0, answer
    return db.session.get(Bill, answer["id"])


def reload(bill: Bill) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill.id)


def channel_bills(bill_no: str, channel: str = "WX_NATIVE") -> list[Bill]:
    db.session.expire_all()
    return list(db.session.execute(db.select(Bill).where(
        Bill.bill_no == bill_no, Bill.channel == channel).order_by(Bill.create_time)).scalars())


# --- the gateway's rule ------------------------------------------------------------------

def test_an_expired_channel_gets_a_new_bill_for_the_same_order(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    second = created(merchant, request)
    assert second.id != first.id and second.cashier_token != first.cashier_token
    assert second.bill_no == first.bill_no and second.status == Bill.OPEN
    assert second.expires_at == clock.now + TIMEOUT_S * 1000
    assert reload(first).status == Bill.CLOSED and expiry.state(reload(first)) == "expired"


def test_an_expired_channel_closed_by_the_worker_gets_a_new_bill(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    assert expiry.close_expired(clock.now) == 1
    assert created(merchant, request).id != first.id


def test_a_failed_channel_gets_a_new_bill_and_the_failed_one_ends(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    assert settlement.mark_failed(first)
    second = created(merchant, request)
    assert second.id != first.id and second.status == Bill.OPEN
    assert reload(first).status == Bill.CLOSED and expiry.state(reload(first)) == "closed"


def test_an_open_bill_is_answered_again_not_replaced(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at - 1
    assert created(merchant, request).id == first.id
    assert len(channel_bills(first.bill_no)) == 1


def test_the_re_opened_bill_is_answered_again_until_it_ends(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    settlement.mark_failed(first)
    second = created(merchant, request)
    assert created(merchant, request).id == second.id
    assert [bill.status for bill in channel_bills(first.bill_no)] == [Bill.CLOSED, Bill.OPEN]


def test_a_channel_re_opens_again_and_again(merchant, clock):
    request = request_for()
    ids = []
    for _ in range(3):
        bill = created(merchant, request)
        ids.append(bill.id)
        clock.now = bill.expires_at
    assert len(set(ids)) == 3
    assert [b.status for b in channel_bills(request["bill_no"])] == [Bill.CLOSED] * 2 + [Bill.OPEN]


def test_a_paid_order_gets_no_new_bill(merchant, clock):
    request = request_for()
    wechat = created(merchant, request)
    alipay = created(merchant, request_for(request["bill_no"], "ALI_QRCODE", qr_pay_mode="0"))
    ends = wechat.expires_at
    assert settlement.mark_paid(alipay)  # closes the WeChat bill, which forgets its time
    clock.now = ends
    again = create(merchant, request, reopen=True)
    assert again["result_code"] == 7 and again["err_detail"].startswith("ORDERPAID")
    assert len(channel_bills(request["bill_no"])) == 1


def test_a_paid_channel_is_answered_as_paid_after_its_time(merchant, clock):
    request = request_for()
    bill = created(merchant, request)
    assert settlement.mark_paid(bill)
    clock.now = bill.expires_at
    again = create(merchant, request, reopen=True)
    assert again["result_code"] == 7 and again["err_detail"].startswith("ORDERPAID")


def test_the_same_bill_no_with_another_fee_is_still_refused_after_expiry(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    again = create(merchant, {**request, "total_fee": 2000}, reopen=True)
    assert again["result_code"] == 5 and "another total_fee or title" in again["err_detail"]
    assert [b.id for b in channel_bills(first.bill_no)] == [first.id]


def test_the_same_bill_no_with_another_title_is_still_refused_after_failure(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    settlement.mark_failed(first)
    again = create(merchant, {**request, "title": "Green tea"}, reopen=True)
    assert again["result_code"] == 5
    assert reload(first).status == Bill.FAILED  # nothing was closed for a refused request


def test_a_bill_closed_for_another_reason_is_not_re_opened(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    assert settlement.close_bill(first)
    again = create(merchant, request, reopen=True)
    assert again["result_code"] == 7 and again["err_detail"].startswith("ORDERCLOSED")


def test_racing_re_opens_leave_one_open_bill(app, merchant, clock, race):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    merchant_id = merchant.id

    def reopen(_i):
        from checkout.models import Merchant
        shop = db.session.get(Merchant, merchant_id)
        return create(shop, request, reopen=True)

    answers = race(4, reopen)
    assert all(answer["result_code"] == 0 for answer in answers), answers
    assert len({answer["id"] for answer in answers}) == 1
    found = channel_bills(first.bill_no)
    assert [bill.status for bill in found] == [Bill.CLOSED, Bill.OPEN]
    assert found[1].id == answers[0]["id"]


def test_racing_re_opens_after_failure_leave_one_open_bill(app, merchant, clock, race):
    request = request_for()
    first = created(merchant, request)
    settlement.mark_failed(first)
    merchant_id = merchant.id

    def reopen(_i):
        from checkout.models import Merchant
        return create(db.session.get(Merchant, merchant_id), request, reopen=True)

    answers = race(4, reopen)
    assert len({answer["id"] for answer in answers}) == 1
    assert [bill.status for bill in channel_bills(first.bill_no)] == [Bill.CLOSED, Bill.OPEN]


def _row_like(bill: Bill, status: str) -> Bill:
    return Bill(id=str(uuid.uuid4()), app_id=bill.app_id, test_mode=bill.test_mode,
                bill_no=bill.bill_no, channel=bill.channel, title=bill.title,
                bill_fee=bill.bill_fee, total_fee=bill.total_fee, status=status,
                cashier_token=secrets.token_urlsafe(24), create_time=bill.create_time)


@pytest.mark.parametrize("status", [Bill.OPEN, Bill.FAILED, Bill.PAID])
def test_the_database_refuses_a_second_live_bill_of_one_channel(merchant, status):
    bill = created(merchant, request_for())
    db.session.add(_row_like(bill, status))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_database_keeps_any_number_of_ended_bills_of_one_channel(merchant):
    bill = created(merchant, request_for())
    db.session.add_all([_row_like(bill, Bill.CLOSED), _row_like(bill, Bill.CLOSED),
                        _row_like(bill, Bill.REVERTED)])
    db.session.commit()
    assert len(channel_bills(bill.bill_no)) == 4


# --- the REST API keeps BeeCloud's rule ----------------------------------------------------

def post_bill(client, merchant, app_signed, request) -> dict:
    body = app_signed(merchant, merchant.test_secret, **request)
    return client.post("/2/rest/sandbox/bill", json=body).get_json()


def test_the_rest_api_still_answers_orderclosed_after_expiry(client, merchant, clock, app_signed):
    request = request_for()
    first = post_bill(client, merchant, app_signed, request)
    clock.now = reload(db.session.get(Bill, first["id"])).expires_at
    again = post_bill(client, merchant, app_signed, request)
    assert again["result_code"] == 7 and again["err_detail"].startswith("ORDERCLOSED")
    assert "expired" in again["err_detail"] and "new bill_no" in again["err_detail"]


def test_the_rest_api_still_revives_its_own_failed_bill(client, merchant, clock, app_signed):
    request = request_for()
    first = post_bill(client, merchant, app_signed, request)
    settlement.mark_failed(db.session.get(Bill, first["id"]))
    again = post_bill(client, merchant, app_signed, request)
    assert again["id"] == first["id"] and reload(db.session.get(Bill, first["id"])).status == "OPEN"


def test_the_rest_api_answers_the_re_opened_bill_and_lists_both(client, merchant, clock,
                                                                 app_signed):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    second = created(merchant, request)
    assert post_bill(client, merchant, app_signed, request)["id"] == second.id
    para = json.dumps(app_signed(merchant, merchant.test_secret, bill_no=first.bill_no))
    listed = client.get("/2/rest/sandbox/bills", query_string={"para": para}).get_json()
    assert {bill["id"] for bill in listed["bills"]} == {first.id, second.id}
    assert {bill["bill_no"] for bill in listed["bills"]} == {first.bill_no}


def test_the_re_opened_bills_webhook_carries_the_same_bill_no(merchant, clock):
    request = request_for()
    first = created(merchant, request)
    clock.now = first.expires_at
    second = created(merchant, request)
    assert settlement.mark_paid(second)
    delivery = db.session.execute(db.select(WebhookDelivery)).scalar_one()
    body = json.loads(delivery.body)
    assert delivery.bill_id == second.id and body["transaction_id"] == first.bill_no


# --- the hosted checkout -------------------------------------------------------------------

@pytest.fixture
def open_qr(client, merchant, button_order, clock):
    """A checkout whose shopper opened the WeChat QR page: ``(order path, page)``."""
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    page = client.get(f"{path}/channel/WX_NATIVE", headers={"User-Agent": PC_UA})
    assert page.status_code == 200
    return path, page.get_data(as_text=True)


def qr_of(page: str) -> str:
    return re.search(r'data-testid="qr-code"[^>]*>(.*?)</div>', page, re.S).group(1)


def wechat_bills() -> list[Bill]:
    db.session.expire_all()
    return list(db.session.execute(db.select(Bill).where(Bill.channel == "WX_NATIVE")
                                   .order_by(Bill.create_time)).scalars())


def test_the_qr_page_carries_a_hidden_refresh_button_to_its_channel(open_qr):
    path, page = open_qr
    button = re.search(r'<div data-refresh[^>]*hidden><a class="button" href="([^"]+)" '
                       r'data-testid="refresh-qr">', page)
    assert button and button.group(1) == f"{path}/channel/WX_NATIVE"


def test_the_qr_page_counts_down_on_the_servers_clock(open_qr, clock):
    _, page = open_qr
    assert f'data-served="{clock.now}"' in page


def test_the_status_of_an_expired_code_says_expired(client, open_qr, clock):
    path, _ = open_qr
    clock.now = wechat_bills()[0].expires_at
    assert client.get(f"{path}/status").get_json() == {"status": "expired"}


def test_choosing_the_expired_channel_again_shows_a_new_qr_code(client, open_qr, clock):
    path, page = open_qr
    first = wechat_bills()[0]
    clock.now = first.expires_at
    again = client.get(f"{path}/channel/WX_NATIVE", headers={"User-Agent": PC_UA})
    fresh = again.get_data(as_text=True)
    assert again.status_code == 200 and qr_of(fresh) != qr_of(page)
    second = wechat_bills()[1]
    assert second.id != first.id and second.status == Bill.OPEN
    assert f'data-expires="{second.expires_at}"' in fresh  # the new code's own lifetime
    assert client.get(f"{path}/status").get_json() == {"status": "pending"}


def test_the_chooser_keeps_offering_the_expired_channel(client, open_qr, clock):
    path, _ = open_qr
    clock.now = wechat_bills()[0].expires_at
    chooser = client.get(path, headers={"User-Agent": PC_UA}).get_data(as_text=True)
    assert 'data-testid="channel-WX_NATIVE"' in chooser


def test_after_a_failed_payment_the_channel_pays_with_a_new_bill(client, open_qr, clock,
                                                                  press_cashier):
    path, _ = open_qr
    first = wechat_bills()[0]
    press_cashier(first, "fail")
    assert client.get(f"{path}/status").get_json() == {"status": "failed"}
    assert client.get(f"{path}/channel/WX_NATIVE", headers={"User-Agent": PC_UA}).status_code == 200
    second = wechat_bills()[1]
    assert second.id != first.id
    press_cashier(second, "pay")
    assert client.get(f"{path}/status").get_json() == {"status": "paid"}
    assert [bill.status for bill in wechat_bills()] == [Bill.CLOSED, Bill.PAID]


def test_a_paid_order_is_not_re_opened_by_the_checkout(client, open_qr, clock, press_cashier):
    path, _ = open_qr
    bill = wechat_bills()[0]
    press_cashier(bill, "pay")
    clock.now = bill.expires_at
    again = client.get(f"{path}/channel/WX_NATIVE", headers={"User-Agent": PC_UA})
    assert again.status_code == 303 and again.headers["Location"].endswith("/return")
    assert len(wechat_bills()) == 1



def test_the_alipay_qr_page_offers_the_refresh_too(client, merchant, button_order, clock):
    path = client.post("/pay", data=button_order(merchant)).headers["Location"]
    page = client.get(f"{path}/channel/ALI_QRCODE", headers={"User-Agent": PC_UA})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="{path}/channel/ALI_QRCODE" data-testid="refresh-qr"' in html
    assert '<div class="pay-frame-box" data-qr-while-valid>' in html  # hidden once expired
