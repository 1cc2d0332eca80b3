"""Nothing stored can later break a read (issue 12, deliverable 2).

Every free-text field the gateway and the checkout ACCEPT goes in at the
largest size its rule allows, written in the kinds of text that trip storage
and encoding layers: emoji (ZWJ families, flags, skin tones), CJK (also
outside the BMP), right-to-left text with U+200F marks, combining characters
(a decomposed é stays decomposed: nothing normalises), and HTML/JSON
metacharacters. Each is read back identical at every step of create → query
→ pay → webhook → query: REST bills (live and sandbox paths), the hosted
checkout's entry (GET, form and JSON), coupons, and the international API.

"Identical" compares strings character for character, and JSON objects by
their JSON text (so key order and value types count too). Runs on SQLite,
and on PostgreSQL with ``CHECKOUT_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import quote, unquote, urlsplit

import pytest
from markupsafe import escape
from werkzeug.urls import iri_to_uri

from checkout import cards, inputs, orders
from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder, SavedCard
from checkout.sandbox import bills, coupons, webhooks

# Each sample is a tuple of what a reader sees as one character (grapheme
# clusters), so a text built of them can be checked for cuts inside one.
SAMPLES = {
    "emoji": ("👨\u200d👩\u200d👧", "🇨🇳", "🏳\ufe0f\u200d🌈", "👍🏽", "🫖", "🇮🇱"),
    "cjk_emoji": ("中", "文", "🫖", "標", "題", "お", "茶", "한", "글", "𠀋"),
    "rtl": ("\u200f", "م", "ر", "ح", "ب", "ا", "\u200f", "שָׁ", "ל", "וֹ", "ם", "\u200f", "١"),
    "combining": ("e\u0301", "A\u030a", "n\u0303", "\u1100\u1161\u11a8", "Z\u0335\u0321\u0358"),
    "markup": tuple("<b>&amp;&lt;</b>\\<>&"),
}

PC = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"}

# The gateway's rules (checkout/sandbox/bills.py): titles in UTF-8 bytes,
# ids in characters; store_id, seller_id and operator_id take 32.
REST_STORE_IDS = 32
# The gateway's own limit on optional / analysis (compact JSON bytes).
REST_OBJECT_BYTES = bills.MAX_MAP_BYTES

_counter = iter(range(10 ** 6))


# --- building the largest allowed values ---------------------------------------------

def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def json_text(value) -> str:
    """How values are compared: their JSON text (key order and types count)."""
    return json.dumps(value, ensure_ascii=False)


def json_size(value) -> int:
    """The size limits' measure (``checkout.inputs.json_size``): UTF-8 bytes
    of the compact JSON text."""
    return inputs.json_size(value)


def fill(units, limit: int, size=utf8_size) -> str:
    """The longest text of ``units`` in turn whose ``size`` stays within
    ``limit``, then ASCII dots up to exactly ``limit``."""
    text, i = "", 0
    while size(text + units[i % len(units)]) <= limit:
        text += units[i % len(units)]
        i += 1
    while size(text + ".") <= limit:
        text += "."
    assert size(text) == limit
    return text


def flat_object(units, limit: int) -> dict:
    """A flat object (scalars only) of exactly ``limit`` JSON bytes, its keys
    and values in the sample's text, with every JSON scalar type."""
    text = "".join(units)
    base = {text: text, "反转": "".join(reversed(units)), "quotes\"'\\/": "\"'\\/\u2028\u2029",
            "big": -12345678901234567, "small": 1e-07, "yes": True, "none": None, "pad": ""}
    base["pad"] = fill(units, limit, lambda pad: json_size({**base, "pad": pad}))
    return base


def nested_object(units, limit: int) -> dict:
    """An object with nested objects and arrays of exactly ``limit`` JSON bytes."""
    text = "".join(units)
    base = {"ip": "58.110.23.35", "device": {text: text, "tags": [text, 1, None, {"深": [text]}]},
            "pad": ""}
    base["pad"] = fill(units, limit, lambda pad: json_size({**base, "pad": pad}))
    return base


def new_bill_no() -> str:
    return f"RT{now_ms()}{next(_counter):06d}"


# --- reading it back --------------------------------------------------------------------------

