"""Card-testing defence (issue 12 item 5): failed card attempts are limited
per order, per shopper IP and per merchant app over a moving window, in the
checkout's card form and the international API's PAYPAL_CREDITCARD, with
the counts in the database or in Redis (``REDIS_URL``), shared by every app
instance, and no card data in any key, log line or page.

The tests use small limits (3 per order per 15 minutes, 5 per IP per hour,
8 per merchant per hour) so each scope can be filled on its own. Time is a
fake clock given to the limits and their storage; nothing sleeps."""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
import uuid

import limits
import limits.storage.redis
import pytest
import redis
from sqlalchemy import text

from checkout import card_attempts, create_app, signing
from checkout.card_attempts import IP, MERCHANT, ORDER, Attempt, TooManyAttempts
from checkout.clock import now_ms
from checkout.config import ENVIRONMENT
from checkout.db import db
from checkout.models import Bill, CheckoutOrder, RateLimitEntry
from checkout.rate_limit_storage import DatabaseStorage

REDIS_URL = os.environ.get("CHECKOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SMALL_LIMITS = {"CARD_FAILURES_PER_ORDER": "3 per 15 minutes",
                "CARD_FAILURES_PER_IP": "5 per hour",
                "CARD_FAILURES_PER_MERCHANT": "8 per hour"}
GOOD_CARD = {"cc_name": "Jim Green", "cc_number": "4242 4242 4242 4242", "cc_exp": "12 / 30",
             "cc_csc": "737"}
DECLINED = "4000 0000 0000 0002"  # passes every card rule; the sandbox's bank declines it
MISTYPED = "4242 4242 4242 4241"  # fails Luhn
SHOPPER = "198.51.100.7"
# Every card number and CVV these tests type, as they could leak.
CARD_SECRETS = ["4242424242424242", "4000000000000002", "5105105105105100", "4242424242424241",
                "737", "321"]


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def redis_prefix() -> str:
    return f"test-card-attempts-{uuid.uuid4().hex}"


@pytest.fixture
def backend(request, redis_prefix):
    """Where the counts live: "database" unless a test is parametrized with
    ``indirect=True``; "redis" is the local Redis under a key prefix of this
    test's own, deleted afterwards."""
    kind = getattr(request, "param", "database")
    if kind != "redis":
        yield kind
        return
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} does not answer: {error}")
    yield kind
    for key in server.scan_iter(f"{redis_prefix}:*"):
        server.delete(key)
    server.close()


@pytest.fixture
def app_config(app_config, backend, redis_prefix):
    """conftest's settings, with the small limits and the backend's storage."""
    app_config.update(SMALL_LIMITS)
    if backend == "redis":
        app_config.update(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=redis_prefix)
    return app_config


BOTH = pytest.mark.parametrize("backend", ["database", "redis"], indirect=True)


@pytest.fixture
def attempts(backend, app) -> card_attempts.CardAttempts:
    return card_attempts.current()


