"""Several webhook workers share the outbox (``checkout.sandbox.webhooks``,
issue 12 deliverable 3): a worker claims one delivery right before sending it,
for the send's deadline plus a margin, and cuts the send off at the deadline,
so an event is sent by one worker at a time however slow the receiver; a
crashed worker's claim expires, so nothing is lost.

The lease is shortened through the settings (0.5 s deadline + 0.25 s
margin) and the slow receivers hold each request longer than that, so these
tests take one to four seconds each."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, WebhookDelivery
from checkout.sandbox import bills, settlement, webhooks

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 0.5   # WEBHOOK_TIMEOUT_SECONDS in these tests
MARGIN = 0.25    # WEBHOOK_LEASE_MARGIN_SECONDS: a lease lasts 0.75 s
LEASE_MS = round((DEADLINE + MARGIN) * 1000)
HOLD = 4.0       # how long the slow receivers keep a request at most: five leases
# Paid this long ago (more than 2^9 s), a delivery whose first attempt fails
# is next due 2^10 s after the payment, about 24 s on: no retry falls due
# while a test runs, so every receipt beyond the first is a duplicate.
PAID_AGO_MS = 1000 * 1000
T0 = 1_700_000_000_000
_counter = iter(range(10 ** 6))


@pytest.fixture
def app_config(app_config):
    app_config.update(WEBHOOK_TIMEOUT_SECONDS=DEADLINE, WEBHOOK_LEASE_MARGIN_SECONDS=MARGIN)
    return app_config


@pytest.fixture
def merchant(make_merchant, receiver):
    return make_merchant(webhook_url=receiver.url)


class SlowReceiver:
    """The merchant's endpoint (conftest's ``receiver``), made slower than a
    lease: it records each request as it arrives, then keeps it unanswered
    until the test ends (at most ``HOLD`` seconds)."""

    def __init__(self, receiver):
        self.receiver = receiver
        self.arrived = threading.Condition(receiver.lock)
        self.release = threading.Event()
        receiver.server.app = self.hold

    @Request.application
    def hold(self, request):
        body = request.get_data(as_text=True)
        with self.arrived:
            self.receiver.received.append({"body": body, "content_type": request.content_type,
                                           "method": request.method})
            self.arrived.notify_all()
        self.release.wait(HOLD)
        return Response("success")

    def events(self, at_least: int) -> list[str]:
        """The ``transaction_id`` of every request received, once ``at_least``
        have arrived (a request is recorded a moment after its worker sent it)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.receiver.received) >= at_least, timeout=10)
            bodies = [request["body"] for request in self.receiver.received]
        return sorted(json.loads(body)["transaction_id"] for body in bodies)


@pytest.fixture
def slow_receiver(receiver):
    slow = SlowReceiver(receiver)
    yield slow
    slow.release.set()


def paid_bill(merchant, paid_at=T0) -> Bill:
    answer = bills.create_bill(merchant, {"channel": "WX_NATIVE", "total_fee": 1,
                                          "title": "water",
                                          "bill_no": f"K{now_ms()}{next(_counter):06d}"},
                               test_mode=True)  # paid at the sandbox
    assert answer["result_code"] == 0, answer
    bill = db.session.get(Bill, answer["id"])
    assert settlement.mark_paid(bill, now_ms=paid_at)
    return bill


def paid_bills(merchant, count: int) -> list[str]:
    """``count`` bills paid a while ago, their webhooks due now: their bill_no."""
    paid_at = now_ms() - PAID_AGO_MS
    return sorted(paid_bill(merchant, paid_at).bill_no for _ in range(count))


def deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.execute(db.select(WebhookDelivery)).scalars())


def untried() -> int:
    return sum(1 for delivery in deliveries() if delivery.attempts == 0)


def run_workers(app, work, count=2):
    """``work`` in ``count`` threads at once, each with its own app context
    (so its own database connection)."""
    barrier = threading.Barrier(count)
    errors = []

    def worker():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                work()
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def keep_working():
    """What ``flask webhooks work`` does, minus its idle pause: work what is
    due, and look again until every delivery has been tried once (a worker
    whose first look finds everything claimed keeps looking, as a real one
    does, and would take over any claim whose lease ran out)."""
    while untried():
        webhooks.work_once()


class Clock:
    def __init__(self, now=T0, step=0):
        self.now, self.step = now, step

    def __call__(self):
        self.now += self.step
        return self.now


# --- two workers, one outbox ----------------------------------------------------------

def test_two_workers_send_each_event_once_to_a_receiver_slower_than_the_lease(
        app, merchant, slow_receiver):
    events = paid_bills(merchant, 4)
    run_workers(app, keep_working)
    assert slow_receiver.events(at_least=len(events)) == events
    assert [(d.status, d.attempts) for d in deliveries()] == [(WebhookDelivery.PENDING, 1)] * 4
    assert all(d.last_error.startswith("Timeout") for d in deliveries())