class RestApi:
    """The BeeCloud REST bill API as a merchant's server calls it, on the
    live paths (app secret) or the sandbox paths (test secret)."""

    def __init__(self, client, merchant, app_signed, *, sandbox: bool = False):
        self.client, self.merchant, self.app_signed = client, merchant, app_signed
        self.prefix = "/2/rest/sandbox" if sandbox else "/2/rest"
        self.secret = merchant.test_secret if sandbox else merchant.app_secret

    def _signed(self, **fields) -> dict:
        return self.app_signed(self.merchant, self.secret, **fields)

    def create(self, fields: dict) -> dict:
        answer = self.client.post(f"{self.prefix}/bill", json=self._signed(**fields)).get_json()
        assert answer["result_code"] == 0, answer
        return answer

    def read(self, path: str, **para) -> dict:
        response = self.client.get(f"{self.prefix}{path}", query_string={
            "para": json.dumps(self._signed(**para), ensure_ascii=False)})
        answer = response.get_json()
        assert answer["result_code"] == 0, answer
        return answer

    def bill(self, bill_id: str) -> dict:
        return self.read(f"/bill/{bill_id}")["pay"]

    def bills(self, **filters) -> list[dict]:
        return self.read("/bills", **filters)["bills"]

    def count(self, **filters) -> int:
        return self.read("/bills/count", **filters)["count"]


TEXT_FIELDS = ("title", "buyer_id", "store_id", "seller_id", "operator_id")


def text_of(wire: dict) -> str:
    """A bill's free text as a query answers it (``optional`` travels as JSON text)."""
    return json_text({**{name: wire[name] for name in TEXT_FIELDS},
                      "optional": json.loads(wire["optional"])})


def expected_text(fields: dict) -> str:
    return json_text({**{name: fields.get(name) for name in TEXT_FIELDS},
                      "optional": fields.get("optional") or {}})


def shown(page: str, testid: str) -> str:
    """The text of the element with ``data-testid``, as the page's HTML has it."""
    match = re.search(rf'data-testid="{testid}">(.*?)</div>', page, re.S)
    assert match, f"no {testid} on the page"
    return match.group(1)


def stored_bill(bill_id: str) -> Bill:
    db.session.expire_all()
    return db.session.get(Bill, bill_id)


class Paths:
    """The request URIs a webhook receiver was called at."""

    def __init__(self, receiver):
        self.seen: list[str] = []
        inner = receiver.server.app

        def app(environ, start_response):
            self.seen.append(environ.get("REQUEST_URI") or environ["PATH_INFO"])
            return inner(environ, start_response)

        receiver.server.app = app


def delivered_event(receiver) -> dict:
    """Deliver the outbox over real HTTP; the one webhook the merchant got."""
    assert webhooks.work_once() == 1
    (body,) = receiver.bodies
    return json.loads(body)


# --- REST bills: POST /2/rest/bill and /2/rest/sandbox/bill ----------------------------------

