"""The webhook outbox and worker (``checkout.sandbox.webhooks``, seed 003
lines 392-444): signed JSON POSTs, delivered only on the answer ``success``,
retried at 2 s, 4 s, … 2^17 s after the payment, then given up. Several
workers sharing the outbox: ``test_webhook_workers.py``."""

from __future__ import annotations

import json
import threading

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, WebhookDelivery
from checkout.sandbox import bills, settlement, webhooks

_counter = iter(range(10 ** 6))
T0 = 1_700_000_000_000


@pytest.fixture
def merchant(make_merchant, receiver):
    return make_merchant(webhook_url=receiver.url)


def paid_bill(merchant, paid_at=T0, **fields) -> Bill:
    request = {"channel": "WX_NATIVE", "total_fee": 1, "title": "water",
               "bill_no": f"W{now_ms()}{next(_counter):06d}"}
    request.update(fields)
    answer = bills.create_bill(merchant, request, test_mode=True)  # paid at the sandbox
    assert answer["result_code"] == 0, answer
    bill = db.session.get(Bill, answer["id"])
    assert settlement.mark_paid(bill, now_ms=paid_at)
    return bill


def delivery_of(bill) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.execute(db.select(WebhookDelivery)
                              .where(WebhookDelivery.bill_id == bill.id)).scalar_one()


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def refusing_sender(calls: list):
    def send(url, body, timeout):
        calls.append(body)
        return webhooks.Outcome(False, "HTTP 500")
    return send


# --- one delivery over real HTTP ----------------------------------------------------

def test_worker_posts_the_stored_json_and_success_delivers_it(merchant, receiver):
    bill = paid_bill(merchant, paid_at=now_ms())
    assert webhooks.work_once() == 1
    (request,) = receiver.received
    delivery = delivery_of(bill)
    assert request["method"] == "POST" and request["content_type"] == "application/json"
    assert request["body"] == delivery.body
    assert json.loads(request["body"])["transaction_id"] == bill.bill_no
    assert delivery.status == WebhookDelivery.DELIVERED and delivery.attempts == 1


def test_a_delivered_webhook_is_not_sent_again(merchant, receiver):
    paid_bill(merchant, paid_at=now_ms())
    webhooks.work_once()
    assert webhooks.work_once(now=lambda: now_ms() + 10 ** 9) == 0
    assert len(receiver.received) == 1


@pytest.mark.parametrize("reply", ["SUCCESS", "success!", "ok", "", (500, "success"),
                                   (302, "success")])
def test_anything_but_the_body_success_is_retried(merchant, receiver, reply):
    receiver.reply = reply
    bill = paid_bill(merchant, paid_at=now_ms())
    webhooks.work_once()
    delivery = delivery_of(bill)
    assert delivery.status == WebhookDelivery.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == delivery.created_at + 2000
    assert "instead of 'success'" in delivery.last_error


def test_an_unreachable_merchant_is_retried(make_merchant):
    quiet = make_merchant(webhook_url="http://127.0.0.1:9/hook")  # nothing listens on 9
    bill = paid_bill(quiet, paid_at=now_ms())
    webhooks.work_once()
    delivery = delivery_of(bill)
    assert delivery.status == WebhookDelivery.PENDING and delivery.last_error


def test_a_slow_merchant_times_out_and_is_retried(app, merchant, receiver):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.2
    release = threading.Event()
    original = receiver.wsgi

    def slow(environ, start_response):
        release.wait(5)
        return original(environ, start_response)

    receiver.server.app = slow
    bill = paid_bill(merchant, paid_at=now_ms())
    try:
        webhooks.work_once()
    finally:
        release.set()
    delivery = delivery_of(bill)
    assert delivery.status == WebhookDelivery.PENDING and "Timeout" in delivery.last_error


# --- the retry schedule (injected clock, no sleeps) ----------------------------------

def test_retries_at_2_4_8_up_to_2_pow_17_seconds_after_payment_then_gives_up(merchant):
    bill = paid_bill(merchant, paid_at=T0)
    clock, calls = Clock(T0), []
    send = refusing_sender(calls)
    moments = []
    for _ in range(40):
        webhooks.work_once(now=clock, send=send)
        delivery = delivery_of(bill)
        if delivery.status == WebhookDelivery.GAVE_UP:
            break
        moments.append(delivery.next_attempt_at - T0)
        clock.now = delivery.next_attempt_at - 1
        assert webhooks.work_once(now=clock, send=send) == 0  # not a moment early
        clock.now = delivery.next_attempt_at
    assert moments == [2 ** n * 1000 for n in range(1, 18)]
    assert len(calls) == 18 and delivery_of(bill).attempts == 18
    assert delivery_of(bill).status == WebhookDelivery.GAVE_UP


def test_success_on_a_retry_ends_the_retries(merchant):
    bill = paid_bill(merchant, paid_at=T0)
    clock = Clock(T0)
    webhooks.work_once(now=clock, send=refusing_sender([]))
    clock.now = T0 + 2000
    webhooks.work_once(now=clock, send=lambda url, body, timeout: webhooks.Outcome(True))
    delivery = delivery_of(bill)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == \
        (WebhookDelivery.DELIVERED, 2, T0 + 2000)


def test_a_late_worker_skips_the_moments_already_past(merchant):
    bill = paid_bill(merchant, paid_at=T0)
    clock, calls = Clock(T0 + 100_000), []  # the worker was down for 100 s
    webhooks.work_once(now=clock, send=refusing_sender(calls))
    assert len(calls) == 1
    assert delivery_of(bill).next_attempt_at == T0 + 128_000


def test_a_worker_back_after_36_hours_tries_once_more_then_gives_up(merchant):
    bill = paid_bill(merchant, paid_at=T0)
    clock = Clock(T0 + 2 ** 17 * 1000 + 1)
    webhooks.work_once(now=clock, send=refusing_sender([]))
    assert delivery_of(bill).status == WebhookDelivery.GAVE_UP


# --- the command ---------------------------------------------------------------------

def test_cli_work_once_delivers_what_is_due(runner, merchant, receiver):
    bill = paid_bill(merchant, paid_at=now_ms())
    result = runner.invoke(args=["webhooks", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 delivery attempt" in result.output
    assert delivery_of(bill).status == WebhookDelivery.DELIVERED