class Clock:
    """Seconds since the epoch, moved by hand. Also stands in for the
    ``time`` module inside limits' Redis storage, which calls ``time.time()``."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    time = __call__

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(attempts, monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(attempts, "clock", fake)
    if isinstance(attempts.storage, DatabaseStorage):
        monkeypatch.setattr(attempts.storage, "clock", fake)
    else:
        monkeypatch.setattr(limits.storage.redis, "time", fake)
    return fake


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(channels=["ALI_WEB", "PAYPAL_CREDITCARD", "PAYPAL_PAYPAL"],
                         default_currency="USD")


@pytest.fixture
def settlement():
    return pytest.importorskip("checkout.sandbox.settlement")


def make_order(merchant, **fields) -> CheckoutOrder:
    fields.setdefault("currency", "USD")
    fields.setdefault("amount", 1999)
    order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                          out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                          title="Tea set", bills={}, extra={}, created_at=now_ms(),
                          updated_at=now_ms(), **fields)
    db.session.add(order)
    db.session.commit()
    return order


def attempt(merchant, bill_no="ORDER0001", ip=SHOPPER) -> Attempt:
    return Attempt(app_id=merchant.app_id, bill_no=bill_no, client_ip=ip)


def fail(attempts, merchant, times=1, **where) -> None:
    for _ in range(times):
        attempts.record_failure(attempt(merchant, **where))


def refused(attempts, merchant, **where) -> TooManyAttempts:
    with pytest.raises(TooManyAttempts) as full:
        attempts.check(attempt(merchant, **where))
    return full.value


# --- the limits, in the domain ------------------------------------------------------------------

@BOTH
def test_an_order_is_refused_once_its_failures_fill_the_window(attempts, merchant):
    fail(attempts, merchant, 2)
    attempts.check(attempt(merchant))  # room for a third
    fail(attempts, merchant)
    assert refused(attempts, merchant).scope == ORDER
    attempts.check(attempt(merchant, bill_no="ORDER0002"))  # another order of the shopper


@BOTH
def test_an_ip_is_refused_once_its_failures_over_several_orders_fill_the_window(attempts,
                                                                                 merchant):
    for bill_no in ("ORDER0001", "ORDER0002", "ORDER0003", "ORDER0004", "ORDER0005"):
        fail(attempts, merchant, bill_no=bill_no)
    assert refused(attempts, merchant, bill_no="ORDER0006").scope == IP
    attempts.check(attempt(merchant, bill_no="ORDER0006", ip="198.51.100.8"))


@BOTH
def test_a_merchant_is_refused_once_failures_from_many_ips_fill_the_window(attempts, merchant,
                                                                           make_merchant):
    for number in range(8):
        fail(attempts, merchant, bill_no=f"ORDER{number:04d}", ip=f"203.0.113.{number}")
    assert refused(attempts, merchant, bill_no="ORDER0100", ip="203.0.113.100").scope == MERCHANT
    attempts.check(attempt(make_merchant(name="Another Shop"), ip="203.0.113.100"))


def test_ipv6_addresses_of_one_subscriber_count_together(attempts, merchant):
    """A subscriber gets a whole /64: rotating addresses inside it does not
    reset the count."""
    for number in range(5):
        fail(attempts, merchant, bill_no=f"ORDER{number:04d}", ip=f"2001:db8:1:2::{number + 1}")
    assert refused(attempts, merchant, bill_no="ORDER0100", ip="2001:db8:1:2:ffff::9").scope == IP
    attempts.check(attempt(merchant, bill_no="ORDER0100", ip="2001:db8:1:3::1"))


@BOTH
def test_the_window_slides_and_says_when_it_has_room_again(attempts, merchant, clock):
    fail(attempts, merchant)  # t = 0
    clock.advance(60)
    fail(attempts, merchant)  # t = 60 s
    clock.advance(60)
    fail(attempts, merchant)  # t = 120 s
    clock.advance(10)
    full = refused(attempts, merchant)
    # The first failure leaves the 15-minute window at t = 900 s: 770 s from now.
    assert (round(full.retry_in), full.minutes) == (770, 13)
    clock.advance(769)
    assert refused(attempts, merchant).minutes == 1  # one second left: rounded up, never 0
    clock.advance(1.001)  # just past t = 900 s (a failure exactly 15 minutes old still counts)
    attempts.check(attempt(merchant))  # one failure has aged out: room for one more
    fail(attempts, merchant)
    # Full again until the failure of t = 60 s ages out, 60 s later.
    assert round(refused(attempts, merchant).retry_in) == 60


@BOTH
def test_the_longest_wait_of_several_full_limits_is_the_one_told(attempts, merchant, clock):
    for bill_no in ("ORDER0001", "ORDER0002"):
        fail(attempts, merchant, bill_no=bill_no)
    clock.advance(60)
    fail(attempts, merchant, 3, bill_no="ORDER0003")  # fills the order and the IP
    full = refused(attempts, merchant, bill_no="ORDER0003")
    # The order frees a slot 15 minutes after its first failure; the IP 1 hour
    # after its first, 60 s earlier: the card may be tried only when both do.
    assert (full.scope, round(full.retry_in)) == (IP, 3600 - 60)


def test_a_limit_set_off_is_not_applied(app_config):
    app_config["CARD_FAILURES_PER_IP"] = "off"
    application = create_app(app_config)
    assert set(application.extensions["card_attempts"].limits) == {ORDER, MERCHANT}


@pytest.mark.parametrize("setting, value", [("CARD_FAILURES_PER_ORDER", "five"),
                                            ("CARD_FAILURES_PER_MERCHANT", "0 per hour")])
def test_a_limit_setting_limits_cannot_read_stops_the_app_with_its_name(app_config, setting,
                                                                       value):
    app_config[setting] = value
    with pytest.raises(ValueError, match=setting):
        create_app(app_config)


def test_the_default_limits():
    defaults = card_attempts.parse_limits({name: default for name, (_kind, default)
                                           in ENVIRONMENT.items()})
    assert {scope: (item.amount, item.get_expiry()) for scope, item in defaults.items()} == {
        ORDER: (5, 15 * 60), IP: (10, 3600), MERCHANT: (50, 3600)}


def test_an_unreachable_redis_lets_cards_through_and_says_so_in_the_log(app_config, caplog):
    app_config.update(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    application = create_app(app_config)
    limiter = application.extensions["card_attempts"]
    with application.app_context():
        limiter.record_failure(Attempt("app", "ORDER0001", SHOPPER))
        limiter.check(Attempt("app", "ORDER0001", SHOPPER))
    assert "card payments are NOT being limited" in caplog.text
    assert "127.0.0.1:1" not in caplog.text


# --- the database storage -----------------------------------------------------------------

def test_database_storage_counts_in_the_table_not_in_memory(attempts, merchant):
    fail(attempts, merchant, 2)
    keys = db.session.scalars(db.select(RateLimitEntry.key)).all()
    assert sorted(keys) == sorted(
        [f"LIMITER/card-failures/order/{merchant.app_id}/ORDER0001/3/15/minute",
         f"LIMITER/card-failures/ip/{SHOPPER}/5/1/hour",
         f"LIMITER/card-failures/merchant/{merchant.app_id}/8/1/hour"] * 2)


def test_database_storage_sweeps_entries_past_their_window(attempts, merchant, clock):
    fail(attempts, merchant, bill_no="ORDER0001")
    clock.advance(3601)  # past the longest window (1 hour)
    fail(attempts, merchant, bill_no="ORDER0002")
    assert db.session.scalar(db.select(db.func.count()).select_from(RateLimitEntry)) == 3


def test_database_storage_racing_acquisitions_take_exactly_the_limit(app, race):
    storage = DatabaseStorage(engine=lambda: db.engine)
    taken = race(10, lambda _i: storage.acquire_entry("race-key", 4, 60))
    assert taken.count(True) == 4
    assert storage.get_moving_window("race-key", 4, 60)[1] == 4


def test_database_storage_clears_one_key(app):
    storage = DatabaseStorage(engine=lambda: db.engine)
    for key in ("one", "two"):
        storage.acquire_entry(key, 5, 60)
    storage.clear("one")
    assert (storage.get_moving_window("one", 5, 60)[1],
            storage.get_moving_window("two", 5, 60)[1]) == (0, 1)


@BOTH
def test_two_app_instances_on_one_storage_share_the_count(app, app_config, merchant, settlement):
    """Two workers (or hosts): each its own app and limits object, the same
    database (and the same Redis when set)."""
    order = make_order(merchant)
    first, second = app.test_client(), create_app(app_config).test_client()
    tokens = {first: csrf_token(first, order), second: csrf_token(second, order)}
    for client, status in ((first, 402), (second, 402), (first, 429)):
        assert post_card(client, order, tokens[client], cc_number=DECLINED).status_code == status
    assert post_card(second, order, tokens[second]).status_code == 429
    with second.application.app_context():
        db.engine.dispose()


# --- the card form ---------------------------------------------------------------------------

def csrf_token(client, order, lang="en") -> str:
    """The card form's token. Each client is a browser of its own. (The
    form's language sticks to the test's app context: one per test.)"""
    html = client.get(f"/pay/{order.id}/card?lang={lang}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post_card(client, order, token, *, ip=SHOPPER, headers=None, lang="en", **fields):
    return client.post(f"/pay/{order.id}/card?lang={lang}",
                       data={"csrf_token": token, **GOOD_CARD, **fields},
                       environ_base={"REMOTE_ADDR": ip}, headers=headers or {})


def fill_order(client, order, token, **where):
    """Three failures: the order's limit. The third answers the 429 page."""
    for _ in range(2):
        assert post_card(client, order, token, cc_number=DECLINED, **where).status_code == 402
    return post_card(client, order, token, cc_number=DECLINED, **where)