def rest_bill_fields(units, receiver_url: str) -> dict:
    text = quote("".join(units), safe="")
    return {
        "channel": "ALI_WEB", "total_fee": 1, "bill_no": new_bill_no(),
        "title": fill(units, bills.TITLE_MAX_BYTES),
        "optional": flat_object(units, REST_OBJECT_BYTES),
        "analysis": nested_object(units, REST_OBJECT_BYTES),
        "buyer_id": fill(units, bills.SHORT_TEXT, len),
        "store_id": fill(units, REST_STORE_IDS, len),
        "seller_id": fill(units[::-1], REST_STORE_IDS, len),
        "operator_id": fill(units[1:] + units[:1], REST_STORE_IDS, len),
        # Raw IRI characters beside percent-encoded ones, as merchants write them.
        "notify_url": f"{receiver_url}/回调/%E9%80%9A%E7%9F%A5/{text}?单号=值",
        "return_url": f"https://例え.テスト/戻る/%E5%AE%8C%E4%BA%86/{text}",
    }


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_rest_bills_text_reads_back_identical_at_every_step(
        client, make_merchant, receiver, app_signed, press_cashier, sample):
    """The sandbox paths, paid at the simulated cashier (the live paths: below)."""
    api = RestApi(client, make_merchant(webhook_url=receiver.url), app_signed, sandbox=True)
    fields = rest_bill_fields(SAMPLES[sample], receiver.url)
    filters = {"buyer_id": fields["buyer_id"], "bill_no": fields["bill_no"]}
    expected = expected_text(fields)
    bill_id = api.create(fields)["id"]

    # Query: one bill, the list under the buyer_id and bill_no filters, the count.
    assert text_of(api.bill(bill_id)) == expected
    assert [text_of(wire) for wire in api.bills(**filters)] == [expected]
    assert api.count(**filters) == 1
    bill = stored_bill(bill_id)
    assert json_text(bill.analysis) == json_text(fields["analysis"])  # no API reads it back

    # Pay at the sandbox cashier, which shows the title and goes back to return_url.
    cashier = client.get(f"/sandbox/cashier/{bill.cashier_token}").get_data(as_text=True)
    assert unescape(shown(cashier, "bill-title")) == fields["title"]
    paid = press_cashier(bill, "pay")
    assert paid.status_code == 303
    assert paid.headers["Location"] == iri_to_uri(fields["return_url"])

    # The webhook, over real HTTP, at the notify_url.
    paths = Paths(receiver)
    event = delivered_event(receiver)
    assert json_text(event["optional"]) == json_text(fields["optional"])
    assert event["message_detail"]["subject"] == event["message_detail"]["body"] == fields["title"]
    notify = urlsplit(fields["notify_url"])
    assert [unquote(path) for path in paths.seen] == [unquote(f"{notify.path}?{notify.query}")]

    # Query again: the same text, now with the payment's message_detail.
    again = api.bill(bill_id)
    assert again["spay_result"] is True
    assert text_of(again) == expected
    assert json.loads(again["message_detail"])["subject"] == fields["title"]
    listed = api.bills(**filters, need_detail=True)
    assert [text_of(wire) for wire in listed] == [expected]
    assert json.loads(listed[0]["message_detail"]) == event["message_detail"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_live_rest_bills_text_reads_back_identical_at_every_step(
        client, make_live_merchant, simulator_server, receiver, app_signed, sample):
    """The live paths: a live merchant's ALI_WEB bill goes to Alipay (the
    built-in simulator) with its title as the subject, is paid at Alipay's
    cashier, and Alipay's notification pays it here (issue 14)."""
    api = RestApi(client, make_live_merchant(webhook_url=receiver.url), app_signed)
    fields = rest_bill_fields(SAMPLES[sample], receiver.url)
    filters = {"buyer_id": fields["buyer_id"], "bill_no": fields["bill_no"]}
    expected = expected_text(fields)
    created = api.create(fields)

    assert text_of(api.bill(created["id"])) == expected
    assert [text_of(wire) for wire in api.bills(**filters)] == [expected]
    assert api.count(**filters) == 1
    assert json_text(stored_bill(created["id"]).analysis) == json_text(fields["analysis"])

    # The shopper follows the hand-off to Alipay's cashier, which shows the title, and pays.
    handoff = urlsplit(created["url"])
    cashier_path = client.get(f"{handoff.path}?{handoff.query}").headers["Location"]
    cashier = client.get(cashier_path).get_data(as_text=True)
    assert fields["title"] in unescape(cashier)
    token = re.search(r'name="csrf_token" value="([^"]+)"', cashier).group(1)
    paid = client.post(f"{cashier_path}/pay", data={"csrf_token": token})
    assert paid.status_code == 303  # back to return_url, with Alipay's signed return fields
    assert paid.headers["Location"].startswith(iri_to_uri(fields["return_url"]) + "?")

    # Alipay's notification paid the bill; our webhook goes to the notify_url.
    paths = Paths(receiver)
    event = delivered_event(receiver)
    assert json_text(event["optional"]) == json_text(fields["optional"])
    assert event["message_detail"]["subject"] == fields["title"]
    notify = urlsplit(fields["notify_url"])
    assert [unquote(path) for path in paths.seen] == [unquote(f"{notify.path}?{notify.query}")]

    again = api.bill(created["id"])
    assert again["spay_result"] is True
    assert text_of(again) == expected
    assert json.loads(again["message_detail"])["subject"] == fields["title"]
    listed = api.bills(**filters, need_detail=True)
    assert [text_of(wire) for wire in listed] == [expected]
    assert json.loads(listed[0]["message_detail"]) == event["message_detail"]


# --- the hosted checkout: /pay (GET query, form POST, JSON POST) -------------------------------

def checkout_fields(units) -> dict:
    """The BC.click fields at their largest: a title of 32 widths (16 Chinese
    characters), optional and analysis of ``orders.MAX_OPTIONAL_BYTES``, a
    64-character buyer_id, a return_url with a non-ASCII path; and an
    out_trade_no the gateway cannot take as its bill_no (an underscore), so
    the bill's optional also carries it."""
    return {
        "title": fill(units, orders.TITLE_WIDTH, orders.title_width),
        "out_trade_no": f"rt_{now_ms()}_{next(_counter)}",
        "optional": flat_object(units, orders.MAX_OPTIONAL_BYTES),
        "analysis": nested_object(units, orders.MAX_OPTIONAL_BYTES),
        "buyer_id": fill(units, orders.SHORT, len),
        "return_url": f"https://shop.example.com/订单/%E5%AE%8C%E6%88%90/{quote(''.join(units))}",
    }


def as_form(fields: dict) -> dict:
    # A form or a link carries the objects as JSON text (seed 003 line 351).
    return {name: json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            for name, value in fields.items()}


ENTRIES = {
    "get": lambda client, order: client.get("/pay", query_string=as_form(order), headers=PC),
    "form": lambda client, order: client.post("/pay", data=as_form(order), headers=PC),
    "json": lambda client, order: client.post("/pay", json=order, headers=PC),
}


def order_text(order: CheckoutOrder) -> str:
    return json_text({"title": order.title, "optional": order.optional,
                      "analysis": order.analysis, "buyer_id": order.buyer_id,
                      "return_url": order.return_url})


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_a_checkout_orders_text_reads_back_identical_at_every_step(
        client, make_merchant, receiver, button_order, app_signed, press_cashier, sample, entry):
    merchant = make_merchant(webhook_url=receiver.url)
    fields = checkout_fields(SAMPLES[sample])
    opened = ENTRIES[entry](client, button_order(merchant, **fields))
    assert opened.status_code == 303, opened.get_data(as_text=True)[:2000]
    token = opened.headers["Location"].rsplit("/", 1)[1]
    order = db.session.get(CheckoutOrder, token)
    assert order_text(order) == json_text({name: fields[name] for name in (
        "title", "optional", "analysis", "buyer_id", "return_url")})

    # The chooser shows the whole title, HTML-escaped.
    chooser = client.get(f"/pay/{token}", headers=PC).get_data(as_text=True)
    assert shown(chooser, "order-title") == str(escape(fields["title"]))

    # A bill opened for a channel carries the order's text (its title cut to
    # the gateway's 32 bytes, orders.bill_title; optional + out_trade_no).
    assert client.get(f"/pay/{token}/channel/ALI_WEB", headers=PC).status_code == 200
    db.session.refresh(order)
    bill_id = order.bills["ALI_WEB"]
    bill_title = orders.bill_title(fields["title"])
    bill_optional = {**fields["optional"], "out_trade_no": fields["out_trade_no"]}
    api = RestApi(client, merchant, app_signed, sandbox=True)  # a test-mode merchant's checkout
    expected = expected_text({"title": bill_title, "buyer_id": fields["buyer_id"],
                              "optional": bill_optional})
    assert text_of(api.bill(bill_id)) == expected
    assert json_text(stored_bill(bill_id).analysis) == json_text(fields["analysis"])

    # Pay; the webhook and the queries after it carry the same text.
    paid = press_cashier(stored_bill(bill_id), "pay")
    assert paid.headers["Location"] == f"http://localhost/pay/{token}/return"
    event = delivered_event(receiver)
    assert json_text(event["optional"]) == json_text(bill_optional)
    assert event["message_detail"]["subject"] == bill_title
    assert [text_of(wire) for wire in api.bills(buyer_id=fields["buyer_id"])] == [expected]
    assert api.count(buyer_id=fields["buyer_id"]) == 1

    # The result page: paid, the whole title, on to the merchant's return_url.
    result = client.get(f"/pay/{token}/return", headers=PC).get_data(as_text=True)
    assert 'data-status="paid"' in result
    assert shown(result, "order-title") == str(escape(fields["title"]))
    assert f'data-forward="{escape(fields["return_url"])}"' in result
    assert f'href="{escape(fields["return_url"])}" data-testid="back-to-shop"' in result


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_cut_bill_title_ends_between_two_characters(sample):
    """A checkout title longer than the gateway's 32 bytes is cut: never
    inside what a reader sees as one character (a ZWJ family, a flag, a
    letter with its accents). Each rotation of the sample puts the cut
    somewhere else."""
    for start in range(len(SAMPLES[sample])):
        units = SAMPLES[sample][start:] + SAMPLES[sample][:start]
        title = fill(units, orders.TITLE_WIDTH, orders.title_width)
        cut = orders.bill_title(title)
        assert utf8_size(cut) <= bills.TITLE_MAX_BYTES
        if cut != title:
            prefixes = ["".join(units[i % len(units)] for i in range(n))
                        for n in range(len(title) + 1)]
            assert cut.endswith("…") and cut[:-1] in prefixes, (title, cut)


# --- coupons: template names (CLI) and user_id (POST /2/rest/coupon) ----------------------------

def coupon_api(client, merchant, app_signed, path, **para) -> dict:
    answer = client.get(path, query_string={"para": json.dumps(
        app_signed(merchant, **para), ensure_ascii=False)}).get_json()
    assert answer["result_code"] == 0, answer
    return answer


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_coupons_text_reads_back_identical_from_issue_to_use(
        client, runner, make_merchant, receiver, button_order, app_signed, press_cashier,
        sample):
    merchant = make_merchant(webhook_url=receiver.url)
    units = SAMPLES[sample]
    name, user_id = fill(units, 64, len), fill(units[::-1], coupons.MAX_USER_ID, len)

    created = runner.invoke(args=["coupons", "template-create", merchant.app_id, name,
                                  "--discount", "1", "--json"])
    assert created.exit_code == 0, created.output
    template = json.loads(created.output)
    assert template["name"] == name
    issued = client.post("/2/rest/coupon", json=app_signed(
        merchant, template_id=template["id"], user_id=user_id)).get_json()
    assert issued["result_code"] == 0, issued
    coupon = issued["coupon"]
    assert (coupon["user_id"], coupon["template"]["name"]) == (user_id, name)

    # Queries: by template id, by name, by user_id.
    read = coupon_api(client, merchant, app_signed, f"/2/rest/coupon/template/{template['id']}")
    assert read["coupon_template"]["name"] == name
    by_name = coupon_api(client, merchant, app_signed, "/2/rest/coupon/template", name=name)
    assert [t["name"] for t in by_name["coupon_templates"]] == [name]
    mine = coupon_api(client, merchant, app_signed, "/2/rest/coupon", user_id=user_id)
    assert [(c["id"], c["user_id"]) for c in mine["coupons"]] == [(coupon["id"], user_id)]

    # The buyer's checkout offers it by name; the bill uses it; pay.
    opened = client.post("/pay", data=button_order(merchant, buyer_id=user_id), headers=PC)
    token = opened.headers["Location"].rsplit("/", 1)[1]
    chooser = client.get(f"/pay/{token}", headers=PC).get_data(as_text=True)
    assert f'<span class="pay-coupon-name">{escape(name)}</span>' in chooser
    assert client.get(f"/pay/{token}/channel/ALI_WEB", headers=PC).status_code == 200
    db.session.expire_all()
    bill = stored_bill(db.session.get(CheckoutOrder, token).bills["ALI_WEB"])
    assert (bill.coupon_id, bill.buyer_id) == (coupon["id"], user_id)
    press_cashier(bill, "pay")
    assert delivered_event(receiver)["coupon_id"] == coupon["id"]

    # Used, and still the same text: over the API and the CLI.
    used = coupon_api(client, merchant, app_signed, f"/2/rest/coupon/{coupon['id']}")["coupon"]
    assert (used["status"], used["user_id"], used["template"]["name"]) == (1, user_id, name)
    listed = runner.invoke(args=["coupons", "list", merchant.app_id, "--user", user_id, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(c["user_id"], c["template"]["name"]) for c in json.loads(listed.output)] \
        == [(user_id, name)]


# --- the international API: POST /1/rest/international/bill -----------------------------------

@pytest.mark.parametrize("sample", SAMPLES)
def test_an_international_card_bills_text_reads_back_identical(
        client, make_merchant, receiver, app_signed, sample):
    merchant = make_merchant(channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                             webhook_url=receiver.url)
    units = SAMPLES[sample]
    first, last = fill(units, cards.NAME_MAX, len), fill(units[::-1], cards.NAME_MAX, len)
    fields = {"channel": "PAYPAL_CREDITCARD", "total_fee": "19.99", "currency": "USD",
              "bill_no": new_bill_no(), "title": fill(units, bills.TITLE_MAX_BYTES),
              "optional": flat_object(units, REST_OBJECT_BYTES),
              "buyer_id": fill(units, bills.SHORT_TEXT, len),
              "credit_card_info": {"card_number": "4242424242424242", "expire_month": 12,
                                   "expire_year": 2035, "cvv": "737", "card_type": "visa",
                                   "first_name": first, "last_name": last}}
    answer = client.post("/1/rest/international/bill",
                         json=app_signed(merchant, **fields)).get_json()
    assert answer["result_code"] == 0, answer

    db.session.expire_all()
    assert db.session.get(SavedCard, answer["credit_card_id"]).holder_name == f"{first} {last}"
    event = delivered_event(receiver)
    assert json_text(event["optional"]) == json_text(fields["optional"])
    assert event["message_detail"]["title"] == fields["title"]
    assert json_text(event["message_detail"]["optional"]) == json_text(fields["optional"])
    # Seed 002 has no sandbox path: a test-mode merchant's bill is a sandbox bill.
    wire = RestApi(client, merchant, app_signed, sandbox=True).bill(answer["id"])
    assert wire["spay_result"] is True
    assert text_of(wire) == expected_text(fields)
    assert json.loads(wire["message_detail"])["title"] == fields["title"]