def test_a_second_worker_process_started_mid_batch_sends_no_event_again(
        app_config, merchant, slow_receiver, tmp_path):
    """Two ``flask webhooks work --once`` processes; the second starts once the
    first is sending, so it starts up (about a second, more than a lease)
    while the first is still working through what is due."""
    events = paid_bills(merchant, 6)
    db.session.remove()
    env = dict(os.environ, DATABASE_URL=app_config["SQLALCHEMY_DATABASE_URI"],
               INSTANCE_PATH=str(tmp_path / "worker-instance"),
               WEBHOOK_TIMEOUT_SECONDS=str(DEADLINE), WEBHOOK_LEASE_MARGIN_SECONDS=str(MARGIN))

    def start_worker():
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "webhooks", "work", "--once"],
            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    first = start_worker()
    slow_receiver.events(at_least=1)
    second = start_worker()
    outputs = [worker.communicate(timeout=60) for worker in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert slow_receiver.events(at_least=len(events)) == events
    attempts = [int(re.search(r"(\d+) delivery attempt", out).group(1)) for out, _ in outputs]
    assert sum(attempts) == 6
    assert [d.attempts for d in deliveries()] == [1] * 6


def test_two_workers_deliver_each_event_once_to_a_prompt_receiver(app, merchant, receiver):
    events = paid_bills(merchant, 12)
    run_workers(app, webhooks.work_once)
    assert sorted(json.loads(body)["transaction_id"] for body in receiver.bodies) == events
    assert {(d.status, d.attempts) for d in deliveries()} == {(WebhookDelivery.DELIVERED, 1)}


# --- one send never outlives its claim ------------------------------------------------

def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline_within_the_lease(
        merchant, receiver):
    """httpx's own timeouts bound each read, not the request: an answer
    trickled a byte at a time would hold the send past any lease."""
    release = threading.Event()

    def trickle(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        for _ in range(round(HOLD / 0.05)):  # a byte every 50 ms, until the test ends
            if release.wait(0.05):
                return
            yield b" "

    receiver.server.app = trickle
    paid_bill(merchant, paid_at=now_ms() - PAID_AGO_MS)
    try:
        assert webhooks.work_once() == 1
    finally:
        release.set()
    (delivery,) = deliveries()
    # Written, so written while the lease still held; and written as a timeout.
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.PENDING, 1)
    assert delivery.last_error.startswith("Timeout: no complete answer within 0.")


def test_a_claim_lasts_the_send_deadline_plus_the_margin(merchant):
    paid_bill(merchant)
    assert webhooks.claim(T0).lease_until == T0 + LEASE_MS


def test_a_send_is_cut_off_the_margin_before_its_lease_ends_however_long_the_claim_took(
        merchant):
    paid_bill(merchant)
    clock, deadlines = Clock(T0, step=100), []  # 100 ms pass between looks at the clock

    def send(url, body, deadline_seconds):
        deadlines.append(deadline_seconds)
        return webhooks.Outcome(True)

    webhooks.work_once(now=clock, send=send)
    assert deadlines == [pytest.approx(DEADLINE - 0.1)]


def test_a_claim_that_took_the_whole_deadline_is_given_back_unsent(merchant):
    paid_bill(merchant)
    clock, sent = Clock(T0, step=round(DEADLINE * 1000) + 1), []

    def send(url, body, deadline_seconds):  # pragma: no cover - must not be called
        sent.append(body)
        return webhooks.Outcome(True)

    assert webhooks.work_once(now=clock, send=send) == 0
    assert sent == []
    (delivery,) = deliveries()
    assert (delivery.attempts, delivery.claimed_until) == (0, None)


def test_a_claim_takes_one_delivery_and_leaves_the_rest_to_other_workers(merchant):
    first, second = paid_bill(merchant), paid_bill(merchant)
    claims = [webhooks.claim(T0), webhooks.claim(T0), webhooks.claim(T0)]
    assert [claim and json.loads(claim.body)["transaction_id"] for claim in claims] == \
        [first.bill_no, second.bill_no, None]


# --- a crashed worker --------------------------------------------------------------------

def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(merchant):
    paid_bill(merchant)
    assert webhooks.claim(T0) is not None
    assert webhooks.claim(T0 + LEASE_MS - 1) is None
    assert webhooks.claim(T0 + LEASE_MS + 1) is not None  # the first worker died


def test_a_worker_whose_lease_was_taken_over_does_not_write(merchant):
    paid_bill(merchant)
    old = webhooks.claim(T0)
    new = webhooks.claim(T0 + LEASE_MS + 1)
    assert webhooks.record(old.id, old.lease_until, webhooks.Outcome(True), T0 + 1000) is None
    assert deliveries()[0].status == WebhookDelivery.PENDING
    assert webhooks.record(new.id, new.lease_until, webhooks.Outcome(True), T0 + 1000) == \
        WebhookDelivery.DELIVERED