def test_the_failure_that_fills_the_limit_shows_the_page_at_once(client, merchant, settlement,
                                                                 clock):
    order = make_order(merchant)
    response = fill_order(client, order, csrf_token(client, order))
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert "Too many attempts" in html and "Try again in 15 minutes." in html
    assert f'href="/pay/{order.id}"' in html  # back to the chooser: other ways to pay


def test_a_blocked_order_refuses_the_card_without_trying_it(client, merchant, settlement, clock):
    order = make_order(merchant)
    token = csrf_token(client, order)
    fill_order(client, order, token)
    clock.advance(5 * 60)
    response = post_card(client, order, token)  # a good card, but the order is blocked
    assert response.status_code == 429
    assert "Try again in 10 minutes." in response.get_data(as_text=True)
    db.session.expire_all()
    bills = db.session.scalars(db.select(Bill).where(Bill.bill_no == order.bill_no)).all()
    assert [bill.status for bill in bills] == ["FAILED"]  # as the last decline left it


def test_a_blocked_order_shows_the_page_instead_of_the_form(client, merchant, settlement, clock):
    order = make_order(merchant)
    fill_order(client, order, csrf_token(client, order))
    clock.advance(14 * 60 + 30)
    response = client.get(f"/pay/{order.id}/card?lang=en", environ_base={"REMOTE_ADDR": SHOPPER})
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Try again in 1 minute." in html and 'id="cc-number"' not in html


def test_the_page_speaks_chinese(client, merchant, settlement):
    order = make_order(merchant)
    response = fill_order(client, order, csrf_token(client, order, lang="zh"), lang="zh")
    html = response.get_data(as_text=True)
    assert "尝试次数过多" in html and "请在 15 分钟后重试。" in html and "选择其他支付方式" in html


def test_a_good_card_pays_once_the_window_has_room_again(client, merchant, settlement, clock):
    order = make_order(merchant)
    token = csrf_token(client, order)
    fill_order(client, order, token)
    clock.advance(15 * 60 + 1)
    response = post_card(client, order, token)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/pay/{order.id}/return")
    db.session.expire_all()
    paid = db.session.get(CheckoutOrder, order.id).bills["PAYPAL_CREDITCARD"]
    assert db.session.get(Bill, paid).status == "PAID"


def test_a_good_card_pays_after_failures_under_the_limit(client, merchant, settlement):
    order = make_order(merchant)
    token = csrf_token(client, order)
    for number in (DECLINED, MISTYPED):
        assert post_card(client, order, token, cc_number=number).status_code in (402, 422)
    assert post_card(client, order, token).status_code == 303


def test_invalid_card_details_count_as_failures(client, merchant):
    order = make_order(merchant)
    token = csrf_token(client, order)
    statuses = [post_card(client, order, token, cc_number=MISTYPED).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_a_form_without_a_card_number_tries_no_card_and_is_not_counted(client, merchant):
    order = make_order(merchant)
    token = csrf_token(client, order)
    statuses = [post_card(client, order, token, cc_number="").status_code for _ in range(4)]
    assert statuses == [422] * 4


def test_successful_payments_are_not_counted(client, make_merchant, settlement):
    shop = make_merchant(channels=["PAYPAL_CREDITCARD"], default_currency="USD")
    for _ in range(6):  # more than the IP's 5
        order = make_order(shop)
        assert post_card(client, order, csrf_token(client, order)).status_code == 303


def fill_ip(client, orders, tokens, forwarded_for=None, **where):
    """Five failures (the IP's limit) from one shopper over three orders,
    filling none of them (3 each): 2 + 2 + 1. ``forwarded_for``: an iterator
    of X-Forwarded-For values, one per request."""
    for order, token, count in zip(orders, tokens, (2, 2, 1)):
        for _ in range(count):
            headers = {"X-Forwarded-For": next(forwarded_for)} if forwarded_for else None
            post_card(client, order, token, cc_number=DECLINED, headers=headers, **where)


def three_orders(client, merchant):
    orders = [make_order(merchant) for _ in range(3)]
    return orders, [csrf_token(client, order) for order in orders]


def test_the_shoppers_ip_is_counted_across_orders(client, merchant, settlement):
    orders, tokens = three_orders(client, merchant)
    fill_ip(client, orders, tokens)
    assert post_card(client, orders[2], tokens[2]).status_code == 429
    assert post_card(client, orders[2], tokens[2], ip="198.51.100.99").status_code == 303


def test_behind_a_proxy_the_forwarded_ip_is_counted(app_config, make_merchant, settlement):
    app_config["PROXY_HOPS"] = 1
    proxied = create_app(app_config)
    client = proxied.test_client()
    with proxied.app_context():
        orders, tokens = three_orders(client, make_merchant(channels=["PAYPAL_CREDITCARD"],
                                                            default_currency="USD"))
        proxy = "10.0.0.2"  # every request reaches the app through it
        fill_ip(client, orders, tokens, forwarded_for=iter(["203.0.113.5"] * 5), ip=proxy)
        for shopper, status in (("203.0.113.5", 429), ("203.0.113.6", 303)):
            assert post_card(client, orders[2], tokens[2], ip=proxy,
                             headers={"X-Forwarded-For": shopper}).status_code == status
        db.session.remove()
        db.engine.dispose()


def test_without_a_proxy_a_forged_forwarded_for_changes_nothing(client, merchant, settlement):
    orders, tokens = three_orders(client, merchant)
    forged = iter(f"203.0.113.{number}" for number in range(1, 100))
    fill_ip(client, orders, tokens, forwarded_for=forged)
    assert post_card(client, orders[2], tokens[2],
                     headers={"X-Forwarded-For": next(forged)}).status_code == 429


def test_saved_cards_are_not_limited(client, merchant, settlement):
    """A saved card was vetted when it was first paid with: paying with it
    tests no card, so a full limit does not stop it."""
    first = make_order(merchant, buyer_id="alice")
    assert post_card(client, first, csrf_token(client, first), save_card="1").status_code == 303
    order = make_order(merchant, buyer_id="alice")
    token = csrf_token(client, order)
    html = client.get(f"/pay/{order.id}/card").get_data(as_text=True)
    card_id = re.search(r'name="card" value="(\d+)"', html).group(1)
    fill_order(client, order, token)
    response = client.post(f"/pay/{order.id}/saved-card", data={"csrf_token": token,
                                                               "card": card_id})
    assert response.status_code == 303


# --- the international API ------------------------------------------------------------------

def api_body(merchant, bill_no, card_number="4000000000000002", **fields) -> dict:
    timestamp = now_ms()
    body = {"app_id": merchant.app_id, "timestamp": timestamp,
            "app_sign": signing.app_sign(merchant.app_id, timestamp, merchant.app_secret),
            "channel": "PAYPAL_CREDITCARD", "total_fee": 19.99, "currency": "USD",
            "bill_no": bill_no, "title": "Tea set",
            "credit_card_info": {"card_number": card_number, "expire_month": 12,
                                 "expire_year": 2035, "cvv": "321", "first_name": "Jim",
                                 "last_name": "Green", "card_type": "visa"}}
    body.update(fields)
    return body


def api(client, body, ip=SHOPPER, path="/1/rest/international/bill") -> dict:
    response = client.post(path, json=body, environ_base={"REMOTE_ADDR": ip})
    assert response.status_code == 200
    return response.get_json()


@BOTH
def test_api_answers_too_many_attempts_in_beeclouds_error_shape(client, merchant, settlement,
                                                                clock):
    codes = [api(client, api_body(merchant, "APIORDER01"))["result_code"] for _ in range(3)]
    assert codes == [7, 7, 7]  # CARD_DECLINED
    clock.advance(30)
    answer = api(client, api_body(merchant, "APIORDER01", card_number="4242424242424242"))
    assert answer == {
        "result_code": 7, "result_msg": "CHANNEL_ERROR",
        "err_detail": "TOO_MANY_CARD_ATTEMPTS: too many failed card attempts for this bill_no "
                      "(at most 3 in 15 minutes); try again in 15 minutes; nothing was charged"}
    assert db.session.scalar(db.select(db.func.count()).select_from(Bill)
                             .where(Bill.status == "PAID")) == 0


def test_api_v2_path_is_limited_too(client, merchant, settlement):
    for _ in range(3):
        api(client, api_body(merchant, "APIORDER02"), path="/2/rest/international/bill")
    answer = api(client, api_body(merchant, "APIORDER02"), path="/2/rest/international/bill")
    assert answer["err_detail"].startswith("TOO_MANY_CARD_ATTEMPTS:")


def test_api_counts_invalid_card_details(client, merchant):
    for _ in range(3):
        assert api(client, api_body(merchant, "APIORDER03",
                                    card_number="4242424242424241"))["result_code"] == 5
    assert api(client, api_body(merchant, "APIORDER03"))["err_detail"].startswith(
        "TOO_MANY_CARD_ATTEMPTS:")


def test_api_counts_the_shoppers_ip_from_analysis(client, merchant, settlement):
    """Seed 003: ``analysis.ip`` is the shopper's IP. The merchant's server
    calls for all its shoppers, so its own address would lump them together."""
    for number in range(5):
        api(client, api_body(merchant, f"APIORDER1{number}", analysis={"ip": "203.0.113.9"}))
    answer = api(client, api_body(merchant, "APIORDER20", analysis={"ip": "203.0.113.9"}))
    assert answer["err_detail"].startswith(
        "TOO_MANY_CARD_ATTEMPTS: too many failed card attempts from this shopper's IP address")
    other = api(client, api_body(merchant, "APIORDER20", card_number="4242424242424242",
                                 analysis={"ip": "203.0.113.10"}))
    assert other["result_code"] == 0


def test_api_without_analysis_counts_the_callers_ip(client, merchant, settlement):
    for number in range(5):
        api(client, api_body(merchant, f"APIORDER3{number}"), ip="192.0.2.50")
    answer = api(client, api_body(merchant, "APIORDER40"), ip="192.0.2.50")
    assert "from this shopper's IP address" in answer["err_detail"]


def test_api_and_card_form_count_one_order_together(client, merchant, settlement):
    order = make_order(merchant)
    token = csrf_token(client, order)
    post_card(client, order, token, cc_number=DECLINED)
    for _ in range(2):
        api(client, api_body(merchant, order.bill_no))
    assert post_card(client, order, token).status_code == 429


def test_paypal_redirects_are_not_limited(client, merchant):
    for _ in range(3):
        api(client, api_body(merchant, "APIORDER50"))
    answer = api(client, api_body(merchant, "APIORDER50", channel="PAYPAL_PAYPAL",
                                  return_url="https://shop.example.com/paypal/return"))
    assert answer["result_code"] == 0 and answer["url"]


# --- no card data anywhere ------------------------------------------------------------------

@BOTH
def test_no_card_number_or_cvv_in_keys_logs_or_pages(client, merchant, settlement, backend,
                                                     redis_prefix, caplog):
    caplog.set_level(logging.DEBUG)
    order = make_order(merchant)
    token = csrf_token(client, order)
    pages = [post_card(client, order, token, cc_number=number, cc_csc="737").get_data(
        as_text=True) for number in (DECLINED, MISTYPED, "5105 1051 0510 5100", GOOD_CARD[
            "cc_number"])]
    answers = [api(client, api_body(merchant, "APIORDER60", card_number=number))
               for number in ("4000000000000002", "5105105105105100", "4242424242424241",
                              "4242424242424242")]
    if backend == "redis":
        server = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = list(server.scan_iter(f"{redis_prefix}:*"))
        server.close()
    else:
        keys = db.session.scalars(db.select(RateLimitEntry.key)).all()
    assert keys, "the failures were counted"
    for where in ("\n".join(keys), caplog.text, "\n".join(pages), str(answers)):
        for secret in CARD_SECRETS:
            alone = re.compile(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])")
            assert not alone.search(where), secret


def test_the_rate_limit_table_has_no_column_for_card_data(app):
    columns = db.session.execute(text("SELECT * FROM rate_limit_entries")).keys()
    assert set(columns) == {"id", "key", "at", "expires_at"}
